/* bior4.4 wavelet packet transforms (see wavelet.h for the convention). */
#include "nets/wavelet.h"

#include "nets/tensor.h"

#include <stdlib.h>
#include <string.h>

/* PyWavelets' 'bior4.4' filter bank (Cohen-Daubechies-Feauveau 9/7, 10 taps with pywt's zero
 * padding), printed from pywt.Wavelet('bior4.4').filter_bank with repr(). */
enum { TAPS = 10 };
static const float dec_lo[TAPS] = {0.0f,
                                   0.03782845550726404f,
                                   -0.023849465019556843f,
                                   -0.11062440441843718f,
                                   0.37740285561283066f,
                                   0.8526986790088938f,
                                   0.37740285561283066f,
                                   -0.11062440441843718f,
                                   -0.023849465019556843f,
                                   0.03782845550726404f};
static const float dec_hi[TAPS] = {0.0f,
                                   -0.06453888262869706f,
                                   0.04068941760916406f,
                                   0.41809227322161724f,
                                   -0.7884856164055829f,
                                   0.41809227322161724f,
                                   0.04068941760916406f,
                                   -0.06453888262869706f,
                                   0.0f,
                                   0.0f};
static const float rec_lo[TAPS] = {0.0f,
                                   -0.06453888262869706f,
                                   -0.04068941760916406f,
                                   0.41809227322161724f,
                                   0.7884856164055829f,
                                   0.41809227322161724f,
                                   -0.04068941760916406f,
                                   -0.06453888262869706f,
                                   0.0f,
                                   0.0f};
static const float rec_hi[TAPS] = {0.0f,
                                   -0.03782845550726404f,
                                   -0.023849465019556843f,
                                   0.11062440441843718f,
                                   0.37740285561283066f,
                                   -0.8526986790088938f,
                                   0.37740285561283066f,
                                   0.11062440441843718f,
                                   -0.023849465019556843f,
                                   -0.03782845550726404f};

int nn_dwt_length(int n)
{
    return (n + TAPS - 1) / 2;
}

/* Half-sample symmetric extension index (period 2n). */
static int sym_index(long i, int n)
{
    long p = 2L * n;
    i %= p;
    if (i < 0) i += p;
    return (int)(i < n ? i : p - 1 - i);
}

/* One level on a contiguous line: x[n] -> lo[m], hi[m], m = nn_dwt_length(n). */
static void dwt_line(const float *x, int n, float *lo, float *hi)
{
    int m = nn_dwt_length(n);
    for (int o = 0; o < m; o++) {
        float sl = 0.0f, sh = 0.0f;
        long c = 2L * o + 1;
        if (c - (TAPS - 1) >= 0 && c < n) {
            for (int j = 0; j < TAPS; j++) {
                sl += dec_lo[j] * x[c - j];
                sh += dec_hi[j] * x[c - j];
            }
        } else {
            for (int j = 0; j < TAPS; j++) {
                float v = x[sym_index(c - j, n)];
                sl += dec_lo[j] * v;
                sh += dec_hi[j] * v;
            }
        }
        lo[o] = sl;
        hi[o] = sh;
    }
}

/* Inverse on contiguous lines a[m], d[m] -> out[n] (n <= 2m - 8, the cropped length). */
static void idwt_line(const float *a, const float *d, int m, float *out, int n)
{
    for (int k = 0; k < n; k++) {
        float s = 0.0f;
        for (int j = 0; j < TAPS; j++) {
            int t = k + TAPS - 2 - j;
            if ((t & 1) == 0 && t / 2 < m && t >= 0) {
                s += rec_lo[j] * a[t / 2];
                s += rec_hi[j] * d[t / 2];
            }
        }
        out[k] = s;
    }
}

