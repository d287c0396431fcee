/* Coding of vector-quantiser indices (the group-residual VQ of aud-grvq, HiFi-Codec 2023): one
 * static frequency table per codebook, learned as index counts on training data, or uniform
 * when a model ships none. Indices are always in [0, codebook_size), so these tables have no
 * escape: a decoder can never return an index outside its codebook. */
#ifndef NECO_ENTROPY_VQ_H
#define NECO_ENTROPY_VQ_H
#include <stdint.h>

#include "entropy/cdf.h"

/* Tables for codebooks 0..num_codebooks-1 of codebook_size entries. counts holds
 * num_codebooks * codebook_size non-negative integers (row c = codebook c); counts = NULL, or a
 * row that sums to 0, gives the uniform table. The CDFs are built by neco_cdf_build(), so every
 * index keeps at least one count. A row's sum must be at most 2^40. Element i of a frame is
 * coded with index = its codebook. */
int neco_vq_tables_create(neco_cdf_tables **out, int precision, int num_codebooks,
                          int codebook_size, const uint32_t *counts);

#endif
