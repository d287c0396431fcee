/* Integer layers for entropy-critical subnetworks (the hyper-synthesis h_s that yields scale
 * indices): the same result on every machine and backend, bit for bit, by construction.
 * nets/INTEGER.md is the normative text (for BITSTREAM.md); in short:
 *
 *   activations: int16; weights: int8 or int16; bias: int32; accumulator: int64.
 *   acc[o][p] = bias[o] + sum over (ci, ky, kx) of w * x   (exact: no overflow, see limits)
 *   v = acc * mult[o]                                       (exact in int64)
 *   r = shift[o] == 0 ? v : floor((v + 2^(shift[o]-1)) / 2^shift[o])
 *                                         (rounding half up, as training does)
 *   y = min(max(r, out_min), out_max)     (saturation; out_min = 0 is a ReLU)
 * Limits checked on every call: 0 <= mult <= 32767, 0 <= shift <= 62,
 * -32768 <= out_min <= out_max <= 32767, K = (C_in / groups) KH KW <= 131072; then
 * |acc| <= 2^31 + 2^17 2^30 < 2^48 and |v| < 2^63. */
#ifndef NECO_NETS_INTLAYERS_H
#define NECO_NETS_INTLAYERS_H
#include "nets/ops.h"

#include <stdint.h>

typedef struct nn_int_conv {
    int cin, cout, kh, kw;
    nn_conv_params p; /* stride, zero padding, dilation, groups, out_pad (transposed) */
    int transposed;   /* 0: conv2d, weights [cout][cin/g][kh][kw];
                         1: transposed conv2d, weights [cin][cout/g][kh][kw] (PyTorch) */
    const int8_t *w8; /* exactly one of w8 and w16 is set */
    const int16_t *w16;
    const int32_t *bias;  /* [cout] or NULL (zero) */
    const int32_t *mult;  /* [cout] */
    const int32_t *shift; /* [cout] */
    int32_t out_min, out_max;
} nn_int_conv;

/* An int16 tensor [N, C, H, W] (1-D data: H = 1). */
typedef struct nn_itensor {
    int16_t *data;
    int n, c, h, w;
} nn_itensor;

/* The rescale step alone (exposed for tests and for INTEGER.md examples). */
int16_t nn_int_rescale(int64_t acc, int32_t mult, int32_t shift, int32_t out_min, int32_t out_max);

/* Checks l's limits (above); NN_OK or NN_ERR_ARG. */
int nn_int_conv_check(const nn_int_conv *l);
/* Output size of l for an input of h x w; NN_ERR_ARG when it would be empty. */
int nn_int_conv_out_size(const nn_int_conv *l, int h, int w, int *ho, int *wo);
/* y->data must hold N * cout * ho * wo values; y's shape fields are set. */
int nn_int_conv2d(const nn_int_conv *l, const nn_itensor *x, nn_itensor *y);
/* The same, its work spread over pool's threads (pool may be NULL); the same integers for any
 * thread count. */
int nn_int_conv2d_pool(const nn_int_conv *l, const nn_itensor *x, nn_itensor *y, nn_pool *pool);
/* "Same" convolutions (stride 1, dilation 1, one group, output of x's size, N = 1) computed at
 * the positions of one checkerboard parity, (row + column) % 2 == parity (0 or 1; -1: all): the
 * context model of a checkerboard entropy coder needs half of each layer (He et al. 2021). The
 * nl <= 4 layers ls (same cin, kernel and padding) all read x, layer i writes ys[i] (data set
 * by the caller, shape fields set here); the other positions are left as they are or set to
 * their values (unspecified). With x_sparse, x must be zero wherever (row + column) is odd: the
 * products with those zeros are skipped. The same integers as nn_int_conv2d where computed. */
int nn_int_conv2d_checker(const nn_int_conv *const *ls, int nl, const nn_itensor *x,
                          nn_itensor *ys, int parity, int x_sparse, nn_pool *pool);
/* Integer pixel shuffle, the same index map as nn_pixel_shuffle. */
int nn_int_pixel_shuffle(const nn_itensor *x, int r, nn_itensor *y);
#endif