/* One 2-D level on a plane [h][w] -> four planes [hm][wm] (a, h, v, d). */
static int dwt2_plane(const float *x, int h, int w, float *out[4], float *tmp)
{
    int hm = nn_dwt_length(h), wm = nn_dwt_length(w);
    /* Rows: tmp holds L | H of each row, [h][2 wm]. */
    for (int r = 0; r < h; r++)
        dwt_line(x + (size_t)r * w, w, tmp + (size_t)r * 2 * wm, tmp + (size_t)r * 2 * wm + wm);
    float *col = malloc((size_t)(h + 2 * hm) * sizeof *col);
    if (!col) return NN_ERR_NOMEM;
    float *lo = col + h, *hi = lo + hm;
    for (int half = 0; half < 2; half++) { /* 0: low along W, 1: high along W */
        for (int c = 0; c < wm; c++) {
            for (int r = 0; r < h; r++)
                col[r] = tmp[(size_t)r * 2 * wm + (size_t)half * wm + c];
            dwt_line(col, h, lo, hi);
            /* a = (lo H, lo W), h = (hi H, lo W), v = (lo H, hi W), d = (hi H, hi W) */
            float *dl = out[half ? 2 : 0], *dh = out[half ? 3 : 1];
            for (int r = 0; r < hm; r++) {
                dl[(size_t)r * wm + c] = lo[r];
                dh[(size_t)r * wm + c] = hi[r];
            }
        }
    }
    free(col);
    return NN_OK;
}

static int idwt2_plane(float *const in[4], int hm, int wm, int h, int w, float *x, float *tmp)
{
    float *col = malloc((size_t)(2 * hm + h) * sizeof *col);
    if (!col) return NN_ERR_NOMEM;
    float *a = col, *d = col + hm, *o = d + hm;
    /* Columns first (the reverse of the forward order): tmp [h][2 wm]. */
    for (int half = 0; half < 2; half++) {
        const float *sl = in[half ? 2 : 0], *sh = in[half ? 3 : 1];
        for (int c = 0; c < wm; c++) {
            for (int r = 0; r < hm; r++) {
                a[r] = sl[(size_t)r * wm + c];
                d[r] = sh[(size_t)r * wm + c];
            }
            idwt_line(a, d, hm, o, h);
            for (int r = 0; r < h; r++)
                tmp[(size_t)r * 2 * wm + (size_t)half * wm + c] = o[r];
        }
    }
    for (int r = 0; r < h; r++)
        idwt_line(tmp + (size_t)r * 2 * wm, tmp + (size_t)r * 2 * wm + wm, wm, x + (size_t)r * w,
                  w);
    free(col);
    return NN_OK;
}

static int check_levels(const nn_tensor *x, int ndim, int levels, int per_level)
{
    if (!x || !x->data || x->ndim != ndim || levels < 0 || levels > 12) return 0;
    long mult = 1;
    for (int i = 0; i < levels; i++)
        mult *= per_level;
    return (long)x->shape[1] * mult <= (1L << 30);
}

int nn_wpt2d_forward(const nn_tensor *x, int levels, nn_tensor *y)
{
    if (!check_levels(x, 4, levels, 4) || y == x) return NN_ERR_ARG;
    int h = x->shape[2], w = x->shape[3];
    size_t planes = (size_t)x->shape[0] * x->shape[1];
    nn_tensor cur = {0};
    int rc = nn_tensor_alloc(&cur, 4, x->shape);
    if (rc) return rc;
    memcpy(cur.data, x->data, nn_tensor_numel(x) * sizeof(float));
    for (int l = 0; l < levels; l++) {
        int hm = nn_dwt_length(h), wm = nn_dwt_length(w);
        int shape[4] = {cur.shape[0], cur.shape[1] * 4, hm, wm};
        nn_tensor next = {0};
        float *tmp = malloc((size_t)h * 2 * wm * sizeof *tmp);
        if (!tmp || (rc = nn_tensor_alloc(&next, 4, shape))) {
            free(tmp);
            nn_tensor_free(&cur);
            return rc ? rc : NN_ERR_NOMEM;
        }
        size_t in_sz = (size_t)h * w, out_sz = (size_t)hm * wm;
        for (size_t p = 0; p < planes && !rc; p++) {
            float *out[4];
            for (int s = 0; s < 4; s++)
                out[s] = next.data + (4 * p + (size_t)s) * out_sz;
            rc = dwt2_plane(cur.data + p * in_sz, h, w, out, tmp);
        }
        free(tmp);
        nn_tensor_free(&cur);
        if (rc) {
            nn_tensor_free(&next);
            return rc;
        }
        cur = next;
        planes *= 4;
        h = hm;
        w = wm;
    }
    nn_tensor_free(y);
    *y = cur;
    return NN_OK;
}

