#include "nets/lifting97.h"

#include <stdlib.h>
#include <string.h>

/* Lifting constants of the CDF 9/7 wavelet (Daubechies & Sweldens 1998, table 1), with the
 * sign and scale that make it equal PyWavelets' bior4.4 (train/wavelet.py). */
#define L97_A (-1.586134342059924f)
#define L97_B (-0.052980118572961f)
#define L97_G 0.882911075530934f
#define L97_D 0.443506852043971f
#define L97_K 1.149604398860241f

/* One level on a contiguous line x of 2 m samples -> lo[m], hi[m]. e, o: scratch of m each. */
void nn_lifting97_line_forward(const float *x, int m, float *lo, float *hi, float *e, float *o)
{
    for (int i = 0; i < m; i++) {
        e[i] = x[2 * i];
        o[i] = x[2 * i + 1];
    }
    for (int i = 0; i < m; i++)
        o[i] = o[i] + L97_A * (e[i] + e[i + 1 < m ? i + 1 : m - 1]);
    for (int i = 0; i < m; i++)
        e[i] = e[i] + L97_B * (o[i > 0 ? i - 1 : 0] + o[i]);
    for (int i = 0; i < m; i++)
        o[i] = o[i] + L97_G * (e[i] + e[i + 1 < m ? i + 1 : m - 1]);
    for (int i = 0; i < m; i++)
        e[i] = e[i] + L97_D * (o[i > 0 ? i - 1 : 0] + o[i]);
    for (int i = 0; i < m; i++) {
        lo[i] = L97_K * e[i];
        hi[i] = -o[i] / L97_K;
    }
}

/* The inverse: lo[m], hi[m] -> x[2 m], undoing the steps in reverse order. */
void nn_lifting97_line_inverse(const float *lo, const float *hi, int m, float *x, float *e,
                               float *o)
{
    for (int i = 0; i < m; i++) {
        e[i] = lo[i] / L97_K;
        o[i] = -hi[i] * L97_K;
    }
    for (int i = 0; i < m; i++)
        e[i] = e[i] - L97_D * (o[i > 0 ? i - 1 : 0] + o[i]);
    for (int i = 0; i < m; i++)
        o[i] = o[i] - L97_G * (e[i] + e[i + 1 < m ? i + 1 : m - 1]);
    for (int i = 0; i < m; i++)
        e[i] = e[i] - L97_B * (o[i > 0 ? i - 1 : 0] + o[i]);
    for (int i = 0; i < m; i++)
        o[i] = o[i] - L97_A * (e[i] + e[i + 1 < m ? i + 1 : m - 1]);
    for (int i = 0; i < m; i++) {
        x[2 * i] = e[i];
        x[2 * i + 1] = o[i];
    }
}

/* Scratch for one plane of h x w: a copy of the plane and line buffers. */
typedef struct plane_scratch {
    float *tmp;           /* h x w */
    float *line;          /* 2 n: a gathered line */
    float *a, *b, *e, *o; /* n/2 each, n = max(h, w) */
} plane_scratch;

static int scratch_alloc(plane_scratch *s, int h, int w)
{
    int n = h > w ? h : w;
    s->tmp = malloc(sizeof(float) * ((size_t)h * w + 2 * (size_t)n + 4 * (size_t)(n / 2 + 1)));
    if (!s->tmp) return NN_ERR_NOMEM;
    s->line = s->tmp + (size_t)h * w;
    s->a = s->line + 2 * (size_t)n;
    s->b = s->a + n / 2 + 1;
    s->e = s->b + n / 2 + 1;
    s->o = s->e + n / 2 + 1;
    return NN_OK;
}

/* One 2-D level of a plane x (h x w, both even) into bands[b] (h/2 x w/2), b = 2 v + h. */
static void dwt2_plane(const float *x, int h, int w, float *const bands[4], plane_scratch *s)
{
    int mw = w / 2, mh = h / 2;
    /* along the width: row r of tmp = [low (mw) | high (mw)] */
    for (int r = 0; r < h; r++)
        nn_lifting97_line_forward(x + (size_t)r * w, mw, s->tmp + (size_t)r * w,
                                  s->tmp + (size_t)r * w + mw, s->e, s->o);
    /* along the height of each column of the two halves */
    for (int c = 0; c < w; c++) {
        for (int r = 0; r < h; r++)
            s->line[r] = s->tmp[(size_t)r * w + c];
        nn_lifting97_line_forward(s->line, mh, s->a, s->b, s->e, s->o);
        int half = c >= mw; /* 0: low along the width, 1: high */
        int col = c - half * mw;
        for (int r = 0; r < mh; r++) {
            bands[half][(size_t)r * mw + col] = s->a[r];     /* v = 0 */
            bands[2 + half][(size_t)r * mw + col] = s->b[r]; /* v = 1 */
        }
    }
}

