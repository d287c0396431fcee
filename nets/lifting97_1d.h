/* The non-expansive 1-D wavelet packet of the audio model aud-wave: CDF 9/7 (bior4.4) by lifting
 * with whole-sample symmetric extension, the 1-D twin of nets/lifting97.h (train/ARCH_AUDIO.md
 * "Wavelet", train/audio_models.py wpt_forward). On a line x of even length N, e = x[0::2],
 * o = x[1::2]:
 *     o[n] += A (e[n] + e[n+1])      with e[N/2] := e[N/2-1]
 *     e[n] += B (o[n-1] + o[n])      with o[-1] := o[0]
 *     o[n] += G (e[n] + e[n+1])
 *     e[n] += D (o[n-1] + o[n])
 *     low = K e,  high = -o / K
 * (Daubechies & Sweldens 1998; JPEG 2000's irreversible transform), so N samples give N/2 low
 * and N/2 high coefficients. One level maps channel c to channels 2 c (low) and 2 c + 1 (high);
 * a packet of L levels applies it to every channel L times, so channel c of the input ends as
 * channels c 2^L + (b1 2^(L-1) + ... + bL), b_l the band (0 low, 1 high) taken at level l. */
#ifndef NECO_NETS_LIFTING97_1D_H
#define NECO_NETS_LIFTING97_1D_H
#include "nets/ops.h"
#include "nets/tensor.h"

/* x [N, C, L] with L divisible by 2^levels -> y [N, C 2^levels, L / 2^levels].
 * Returns NN_OK, NN_ERR_ARG or NN_ERR_NOMEM. y is allocated as in nets/layers.h. */
int nn_lifting97_1d_forward(const nn_tensor *x, int levels, nn_tensor *y);

/* The exact inverse (up to float rounding): y [N, C 2^L, l] -> x [N, C, l 2^L]. */
int nn_lifting97_1d_inverse(const nn_tensor *y, int levels, nn_tensor *x);

/* Either direction on a context: its backend's own transform where it has one (ops.h
 * lifting97_1d: the cuda backend's kernels, the same bits), else the functions above. */
int nn_lifting97_1d(nn_context *ctx, const nn_tensor *in, int levels, int inverse, nn_tensor *out);

#endif
