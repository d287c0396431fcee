/* Nearest-codeword search for vector quantisation (VQ-VAE, van den Oord et al. 2017; the
 * residual and group-residual VQ of EnCodec / HiFi-Codec are built from it).
 *
 * Vectors are the D channels at each time step of x [N, D, L]. The distance to codeword k
 * (codebook [K][D], row-major) is the squared L2 distance computed directly,
 * sum_{d = 0..D-1} (x_d - c_kd)^2, in float, d ascending (never the expanded form
 * |x|^2 - 2 x.c + |c|^2, whose cancellation would make ties and near-ties depend on rounding).
 * The smallest distance wins; ties go to the lowest index (strict < while scanning k upward).
 * NaN or infinite distances never win, so an input far from (or NaN against) every codeword
 * gives index 0. */
#ifndef NECO_NETS_VQ_H
#define NECO_NETS_VQ_H
#include "nets/tensor.h"

#include <stdint.h>

/* idx receives N * L indices (n-major, then time). q, when not NULL, receives the chosen
 * codewords as [N, D, L]; it must be empty or owned (reused when its size fits, otherwise
 * replaced). */
int nn_vq_nearest(const nn_tensor *x, const float *codebook, int k, int32_t *idx, nn_tensor *q);
/* The inverse lookup: idx [n * l] -> q [n, d, l] (q empty or owned; replaced); every index
 * must be in [0, k). */
int nn_vq_decode(const int32_t *idx, int n, int l, const float *codebook, int k, int d,
                 nn_tensor *q);
#endif