/* The inverse of dwt2_plane: bands (h/2 x w/2 each) -> x (h x w). */
static void idwt2_plane(const float *const bands[4], int h, int w, float *x, plane_scratch *s)
{
    int mw = w / 2, mh = h / 2;
    for (int c = 0; c < w; c++) {
        int half = c >= mw;
        int col = c - half * mw;
        for (int r = 0; r < mh; r++) {
            s->a[r] = bands[half][(size_t)r * mw + col];
            s->b[r] = bands[2 + half][(size_t)r * mw + col];
        }
        nn_lifting97_line_inverse(s->a, s->b, mh, s->line, s->e, s->o);
        for (int r = 0; r < h; r++)
            s->tmp[(size_t)r * w + c] = s->line[r];
    }
    for (int r = 0; r < h; r++)
        nn_lifting97_line_inverse(s->tmp + (size_t)r * w, s->tmp + (size_t)r * w + mw, mw,
                                  x + (size_t)r * w, s->e, s->o);
}

/* One 2-D level over a whole tensor [N, C, h, w] -> [N, 4C, h/2, w/2] (channel 4 c + b). */
static int dwt2_tensor(const nn_tensor *x, nn_tensor *y)
{
    int n = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3];
    int st = nn_tensor_alloc4(y, n, 4 * c, h / 2, w / 2);
    if (st != NN_OK) return st;
    plane_scratch s;
    if ((st = scratch_alloc(&s, h, w)) != NN_OK) {
        nn_tensor_free(y);
        return st;
    }
    size_t plane = (size_t)h * w, band = plane / 4;
    for (int i = 0; i < n * c; i++) {
        float *out = y->data + (size_t)i * 4 * band;
        float *const bands[4] = {out, out + band, out + 2 * band, out + 3 * band};
        dwt2_plane(x->data + (size_t)i * plane, h, w, bands, &s);
    }
    free(s.tmp);
    return NN_OK;
}

static int idwt2_tensor(const nn_tensor *y, nn_tensor *x)
{
    int n = y->shape[0], c = y->shape[1] / 4, h = y->shape[2] * 2, w = y->shape[3] * 2;
    int st = nn_tensor_alloc4(x, n, c, h, w);
    if (st != NN_OK) return st;
    plane_scratch s;
    if ((st = scratch_alloc(&s, h, w)) != NN_OK) {
        nn_tensor_free(x);
        return st;
    }
    size_t plane = (size_t)h * w, band = plane / 4;
    for (int i = 0; i < n * c; i++) {
        const float *in = y->data + (size_t)i * 4 * band;
        const float *const bands[4] = {in, in + band, in + 2 * band, in + 3 * band};
        idwt2_plane(bands, h, w, x->data + (size_t)i * plane, &s);
    }
    free(s.tmp);
    return NN_OK;
}

int nn_lifting97_forward(const nn_tensor *x, int levels, nn_tensor *y)
{
    if (!x || !y || x->ndim != 4 || levels < 0 || levels > 8) return NN_ERR_ARG;
    int f = 1 << levels;
    if (x->shape[2] % f || x->shape[3] % f || x->shape[2] < f || x->shape[3] < f) return NN_ERR_ARG;
    nn_tensor cur = *x;
    cur.owns = 0;
    for (int l = 0; l < levels; l++) {
        nn_tensor next = {0};
        int st = dwt2_tensor(&cur, &next);
        nn_tensor_free(&cur);
        if (st != NN_OK) return st;
        cur = next;
    }
    if (levels == 0) {
        int st = nn_tensor_alloc(y, 4, x->shape);
        if (st == NN_OK) memcpy(y->data, x->data, sizeof(float) * nn_tensor_numel(x));
        return st;
    }
    nn_tensor_free(y);
    *y = cur;
    return NN_OK;
}

int nn_lifting97_inverse(const nn_tensor *y, int levels, nn_tensor *x)
{
    if (!x || !y || y->ndim != 4 || levels < 0 || levels > 8) return NN_ERR_ARG;
    int f = 1 << (2 * levels);
    if (y->shape[1] % f) return NN_ERR_ARG;
    nn_tensor cur = *y;
    cur.owns = 0;
    for (int l = 0; l < levels; l++) {
        nn_tensor next = {0};
        int st = idwt2_tensor(&cur, &next);
        nn_tensor_free(&cur);
        if (st != NN_OK) return st;
        cur = next;
    }
    if (levels == 0) {
        int st = nn_tensor_alloc(x, 4, y->shape);
        if (st == NN_OK) memcpy(x->data, y->data, sizeof(float) * nn_tensor_numel(y));
        return st;
    }
    nn_tensor_free(x);
    *x = cur;
    return NN_OK;
}
