/* Factorized entropy model ("entropy bottleneck", Ballé et al., ICLR 2018): one static table per
 * channel, learned at training time and shipped in the weights as integer CDFs. The codec reads
 * the arrays from the safetensors file and hands them over here unchanged; the exporter makes
 * them with train/neco_cdf.py cdf_from_weights() at NECO_CDF_PRECISION. */
#ifndef NECO_ENTROPY_FACTORIZED_H
#define NECO_ENTROPY_FACTORIZED_H
#include <stdint.h>

#include "entropy/cdf.h"

/* Tables for channels 0..channels-1 in CompressAI's layout (see neco_cdf_tables_create): the
 * CDF of channel c has cdf_lengths[c] values at precision, its values start at offsets[c], and
 * its last symbol is the escape. Element i of a latent is then coded with index = its channel. */
int neco_factorized_tables_create(neco_cdf_tables **out, int precision, int channels,
                                  const int32_t *cdfs, const int32_t *cdf_lengths,
                                  const int32_t *offsets);

#endif
