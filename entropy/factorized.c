/* Factorized model tables: the caller's CDFs, checked and indexed (BITSTREAM.md 2.2). */
#include "entropy/factorized.h"

int neco_factorized_tables_create(neco_cdf_tables **out, int precision, int channels,
                                  const int32_t *cdfs, const int32_t *cdf_lengths,
                                  const int32_t *offsets)
{
    /* The learned density may put mass anywhere, so these tables always have the escape. */
    return neco_cdf_tables_create(out, precision, channels, cdfs, cdf_lengths, offsets, 1);
}
