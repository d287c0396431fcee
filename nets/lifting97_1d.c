#include "nets/lifting97_1d.h"

#include "nets/lifting97.h" /* the 1-D lifting steps, shared with the 2-D packet */

#include <stdlib.h>
#include <string.h>

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
        nn_lifting97_line_forward(x->data + i * len, m, out, out + m, scratch, scratch + m);
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
        nn_lifting97_line_inverse(in, in + m, m, x->data + i * 2 * m, scratch, scratch + m);
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

static int forward_ok(const nn_tensor *x, int levels, const nn_tensor *y)
{
    if (!x || !y || !x->data || x->ndim != 3 || levels < 0 || levels > 16) return 0;
    long f = 1L << levels;
    return !(x->shape[2] % f || x->shape[2] < f || x->shape[1] > (1 << 20) / f);
}

static int inverse_ok(const nn_tensor *y, int levels, const nn_tensor *x)
{
    if (!x || !y || !y->data || y->ndim != 3 || levels < 0 || levels > 16) return 0;
    long f = 1L << levels;
    return !(y->shape[1] % f || y->shape[1] < f || y->shape[2] < 1);
}

int nn_lifting97_1d_forward(const nn_tensor *x, int levels, nn_tensor *y)
{
    return forward_ok(x, levels, y) ? run_levels(x, levels, dwt_tensor, y) : NN_ERR_ARG;
}

int nn_lifting97_1d_inverse(const nn_tensor *y, int levels, nn_tensor *x)
{
    return inverse_ok(y, levels, x) ? run_levels(y, levels, idwt_tensor, x) : NN_ERR_ARG;
}

int nn_lifting97_1d(nn_context *ctx, const nn_tensor *in, int levels, int inverse, nn_tensor *out)
{
    if (!(inverse ? inverse_ok(in, levels, out) : forward_ok(in, levels, out))) return NN_ERR_ARG;
    if (ctx->ops->lifting97_1d) return ctx->ops->lifting97_1d(ctx, in, levels, inverse, out);
    return inverse ? nn_lifting97_1d_inverse(in, levels, out)
                   : nn_lifting97_1d_forward(in, levels, out);
}
