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

/* Scratch for one plane of h x w: the plane after the pass along the width, and the line
 * buffers of that pass. */
typedef struct plane_scratch {
    float *tmp;   /* h x w */
    float *e, *o; /* w/2 + 1 each */
} plane_scratch;

static int scratch_alloc(plane_scratch *s, int h, int w)
{
    s->tmp = malloc(sizeof(float) * ((size_t)h * w + 2 * (size_t)(w / 2 + 1)));
    if (!s->tmp) return NN_ERR_NOMEM;
    s->e = s->tmp + (size_t)h * w;
    s->o = s->e + w / 2 + 1;
    return NN_OK;
}

/* One lifting step along the height, on whole rows: dst[c] = dst[c] + k (a[c] + b[c]). Every
 * element gets the operations nn_lifting97_line_forward/inverse give it on a gathered column
 * (with k negated for the inverse's subtractions, written as such below), so the column pass
 * gives the same bits as the line functions, while reading rows in order and vectorising. */
static void vstep(float *restrict dst, const float *a, const float *b, float k, int w)
{
    for (int c = 0; c < w; c++)
        dst[c] = dst[c] + k * (a[c] + b[c]);
}

static void vstep_sub(float *restrict dst, const float *a, const float *b, float k, int w)
{
    for (int c = 0; c < w; c++)
        dst[c] = dst[c] - k * (a[c] + b[c]);
}

/* Row r of the even (E) and odd (O) rows of t (h x w): rows 2 r and 2 r + 1, with the
 * symmetric extension of the line functions (E[mh] := E[mh-1], O[-1] := O[0]). */
#define ROW_E(t, r, mh, w) ((t) + (size_t)(2 * ((r) < (mh) ? (r) : (mh)-1)) * (w))
#define ROW_O(t, r, w) ((t) + (size_t)(2 * ((r) > 0 ? (r) : 0) + 1) * (w))

/* One lifting step of the column pass over all rows of t: the odd rows from their even
 * neighbours (o[n] +-= k (e[n] + e[n+1])), or the even rows from their odd neighbours
 * (e[n] +-= k (o[n-1] + o[n])); sub: subtract (the inverse). */
static void lift_odd(float *t, int mh, int w, float k, int sub)
{
    for (int r = 0; r < mh; r++)
        (sub ? vstep_sub : vstep)(ROW_O(t, r, w), ROW_E(t, r, mh, w), ROW_E(t, r + 1, mh, w), k, w);
}

static void lift_even(float *t, int mh, int w, float k, int sub)
{
    for (int r = 0; r < mh; r++)
        (sub ? vstep_sub : vstep)(ROW_E(t, r, mh, w), ROW_O(t, r - 1, w), ROW_O(t, r, w), k, w);
}

/* One 2-D level of a plane x (h x w, both even) into bands[b] (h/2 x w/2), b = 2 v + h. */
static void dwt2_plane(const float *x, int h, int w, float *const bands[4], plane_scratch *s)
{
    int mw = w / 2, mh = h / 2;
    float *t = s->tmp;
    /* along the width: row r of tmp = [low (mw) | high (mw)] */
    for (int r = 0; r < h; r++)
        nn_lifting97_line_forward(x + (size_t)r * w, mw, t + (size_t)r * w, t + (size_t)r * w + mw,
                                  s->e, s->o);
    /* along the height, in place on the rows of tmp (even rows e, odd rows o) */
    lift_odd(t, mh, w, L97_A, 0);
    lift_even(t, mh, w, L97_B, 0);
    lift_odd(t, mh, w, L97_G, 0);
    lift_even(t, mh, w, L97_D, 0);
    for (int r = 0; r < mh; r++) {
        const float *e = ROW_E(t, r, mh, w), *o = ROW_O(t, r, w);
        for (int half = 0; half < 2; half++) { /* 0: low along the width, 1: high */
            float *lo = bands[half] + (size_t)r * mw, *hi = bands[2 + half] + (size_t)r * mw;
            for (int c = 0; c < mw; c++) {
                lo[c] = L97_K * e[half * mw + c];  /* v = 0 */
                hi[c] = -o[half * mw + c] / L97_K; /* v = 1 */
            }
        }
    }
}

/* The inverse of dwt2_plane: bands (h/2 x w/2 each) -> x (h x w). */
static void idwt2_plane(const float *const bands[4], int h, int w, float *x, plane_scratch *s)
{
    int mw = w / 2, mh = h / 2;
    float *t = s->tmp;
    for (int r = 0; r < mh; r++) {
        float *e = ROW_E(t, r, mh, w), *o = ROW_O(t, r, w);
        for (int half = 0; half < 2; half++) {
            const float *lo = bands[half] + (size_t)r * mw, *hi = bands[2 + half] + (size_t)r * mw;
            for (int c = 0; c < mw; c++) {
                e[half * mw + c] = lo[c] / L97_K;
                o[half * mw + c] = -hi[c] * L97_K;
            }
        }
    }
    lift_even(t, mh, w, L97_D, 1);
    lift_odd(t, mh, w, L97_G, 1);
    lift_even(t, mh, w, L97_B, 1);
    lift_odd(t, mh, w, L97_A, 1);
    for (int r = 0; r < h; r++)
        nn_lifting97_line_inverse(t + (size_t)r * w, t + (size_t)r * w + mw, mw, x + (size_t)r * w,
                                  s->e, s->o);
}

