/* The non-expansive 2-D wavelet packet of the image models: CDF 9/7 (bior4.4) by lifting with
 * whole-sample symmetric extension, on even sizes (train/ARCH.md "Wavelet", train/wavelet.py).
 *
 * Unlike nn_wpt2d_forward (nets/wavelet.h, PyWavelets' expansive 'symmetric' mode), N samples
 * give exactly N/2 low and N/2 high coefficients, the convention of JPEG 2000's irreversible
 * transform (Daubechies & Sweldens 1998): on a line x of even length N, e = x[0::2], o = x[1::2],
 *     o[n] += A (e[n] + e[n+1])      with e[N/2] := e[N/2-1]
 *     e[n] += B (o[n-1] + o[n])      with o[-1] := o[0]
 *     o[n] += G (e[n] + e[n+1])
 *     e[n] += D (o[n-1] + o[n])
 *     low = K e,  high = -o / K
 * which equals pywt.dwt(x, 'bior4.4', mode='reflect') cropped to coefficients [2, 2 + N/2).
 * 2-D: along the width first, then the height; band b = 2 v + h (v: along the height, h: along
 * the width, 0 = low), channel 4 c + b. Packet of L levels: the 2-D step applied L times to every
 * channel, so channel c of the input ends as channels c 4^L + (b1 4^(L-1) + ... + bL). */
#ifndef NECO_NETS_LIFTING97_H
#define NECO_NETS_LIFTING97_H
#include "nets/ops.h"
#include "nets/pool.h"
#include "nets/tensor.h"

/* One level of the 1-D transform above on a contiguous line x of 2 m samples: m low and m high
 * coefficients; e and o are scratch of m floats each. The inverse undoes the steps in reverse
 * order. Shared by the 2-D packet here and the 1-D one of nets/lifting97_1d.c. */
void nn_lifting97_line_forward(const float *x, int m, float *lo, float *hi, float *e, float *o);
void nn_lifting97_line_inverse(const float *lo, const float *hi, int m, float *x, float *e,
                               float *o);

/* x [N, C, H, W] with H and W divisible by 2^levels -> y [N, C 4^levels, H/2^L, W/2^L].
 * Returns NN_OK, NN_ERR_ARG or NN_ERR_NOMEM. y is allocated as in nets/layers.h. The planes
 * are spread over pool's threads (pool may be NULL); the bits do not depend on the count. */
int nn_lifting97_forward(const nn_tensor *x, int levels, nn_tensor *y, nn_pool *pool);

/* The exact inverse (up to float rounding): y [N, C 4^L, h, w] -> x [N, C, h 2^L, w 2^L]. */
int nn_lifting97_inverse(const nn_tensor *y, int levels, nn_tensor *x, nn_pool *pool);

/* Either direction on a context: its backend's own transform where it has one (ops.h
 * lifting97: the cuda backend's kernels, the same bits), else the functions above on the
 * context's pool. */
int nn_lifting97(nn_context *ctx, const nn_tensor *in, int levels, int inverse, nn_tensor *out);

#endif