int nn_wpt2d_inverse(const nn_tensor *y, int levels, int h, int w, nn_tensor *x)
{
    if (!check_levels(y, 4, levels, 4) || x == y || h < 1 || w < 1) return NN_ERR_ARG;
    int hs[13], ws[13];
    hs[0] = h;
    ws[0] = w;
    for (int l = 0; l < levels; l++) {
        hs[l + 1] = nn_dwt_length(hs[l]);
        ws[l + 1] = nn_dwt_length(ws[l]);
    }
    int div = 1;
    for (int l = 0; l < levels; l++)
        div *= 4;
    if (y->shape[2] != hs[levels] || y->shape[3] != ws[levels] || y->shape[1] % div)
        return NN_ERR_ARG;
    nn_tensor cur = {0};
    int rc = nn_tensor_alloc(&cur, 4, y->shape);
    if (rc) return rc;
    memcpy(cur.data, y->data, nn_tensor_numel(y) * sizeof(float));
    for (int l = levels; l > 0; l--) {
        int hm = hs[l], wm = ws[l], ho = hs[l - 1], wo = ws[l - 1];
        int shape[4] = {cur.shape[0], cur.shape[1] / 4, ho, wo};
        nn_tensor next = {0};
        float *tmp = malloc((size_t)ho * 2 * wm * sizeof *tmp);
        if (!tmp || (rc = nn_tensor_alloc(&next, 4, shape))) {
            free(tmp);
            nn_tensor_free(&cur);
            return rc ? rc : NN_ERR_NOMEM;
        }
        size_t planes = (size_t)shape[0] * shape[1], in_sz = (size_t)hm * wm,
               out_sz = (size_t)ho * wo;
        for (size_t p = 0; p < planes && !rc; p++) {
            float *in[4];
            for (int s = 0; s < 4; s++)
                in[s] = cur.data + (4 * p + (size_t)s) * in_sz;
            rc = idwt2_plane(in, hm, wm, ho, wo, next.data + p * out_sz, tmp);
        }
        free(tmp);
        nn_tensor_free(&cur);
        if (rc) {
            nn_tensor_free(&next);
            return rc;
        }
        cur = next;
    }
    nn_tensor_free(x);
    *x = cur;
    return NN_OK;
}

int nn_wpt1d_forward(const nn_tensor *x, int levels, nn_tensor *y)
{
    if (!check_levels(x, 3, levels, 2) || y == x) return NN_ERR_ARG;
    int n = x->shape[2];
    nn_tensor cur = {0};
    int rc = nn_tensor_alloc(&cur, 3, x->shape);
    if (rc) return rc;
    memcpy(cur.data, x->data, nn_tensor_numel(x) * sizeof(float));
    for (int l = 0; l < levels; l++) {
        int m = nn_dwt_length(n);
        nn_tensor next = {0};
        if ((rc = nn_tensor_alloc3(&next, cur.shape[0], cur.shape[1] * 2, m))) {
            nn_tensor_free(&cur);
            return rc;
        }
        size_t lines = (size_t)cur.shape[0] * cur.shape[1];
        for (size_t p = 0; p < lines; p++)
            dwt_line(cur.data + p * n, n, next.data + 2 * p * m, next.data + (2 * p + 1) * m);
        nn_tensor_free(&cur);
        cur = next;
        n = m;
    }
    nn_tensor_free(y);
    *y = cur;
    return NN_OK;
}

int nn_wpt1d_inverse(const nn_tensor *y, int levels, int l, nn_tensor *x)
{
    if (!check_levels(y, 3, levels, 2) || x == y || l < 1) return NN_ERR_ARG;
    int ls[13];
    ls[0] = l;
    for (int i = 0; i < levels; i++)
        ls[i + 1] = nn_dwt_length(ls[i]);
    if (y->shape[2] != ls[levels] || y->shape[1] % (1 << levels)) return NN_ERR_ARG;
    nn_tensor cur = {0};
    int rc = nn_tensor_alloc(&cur, 3, y->shape);
    if (rc) return rc;
    memcpy(cur.data, y->data, nn_tensor_numel(y) * sizeof(float));
    for (int i = levels; i > 0; i--) {
        int m = ls[i], n = ls[i - 1];
        nn_tensor next = {0};
        if ((rc = nn_tensor_alloc3(&next, cur.shape[0], cur.shape[1] / 2, n))) {
            nn_tensor_free(&cur);
            return rc;
        }
        size_t lines = (size_t)next.shape[0] * next.shape[1];
        for (size_t p = 0; p < lines; p++)
            idwt_line(cur.data + 2 * p * m, cur.data + (2 * p + 1) * m, m, next.data + p * n, n);
        nn_tensor_free(&cur);
        cur = next;
    }
    nn_tensor_free(x);
    *x = cur;
    return NN_OK;
}
