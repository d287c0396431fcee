/* Wavelet packet transforms, 2-D and 1-D, with the bior4.4 (CDF 9/7) biorthogonal filters.
 *
 * Convention (bit-compatible in definition with PyWavelets 1.x, pywt.dwt/idwt with
 * wavelet 'bior4.4' and mode 'symmetric'; filters are pywt's 10-tap filter bank):
 *   - one level of 1-D DWT of a line x of length N gives two lines of length
 *     n = floor((N + 9) / 2) (nn_dwt_length):
 *       lo[o] = sum_{j=0..9} dec_lo[j] * x~[2o + 1 - j],  hi likewise with dec_hi,
 *     where x~ is the half-sample symmetric extension: x~[-1 - i] = x[i], x~[N + i] = x[N-1-i]
 *     (repeated with period 2N, so any N >= 1 works);
 *   - the inverse gives 2n - 8 samples out[m] = sum_j rec_lo[j] a[(m+8-j)/2] + rec_hi[j]
 *     d[(m+8-j)/2] over the terms with m + 8 - j even and inside [0, 2n), cropped to the
 *     original N (as pywt.waverec does). Reconstruction is perfect up to float rounding.
 *   - 2-D: rows (W) first, then columns (H). Subbands as pywt.dwt2: a = low/low,
 *     h = high along H and low along W (pywt's cH, 'da'), v = low along H, high along W (cV),
 *     d = high/high (cD).
 *   - Packet (full tree, every subband split again, pywt.WaveletPacket2D / WaveletPacket with
 *     order='natural'): after J levels, input channel c holds 4^J (2-D) or 2^J (1-D) subbands,
 *     stored as channels c * 4^J + s, where s is the path written in base 4 (2-D: a=0, h=1,
 *     v=2, d=3) or base 2 (1-D: a=0, d=1) with the FIRST level as the most significant digit.
 *     Every subband of a level has the same size, so the result is one tensor.
 * Note that mode 'symmetric' is expansive: each level turns N samples into 2 x (N + 9) / 2. */
#ifndef NECO_NETS_WAVELET_H
#define NECO_NETS_WAVELET_H
#include "nets/tensor.h"

/* Length of each half after one level: floor((n + 9) / 2). */
int nn_dwt_length(int n);

/* Outputs are newly allocated: y (or x for the inverses) must be an empty (zeroed) or owned
 * tensor, which is freed and replaced; a view's memory is never written.
 * x [N, C, H, W] -> y [N, C 4^levels, h_J, w_J]; levels in [0, 12] (0 copies). */
int nn_wpt2d_forward(const nn_tensor *x, int levels, nn_tensor *y);
/* Inverse of nn_wpt2d_forward for an original size h x w. */
int nn_wpt2d_inverse(const nn_tensor *y, int levels, int h, int w, nn_tensor *x);
/* x [N, C, L] -> y [N, C 2^levels, l_J]. */
int nn_wpt1d_forward(const nn_tensor *x, int levels, nn_tensor *y);
int nn_wpt1d_inverse(const nn_tensor *y, int levels, int l, nn_tensor *x);
#endif
