/* Integer CDF construction and table sets (BITSTREAM.md section 2.2). */
#include "entropy/cdf.h"

#include <stdlib.h>
#include <string.h>

int neco_cdf_build(const uint64_t *weights, int n, int precision, uint32_t *cdf)
{
    if (!weights || !cdf || precision < NECO_CDF_PRECISION_MIN ||
        precision > NECO_CDF_PRECISION_MAX || n < 1 || n > NECO_CDF_MAX_SYMBOLS ||
        (uint64_t)n > (1ull << precision))
        return NECO_ENTROPY_ERR_ARG;
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (weights[i] > NECO_CDF_WEIGHT_TOTAL_MAX) return NECO_ENTROPY_ERR_ARG;
        total += weights[i];
        if (total > NECO_CDF_WEIGHT_TOTAL_MAX) return NECO_ENTROPY_ERR_ARG;
    }
    if (total == 0) return NECO_ENTROPY_ERR_ARG;
    /* One count per symbol is set aside first; the other 2^P - n are shared in proportion to
     * the cumulative weights, rounding down. S_i <= 2^40 and 2^P - n < 2^24, so the product
     * stays below 2^64. */
    const uint64_t spare = (1ull << precision) - (uint64_t)n;
    uint64_t acc = 0;
    for (int i = 0; i <= n; i++) {
        cdf[i] = (uint32_t)((uint64_t)i + acc * spare / total);
        if (i < n) acc += weights[i];
    }
    return NECO_ENTROPY_OK;
}

/* Lookup resolution of a table: about two buckets per symbol, at most 2^12 buckets, so that the
 * search in neco_rans_decode_with_indexes is usually zero or one step. */
static int cdf_lut_bits(uint32_t nsym, int precision)
{
    int bits = 1;
    while (bits < 12 && (1u << bits) < 2 * nsym)
        bits++;
    return bits < precision ? bits : precision;
}

int neco_cdf_tables_create(neco_cdf_tables **out, int precision, int num_tables,
                           const int32_t *cdfs, const int32_t *cdf_lengths, const int32_t *offsets,
                           int has_escape)
{
    if (!out) return NECO_ENTROPY_ERR_ARG;
    *out = NULL;
    if (!cdfs || !cdf_lengths || !offsets || num_tables < 1 || precision < NECO_CDF_PRECISION_MIN ||
        precision > NECO_CDF_PRECISION_MAX)
        return NECO_ENTROPY_ERR_ARG;
    has_escape = has_escape != 0;
    const int64_t top = (int64_t)1 << precision;

    /* Check every table before allocating, and size the arrays. */
    size_t cdf_total = 0, lut_total = 0;
    for (int t = 0; t < num_tables; t++) {
        const int32_t len = cdf_lengths[t];
        if (len < 2 + has_escape || len - 1 > NECO_CDF_MAX_SYMBOLS) return NECO_ENTROPY_ERR_ARG;
        const int32_t *c = cdfs + cdf_total;
        if (c[0] != 0 || c[len - 1] != top) return NECO_ENTROPY_ERR_ARG;
        for (int32_t i = 1; i < len; i++)
            if (c[i] <= c[i - 1]) return NECO_ENTROPY_ERR_ARG;
        const int64_t last_value = (int64_t)offsets[t] + (len - 2 - has_escape);
        if (last_value > INT32_MAX) return NECO_ENTROPY_ERR_ARG;
        cdf_total += (size_t)len;
        lut_total += ((size_t)1 << cdf_lut_bits((uint32_t)(len - 1), precision)) + 1;
    }

    neco_cdf_tables *s = calloc(1, sizeof *s);
    if (!s) return NECO_ENTROPY_ERR_NOMEM;
    s->tables = malloc(sizeof *s->tables * (size_t)num_tables);
    s->cdf = malloc(sizeof *s->cdf * cdf_total);
    s->lut = malloc(sizeof *s->lut * lut_total);
    if (!s->tables || !s->cdf || !s->lut) {
        neco_cdf_tables_destroy(s);
        return NECO_ENTROPY_ERR_NOMEM;
    }
    s->precision = precision;
    s->num_tables = num_tables;
    s->has_escape = has_escape;

    size_t cdf_base = 0, lut_base = 0;
    for (int t = 0; t < num_tables; t++) {
        const uint32_t nsym = (uint32_t)cdf_lengths[t] - 1;
        const int bits = cdf_lut_bits(nsym, precision);
        cdf_table *tab = &s->tables[t];
        tab->cdf_base = (uint32_t)cdf_base;
        tab->lut_base = (uint32_t)lut_base;
        tab->nsym = nsym;
        tab->nregular = nsym - (uint32_t)has_escape;
        tab->offset = offsets[t];
        tab->lut_shift = (uint32_t)(precision - bits);
        uint32_t *c = s->cdf + cdf_base;
        for (uint32_t i = 0; i <= nsym; i++)
            c[i] = (uint32_t)cdfs[cdf_base + i];
        /* lut[b] = the symbol whose interval holds the slot b << shift. */
        uint16_t *lut = s->lut + lut_base;
        uint32_t sym = 0;
        for (uint32_t b = 0; b < (1u << bits); b++) {
            const uint32_t slot = b << tab->lut_shift;
            while (c[sym + 1] <= slot)
                sym++;
            lut[b] = (uint16_t)sym;
        }
        lut[1u << bits] = (uint16_t)(nsym - 1);
        cdf_base += nsym + 1;
        lut_base += ((size_t)1 << bits) + 1;
    }
    *out = s;
    return NECO_ENTROPY_OK;
}

void neco_cdf_tables_destroy(neco_cdf_tables *tables)
{
    if (!tables) return;
    free(tables->tables);
    free(tables->cdf);
    free(tables->lut);
    free(tables);
}

const uint32_t *neco_cdf_tables_cdf(const neco_cdf_tables *tables, int t, int *nsym,
                                    int32_t *offset)
{
    if (!tables || t < 0 || t >= tables->num_tables) return NULL;
    const cdf_table *tab = &tables->tables[t];
    if (nsym) *nsym = (int)tab->nsym;
    if (offset) *offset = tab->offset;
    return tables->cdf + tab->cdf_base;
}
