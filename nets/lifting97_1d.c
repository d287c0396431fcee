#include "nets/lifting97_1d.h"

#include <stdlib.h>
#include <string.h>

/* Lifting constants of the CDF 9/7 wavelet (Daubechies & Sweldens 1998, table 1), with the
 * sign and scale of PyWavelets' bior4.4 (train/wavelet.py); the same as nets/lifting97.c. Each
 * step is evaluated as x + C * (a + b) in float, the order of the PyTorch twin. */
#define L97_A (-1.586134342059924f)
#define L97_B (-0.052980118572961f)
#define L97_G 0.882911075530934f
#define L97_D 0.443506852043971f
#define L97_K 1.149604398860241f

/* One level on x[2 m] -> lo[m], hi[m]; e, o: scratch of m each. */
static void dwt_line(const float *x, int m, float *lo, float *hi, float *e, float *o)
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

/* The inverse: lo[m], hi[m] -> x[2 m], the steps undone in reverse order. */
static void idwt_line(const float *lo, const float *hi, int m, float *x, float *e, float *o)
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

/* One level over [N, C, L] -> [N, 2C, L/2] (channel 2 c + b). */
static int dwt_tensor(const nn_tensor *x, nn_tensor *y)
{
    int n = x->shape[0], c = x->shape[1], len = x->shape[2], m = len / 2;
    int st = nn_tensor_alloc3(y, n, 2 * c, m);
    if (st != NN_OK) return st;
    float *scratch = malloc(sizeof(float) * 2 * (size_t)m);
    if (!scratch) {
        nn_tensor_free(y);
        return NN_ERR_NOMEM;
    }
    for (size_t i = 0; i < (size_t)n * c; i++) {
        float *out = y->data + i * 2 * m;
        dwt_line(x->data + i * len, m, out, out + m, scratch, scratch + m);
    }
    free(scratch);
    return NN_OK;
}

static int idwt_tensor(const nn_tensor *y, nn_tensor *x)
{
    int n = y->shape[0], c = y->shape[1] / 2, m = y->shape[2];
    int st = nn_tensor_alloc3(x, n, c, 2 * m);
    if (st != NN_OK) return st;
    float *scratch = malloc(sizeof(float) * 2 * (size_t)m);
    if (!scratch) {
        nn_tensor_free(x);
        return NN_ERR_NOMEM;
    }
    for (size_t i = 0; i < (size_t)n * c; i++) {
        const float *in = y->data + i * 2 * m;
        idwt_line(in, in + m, m, x->data + i * 2 * m, scratch, scratch + m);
    }
    free(scratch);
    return NN_OK;
}

/* Runs `levels` steps of step() from src into dst (a copy for levels == 0). */
static int run_levels(const nn_tensor *src, int levels, int (*step)(const nn_tensor *, nn_tensor *),
                      nn_tensor *dst)
{
    if (levels == 0) {
        int st = nn_tensor_alloc(dst, 3, src->shape);
        if (st == NN_OK) memcpy(dst->data, src->data, sizeof(float) * nn_tensor_numel(src));
        return st;
    }
    nn_tensor cur = *src;
    cur.owns = 0;
    for (int l = 0; l < levels; l++) {
        nn_tensor next = {0};
        int st = step(&cur, &next);
        nn_tensor_free(&cur);
        if (st != NN_OK) return st;
        cur = next;
    }
    nn_tensor_free(dst);
    *dst = cur;
    return NN_OK;
}

int nn_lifting97_1d_forward(const nn_tensor *x, int levels, nn_tensor *y)
{
    if (!x || !y || !x->data || x->ndim != 3 || levels < 0 || levels > 16) return NN_ERR_ARG;
    long f = 1L << levels;
    if (x->shape[2] % f || x->shape[2] < f || x->shape[1] > (1 << 20) / f) return NN_ERR_ARG;
    return run_levels(x, levels, dwt_tensor, y);
}

int nn_lifting97_1d_inverse(const nn_tensor *y, int levels, nn_tensor *x)
{
    if (!x || !y || !y->data || y->ndim != 3 || levels < 0 || levels > 16) return NN_ERR_ARG;
    long f = 1L << levels;
    if (y->shape[1] % f || y->shape[1] < f || y->shape[2] < 1) return NN_ERR_ARG;
    return run_levels(y, levels, idwt_tensor, x);
}
