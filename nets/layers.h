/* Layers of nets/: the checked entry points of every op (ops.h), for any backend.
 *
 * Each function validates shapes and parameters (NN_ERR_ARG on any inconsistency), sizes the
 * output and dispatches to ctx->ops. Outputs: y is either an owned or empty tensor (zeroed
 * struct), which is (re)allocated to the output shape, or a view, which must already have
 * that shape. An output never aliases an input unless the function says so. */
#ifndef NECO_NETS_LAYERS_H
#define NECO_NETS_LAYERS_H
#include "nets/ops.h"

typedef struct nn_conv1d_params {
    int stride, pad, dilation, groups;
    int out_pad; /* transposed conv only */
} nn_conv1d_params;

/* Parameters with stride 1, no padding, dilation 1, one group. */
nn_conv_params nn_conv_default(void);
nn_conv1d_params nn_conv1d_default(void);

/* x [N, C, H, W], w [O, C/groups, KH, KW], b [O] or NULL -> y [N, O, H', W'] with
 * H' = (H + 2 pad - dilation (KH - 1) - 1) / stride + 1 (PyTorch Conv2d). */
int nn_conv2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
              const nn_conv_params *p, nn_tensor *y);
/* x [N, C, L], w [O, C/groups, K] (PyTorch Conv1d). */
int nn_conv1d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
              const nn_conv1d_params *p, nn_tensor *y);
/* x [N, C, H, W], w [C, O/groups, KH, KW] (PyTorch ConvTranspose2d):
 * H' = (H - 1) stride - 2 pad + dilation (KH - 1) + out_pad + 1; out_pad < max(stride, dilation).
 */
int nn_conv_transpose2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                        const nn_conv_params *p, nn_tensor *y);
/* x [N, C, L], w [C, O/groups, K] (PyTorch ConvTranspose1d). */
int nn_conv_transpose1d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                        const nn_conv1d_params *p, nn_tensor *y);
/* See nn_matmul_params (ops.h); the arrays must hold the sizes it implies. */
int nn_matmul(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
              const float *bias, float *c);
/* Linear layer on rows: x [rows, in], w [out, in] (PyTorch Linear), b [out] or NULL ->
 * y [rows, out]. */
int nn_linear(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
              nn_tensor *y);
/* In place. slope is used by NN_ACT_LEAKY_RELU only. */
int nn_activation(nn_context *ctx, nn_act act, float slope, nn_tensor *x);
int nn_snake(nn_context *ctx, nn_tensor *x, const float *alpha);
/* y may not alias x. gamma [C][C], beta [C]. */
int nn_gdn(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta, int inverse,
           nn_tensor *y);
int nn_group_norm(nn_context *ctx, nn_tensor *x, int groups, const float *gamma, const float *beta,
                  float eps);
int nn_layer_norm(nn_context *ctx, nn_tensor *x, const float *gamma, const float *beta, float eps);
/* y = y + LayerNorm(x) for token rows x, y [rows, C] (x unchanged): layer_norm then add in one
 * pass. */
int nn_layer_norm_add(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
                      float eps, nn_tensor *y);
/* Residual add: y = a + b; y may be a or b itself (in place). */
int nn_add(nn_context *ctx, const nn_tensor *a, const nn_tensor *b, nn_tensor *y);
/* x[:, c] = x[:, c] * g[c] (+ bias[c]): the gain vectors of variable-rate models. In place. */
int nn_channel_scale(nn_context *ctx, nn_tensor *x, const float *g, const float *bias);
/* x[:, c] = act(x[:, c] + b[c]) in place, in one pass where the backend can: the bias and
 * activation of a conv called without its bias (b NULL: the activation only). */
int nn_bias_act(nn_context *ctx, nn_tensor *x, const float *b, nn_act act, float slope);
/* y[:, c] = y[:, c] + (x[:, c] + b[c]): the bias of a residual branch's last conv, called
 * without it, and the residual add in one pass (b NULL: y + x). */
int nn_bias_residual(nn_context *ctx, const nn_tensor *x, const float *b, nn_tensor *y);
/* [N, C r^2, H, W] -> [N, C, H r, W r], or [N, C r, L] -> [N, C, L r]. */
int nn_pixel_shuffle(nn_context *ctx, const nn_tensor *x, int r, nn_tensor *y);
#endif
