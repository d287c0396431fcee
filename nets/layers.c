/* Checked layer entry points (see layers.h). */
#include "nets/layers.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

nn_conv_params nn_conv_default(void)
{
    nn_conv_params p = {1, 1, 0, 0, 1, 1, 1, 0, 0};
    return p;
}

nn_conv1d_params nn_conv1d_default(void)
{
    nn_conv1d_params p = {1, 0, 1, 1, 0};
    return p;
}

/* Sizes a layer's output: a caller's view must have the shape already; an owned tensor is
 * reused when its element count fits, otherwise reallocated, from the backend's allocator
 * where it has one (the cuda backend: memory its kernels write directly). */
static int prepare_out(nn_context *ctx, nn_tensor *y, int ndim, const int *shape)
{
    if (y->data && !y->owns) {
        nn_tensor want = nn_tensor_view(y->data, ndim, shape);
        return nn_tensor_same_shape(y, &want) ? NN_OK : NN_ERR_ARG;
    }
    if (!ctx->ops->alloc) return nn_tensor_reshape_alloc(y, ndim, shape);
    nn_tensor want = nn_tensor_view(NULL, ndim, shape);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) return NN_ERR_ARG;
        if ((size_t)shape[i] > (SIZE_MAX / sizeof(float)) / n) return NN_ERR_NOMEM;
        n *= (size_t)shape[i];
    }
    if (!(y->data && y->owns && nn_tensor_numel(y) == n)) {
        nn_tensor_free(y);
        float *d = ctx->ops->alloc(ctx, n * sizeof(float));
        if (!d) return NN_ERR_NOMEM;
        y->data = d;
        y->owns = 1;
        y->release = ctx->ops->release;
    }
    y->ndim = want.ndim;
    memcpy(y->shape, want.shape, sizeof y->shape);
    return NN_OK;
}

static int valid(const nn_tensor *t, int ndim)
{
    if (!t || !t->data || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] < 1) return 0;
    return 1;
}

static int conv_params_ok(const nn_conv_params *p)
{
    return p->stride_h >= 1 && p->stride_w >= 1 && p->pad_h >= 0 && p->pad_w >= 0 &&
           p->dilation_h >= 1 && p->dilation_w >= 1 && p->groups >= 1 && p->out_pad_h >= 0 &&
           p->out_pad_w >= 0 && p->stride_h <= 4096 && p->stride_w <= 4096 && p->pad_h <= 65536 &&
           p->pad_w <= 65536 && p->dilation_h <= 4096 && p->dilation_w <= 4096;
}

int nn_conv2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
              const nn_conv_params *p, nn_tensor *y)
{
    if (!valid(x, 4) || !valid(w, 4) || !conv_params_ok(p) || y == x) return NN_ERR_ARG;
    int c = x->shape[1], o = w->shape[0], g = p->groups;
    if (c % g || o % g || w->shape[1] != c / g) return NN_ERR_ARG;
    long eh = (long)p->dilation_h * (w->shape[2] - 1) + 1,
         ew = (long)p->dilation_w * (w->shape[3] - 1) + 1;
    long ih = (long)x->shape[2] + 2L * p->pad_h, iw = (long)x->shape[3] + 2L * p->pad_w;
    if (ih < eh || iw < ew) return NN_ERR_ARG;
    long oh = (ih - eh) / p->stride_h + 1, ow = (iw - ew) / p->stride_w + 1;
    if (oh > INT_MAX || ow > INT_MAX) return NN_ERR_ARG;
    int shape[4] = {x->shape[0], o, (int)oh, (int)ow};
    int rc = prepare_out(ctx, y, 4, shape);
    return rc ? rc : ctx->ops->conv2d(ctx, x, w, b, p, y);
}