/* One 2-D level over a whole tensor, its planes spread over a pool's threads: forward
 * [N, C, h, w] -> [N, 4C, h/2, w/2] (channel 4 c + b), or the inverse. Each task owns one
 * plane's scratch and takes every ntasks-th plane; a plane's arithmetic does not depend on the
 * thread, so the bits do not either. */
typedef struct dwt_job {
    const nn_tensor *in;
    nn_tensor *out;
    int inverse, h, w, planes, ntasks; /* h, w: the full-resolution plane */
    plane_scratch *scratch;            /* one per task */
} dwt_job;

static void dwt_task(void *arg, int task)
{
    dwt_job *j = arg;
    size_t plane = (size_t)j->h * j->w, band = plane / 4;
    for (int i = task; i < j->planes; i += j->ntasks) {
        if (j->inverse) {
            const float *in = j->in->data + (size_t)i * 4 * band;
            const float *const bands[4] = {in, in + band, in + 2 * band, in + 3 * band};
            idwt2_plane(bands, j->h, j->w, j->out->data + (size_t)i * plane, &j->scratch[task]);
        } else {
            float *out = j->out->data + (size_t)i * 4 * band;
            float *const bands[4] = {out, out + band, out + 2 * band, out + 3 * band};
            dwt2_plane(j->in->data + (size_t)i * plane, j->h, j->w, bands, &j->scratch[task]);
        }
    }
}

static int dwt_level(const nn_tensor *in, nn_tensor *out, int inverse, nn_pool *pool)
{
    int n = in->shape[0];
    int c = inverse ? in->shape[1] / 4 : in->shape[1];
    int h = inverse ? in->shape[2] * 2 : in->shape[2],
        w = inverse ? in->shape[3] * 2 : in->shape[3];
    int st =
        inverse ? nn_tensor_alloc4(out, n, c, h, w) : nn_tensor_alloc4(out, n, 4 * c, h / 2, w / 2);
    if (st != NN_OK) return st;
    int ntasks = pool ? nn_pool_threads(pool) : 1;
    ntasks = ntasks < n * c ? ntasks : n * c;
    plane_scratch *s = calloc((size_t)ntasks, sizeof *s);
    for (int t = 0; s && t < ntasks && st == NN_OK; t++)
        st = scratch_alloc(&s[t], h, w);
    if (!s || st != NN_OK) {
        for (int t = 0; s && t < ntasks; t++)
            free(s[t].tmp);
        free(s);
        nn_tensor_free(out);
        return NN_ERR_NOMEM;
    }
    dwt_job j = {in, out, inverse, h, w, n * c, ntasks, s};
    nn_pool_run(pool, dwt_task, &j, ntasks);
    for (int t = 0; t < ntasks; t++)
        free(s[t].tmp);
    free(s);
    return NN_OK;
}

static int forward_ok(const nn_tensor *x, int levels, const nn_tensor *y)
{
    if (!x || !y || !x->data || x->ndim != 4 || levels < 0 || levels > 8) return 0;
    int f = 1 << levels;
    return !(x->shape[2] % f || x->shape[3] % f || x->shape[2] < f || x->shape[3] < f);
}

static int inverse_ok(const nn_tensor *y, int levels, const nn_tensor *x)
{
    if (!x || !y || !y->data || y->ndim != 4 || levels < 0 || levels > 8) return 0;
    return y->shape[1] % (1 << (2 * levels)) == 0;
}

int nn_lifting97(nn_context *ctx, const nn_tensor *in, int levels, int inverse, nn_tensor *out)
{
    if (!(inverse ? inverse_ok(in, levels, out) : forward_ok(in, levels, out))) return NN_ERR_ARG;
    if (ctx->ops->lifting97) return ctx->ops->lifting97(ctx, in, levels, inverse, out);
    return inverse ? nn_lifting97_inverse(in, levels, out, ctx->pool)
                   : nn_lifting97_forward(in, levels, out, ctx->pool);
}

int nn_lifting97_forward(const nn_tensor *x, int levels, nn_tensor *y, nn_pool *pool)
{
    if (!forward_ok(x, levels, y)) return NN_ERR_ARG;
    nn_tensor cur = *x;
    cur.owns = 0;
    for (int l = 0; l < levels; l++) {
        nn_tensor next = {0};
        int st = dwt_level(&cur, &next, 0, pool);
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

int nn_lifting97_inverse(const nn_tensor *y, int levels, nn_tensor *x, nn_pool *pool)
{
    if (!inverse_ok(y, levels, x)) return NN_ERR_ARG;
    nn_tensor cur = *y;
    cur.owns = 0;
    for (int l = 0; l < levels; l++) {
        nn_tensor next = {0};
        int st = dwt_level(&cur, &next, 1, pool);
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
