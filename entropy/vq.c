/* VQ index tables (BITSTREAM.md 2.5): learned counts or uniform, through neco_cdf_build(). */
#include "entropy/vq.h"

#include <stdlib.h>

int neco_vq_tables_create(neco_cdf_tables **out, int precision, int num_codebooks,
                          int codebook_size, const uint32_t *counts)
{
    if (!out) return NECO_ENTROPY_ERR_ARG;
    *out = NULL;
    if (num_codebooks < 1 || codebook_size < 1 || codebook_size > NECO_CDF_MAX_SYMBOLS ||
        (size_t)num_codebooks > SIZE_MAX / ((size_t)codebook_size + 1) / sizeof(int32_t))
        return NECO_ENTROPY_ERR_ARG;
    const size_t row = (size_t)codebook_size + 1;
    int32_t *cdfs = malloc(sizeof *cdfs * row * (size_t)num_codebooks);
    int32_t *lengths = malloc(sizeof *lengths * (size_t)num_codebooks);
    int32_t *offsets = malloc(sizeof *offsets * (size_t)num_codebooks);
    uint64_t *weights = malloc(sizeof *weights * (size_t)codebook_size);
    uint32_t *cdf = malloc(sizeof *cdf * row);
    int st = NECO_ENTROPY_ERR_NOMEM;
    if (cdfs && lengths && offsets && weights && cdf) {
        st = NECO_ENTROPY_OK;
        for (int c = 0; c < num_codebooks && !st; c++) {
            uint64_t sum = 0;
            for (int i = 0; i < codebook_size; i++) {
                weights[i] = counts ? counts[(size_t)c * (size_t)codebook_size + (size_t)i] : 0;
                sum += weights[i];
            }
            /* No learned counts: every index equally likely. */
            if (sum == 0)
                for (int i = 0; i < codebook_size; i++)
                    weights[i] = 1;
            st = neco_cdf_build(weights, codebook_size, precision, cdf);
            for (size_t k = 0; k < row && !st; k++)
                cdfs[(size_t)c * row + k] = (int32_t)cdf[k];
            lengths[c] = (int32_t)row;
            offsets[c] = 0;
        }
        if (!st)
            st = neco_cdf_tables_create(out, precision, num_codebooks, cdfs, lengths, offsets, 0);
    }
    free(cdfs);
    free(lengths);
    free(offsets);
    free(weights);
    free(cdf);
    return st;
}