int nn_conv_transpose2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                        const nn_conv_params *p, nn_tensor *y)
{
    if (!valid(x, 4) || !valid(w, 4) || !conv_params_ok(p) || y == x) return NN_ERR_ARG;
    int c = x->shape[1], g = p->groups, o = w->shape[1] * g;
    if (c % g || w->shape[0] != c) return NN_ERR_ARG;
    /* PyTorch's rule: output padding must be smaller than stride or dilation. */
    if ((p->out_pad_h >= p->stride_h && p->out_pad_h >= p->dilation_h) ||
        (p->out_pad_w >= p->stride_w && p->out_pad_w >= p->dilation_w))
        return NN_ERR_ARG;
    long oh = ((long)x->shape[2] - 1) * p->stride_h - 2L * p->pad_h +
              (long)p->dilation_h * (w->shape[2] - 1) + p->out_pad_h + 1;
    long ow = ((long)x->shape[3] - 1) * p->stride_w - 2L * p->pad_w +
              (long)p->dilation_w * (w->shape[3] - 1) + p->out_pad_w + 1;
    if (oh < 1 || ow < 1 || oh > INT_MAX || ow > INT_MAX) return NN_ERR_ARG;
    int shape[4] = {x->shape[0], o, (int)oh, (int)ow};
    int rc = prepare_out(ctx, y, 4, shape);
    return rc ? rc : ctx->ops->conv_transpose2d(ctx, x, w, b, p, y);
}

/* 1-D convs are 2-D convs of height 1: views, no copies. */
static nn_conv_params to_2d(const nn_conv1d_params *p)
{
    nn_conv_params q = {1, p->stride, 0, p->pad, 1, p->dilation, p->groups, 0, p->out_pad};
    return q;
}

static int conv1d_common(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                         const nn_conv1d_params *p, nn_tensor *y, int transposed)
{
    if (!valid(x, 3) || !valid(w, 3) || y == x) return NN_ERR_ARG;
    int xs[4] = {x->shape[0], x->shape[1], 1, x->shape[2]};
    int ws[4] = {w->shape[0], w->shape[1], 1, w->shape[2]};
    nn_tensor x4 = nn_tensor_view(x->data, 4, xs), w4 = nn_tensor_view(w->data, 4, ws);
    nn_conv_params q = to_2d(p);
    /* y moves into a 4-D tensor: an owned buffer is reused when its size fits, a view keeps
     * its memory and must match [N, O, 1, L']. */
    nn_tensor y4 = *y;
    if (y4.data && !y4.owns) {
        if (y->ndim != 3) return NN_ERR_ARG;
        int ys[4] = {y->shape[0], y->shape[1], 1, y->shape[2]};
        y4 = nn_tensor_view(y->data, 4, ys);
    }
    int rc = transposed ? nn_conv_transpose2d(ctx, &x4, &w4, b, &q, &y4)
                        : nn_conv2d(ctx, &x4, &w4, b, &q, &y4);
    if (rc) {
        if (y4.owns) *y = y4; /* still a valid owned tensor; its contents are unspecified */
        return rc;
    }
    int l = y4.shape[3];
    *y = y4;
    y->ndim = 3;
    y->shape[2] = l;
    y->shape[3] = 0;
    return NN_OK;
}

int nn_conv1d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
              const nn_conv1d_params *p, nn_tensor *y)
{
    return conv1d_common(ctx, x, w, b, p, y, 0);
}

int nn_conv_transpose1d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                        const nn_conv1d_params *p, nn_tensor *y)
{
    return conv1d_common(ctx, x, w, b, p, y, 1);
}

int nn_matmul(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
              const float *bias, float *c)
{
    if (!p || !a || !b || !c || p->batch < 1 || p->m < 1 || p->n < 1 || p->k < 1) return NN_ERR_ARG;
    return ctx->ops->matmul(ctx, p, a, b, bias, c);
}

int nn_linear(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b, nn_tensor *y)
{
    if (!valid(x, 2) || !valid(w, 2) || w->shape[1] != x->shape[1] || y == x) return NN_ERR_ARG;
    int shape[2] = {x->shape[0], w->shape[0]};
    int rc = prepare_out(ctx, y, 2, shape);
    if (rc) return rc;
    nn_matmul_params p = {1, x->shape[0], w->shape[0], x->shape[1], 1, 1};
    return ctx->ops->matmul(ctx, &p, x->data, w->data, b, y->data);
}

