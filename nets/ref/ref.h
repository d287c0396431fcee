/* Internal kernels of the ref backend (portable C, the reference of every op). */
#ifndef NECO_NETS_REF_REF_H
#define NECO_NETS_REF_REF_H
#include "nets/ops.h"

/* C[i][j] = bias (row bias[i] and/or column bias[j], each optional) + sum_k A[i][k] B[k][j],
 * with the sum accumulated from 0 in ascending k, the biases added after it (row bias first).
 * Row strides lda, ldb, ldc. Single-threaded: callers split the work. */
void nn_ref_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 const float *row_bias, const float *col_bias, float *c, int ldc);

int nn_ref_conv2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                  const nn_conv_params *p, nn_tensor *y);
int nn_ref_conv_transpose2d(nn_context *ctx, const nn_tensor *x, const nn_tensor *w, const float *b,
                            const nn_conv_params *p, nn_tensor *y);
int nn_ref_matmul(nn_context *ctx, const nn_matmul_params *p, const float *a, const float *b,
                  const float *bias, float *c);
int nn_ref_activation(nn_context *ctx, nn_act act, float slope, float *x, size_t n);
int nn_ref_snake(nn_context *ctx, nn_tensor *x, const float *alpha);
int nn_ref_gdn(nn_context *ctx, const nn_tensor *x, const float *gamma, const float *beta,
               int inverse, nn_tensor *y);
int nn_ref_group_norm(nn_context *ctx, nn_tensor *x, int groups, const float *gamma,
                      const float *beta, float eps);
int nn_ref_layer_norm(nn_context *ctx, nn_tensor *x, const float *gamma, const float *beta,
                      float eps);
int nn_ref_layer_norm_add(nn_context *ctx, const nn_tensor *x, const float *gamma,
                          const float *beta, float eps, nn_tensor *y);
int nn_ref_add(nn_context *ctx, const float *a, const float *b, float *y, size_t n);
/* g may be NULL here (gain 1: only the bias is added, v + b exactly), for backends that add a
 * per-channel bias after their own kernels (onednn's 1x1 convs). */
int nn_ref_channel_scale(nn_context *ctx, nn_tensor *x, const float *g, const float *bias);
int nn_ref_bias_act(nn_context *ctx, nn_tensor *x, const float *b, nn_act act, float slope);
int nn_ref_bias_residual(nn_context *ctx, const nn_tensor *x, const float *b, nn_tensor *y);
int nn_ref_pixel_shuffle(nn_context *ctx, const nn_tensor *x, int r, nn_tensor *y);

/* Spatial extent of [N, C, ...]: product of the dimensions after the second. */
size_t nn_ref_spatial(const nn_tensor *x);
#endif