int nn_activation(nn_context *ctx, nn_act act, float slope, nn_tensor *x)
{
    if (!x || !x->data || act < NN_ACT_RELU || act > NN_ACT_SILU) return NN_ERR_ARG;
    return ctx->ops->activation(ctx, act, slope, x->data, nn_tensor_numel(x));
}

static int channels_ok(const nn_tensor *x)
{
    return x && x->data && x->ndim >= 2 && x->ndim <= 4;
}

int nn_snake(nn_context *ctx, nn_tensor *x, const float *alpha)
{
    if (!channels_ok(x) || !alpha) return NN_ERR_ARG;
    return ctx->ops->snake(ctx, x, alpha);
}

int nn_gdn(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta, int inverse,
           nn_tensor *y)
{
    if (!channels_ok(x) || !gamma || !beta || y == x) return NN_ERR_ARG;
    int rc = prepare_out(ctx, y, x->ndim, x->shape);
    return rc ? rc : ctx->ops->gdn(ctx, x, gamma, beta, inverse, y);
}

int nn_group_norm(nn_context *ctx, nn_tensor *x, int groups, const float *gamma, const float *beta,
                  float eps)
{
    if (!channels_ok(x) || groups < 1 || x->shape[1] % groups || !(eps > 0)) return NN_ERR_ARG;
    return ctx->ops->group_norm(ctx, x, groups, gamma, beta, eps);
}

int nn_layer_norm(nn_context *ctx, nn_tensor *x, const float *gamma, const float *beta, float eps)
{
    if (!channels_ok(x) || !(eps > 0)) return NN_ERR_ARG;
    return ctx->ops->layer_norm(ctx, x, gamma, beta, eps);
}

int nn_layer_norm_add(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
                      float eps, nn_tensor *y)
{
    if (!x || !x->data || x->ndim != 2 || !y || !y->data || !nn_tensor_same_shape(x, y) ||
        x->data == y->data || !(eps > 0))
        return NN_ERR_ARG;
    return ctx->ops->layer_norm_add(ctx, x, gamma, beta, eps, y);
}

int nn_add(nn_context *ctx, const nn_tensor *a, const nn_tensor *b, nn_tensor *y)
{
    if (!a || !b || !a->data || !b->data || !nn_tensor_same_shape(a, b)) return NN_ERR_ARG;
    if (y != a && y != b) {
        int rc = prepare_out(ctx, y, a->ndim, a->shape);
        if (rc) return rc;
    }
    return ctx->ops->add(ctx, a->data, b->data, y->data, nn_tensor_numel(a));
}

int nn_channel_scale(nn_context *ctx, nn_tensor *x, const float *g, const float *bias)
{
    if (!channels_ok(x) || !g) return NN_ERR_ARG;
    return ctx->ops->channel_scale(ctx, x, g, bias);
}

int nn_bias_act(nn_context *ctx, nn_tensor *x, const float *b, nn_act act, float slope)
{
    if (!channels_ok(x) || act < NN_ACT_RELU || act > NN_ACT_SILU) return NN_ERR_ARG;
    return ctx->ops->bias_act(ctx, x, b, act, slope);
}

int nn_bias_residual(nn_context *ctx, const nn_tensor *x, const float *b, nn_tensor *y)
{
    if (!channels_ok(x) || !y || !y->data || !nn_tensor_same_shape(x, y) || x->data == y->data)
        return NN_ERR_ARG;
    return ctx->ops->bias_residual(ctx, x, b, y);
}

int nn_pixel_shuffle(nn_context *ctx, const nn_tensor *x, int r, nn_tensor *y)
{
    if (!x || !x->data || (x->ndim != 3 && x->ndim != 4) || r < 1 || y == x) return NN_ERR_ARG;
    int rr = x->ndim == 4 ? r * r : r, shape[4];
    if (x->shape[1] % rr) return NN_ERR_ARG;
    shape[0] = x->shape[0];
    shape[1] = x->shape[1] / rr;
    for (int i = 2; i < x->ndim; i++) {
        if (x->shape[i] > INT_MAX / r) return NN_ERR_ARG;
        shape[i] = x->shape[i] * r;
    }
    int rc = prepare_out(ctx, y, x->ndim, shape);
    return rc ? rc : ctx->ops->pixel_shuffle(ctx, x, r, y);
}
