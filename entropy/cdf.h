/* Integer CDF construction and CDF table sets (conformance/BITSTREAM.md section 2.2).
 *
 * A table set holds the static models the rANS coder codes with: for each table, its CDF at
 * precision P (C_0 = 0 < C_1 < ... < C_n = 2^P), the value of its first symbol (the offset) and,
 * for tables with an escape symbol, the escape as the last symbol (CompressAI's layout, see its
 * cpp_exts/rans/rans_interface.cpp). Factorized, Gaussian-conditional and VQ models are all
 * table sets; they differ only in where the CDFs come from. */
#ifndef NECO_ENTROPY_CDF_H
#define NECO_ENTROPY_CDF_H
#include <stddef.h>
#include <stdint.h>

/* Statuses of the entropy module. The values match neco_status (codec/include/neco/neco.h) so
 * the codec can pass them through unchanged. */
enum {
    NECO_ENTROPY_OK = 0,
    NECO_ENTROPY_ERR_ARG = -1,       /* a caller error: NULL, bad table, value not codable */
    NECO_ENTROPY_ERR_NOMEM = -2,     /* an allocation failed */
    NECO_ENTROPY_ERR_CORRUPT = -3,   /* the stream cannot have been written by the encoder */
    NECO_ENTROPY_ERR_TRUNCATED = -4, /* the stream ends before the symbols asked for */
};

/* Limits of the format (BITSTREAM.md 2.2). */
#define NECO_CDF_PRECISION_MIN 4
#define NECO_CDF_PRECISION_MAX 24
#define NECO_CDF_MAX_SYMBOLS 65536             /* symbols of one table, escape included */
#define NECO_CDF_WEIGHT_TOTAL_MAX (1ull << 40) /* keeps S_i * (2^P - n) below 2^64 */

/* The precision of every table neco's models use, chosen by measurement (entropy/README.md):
 * against the ideal code length, Gaussian tables lose 0.118 % at 16 bits (every symbol of the
 * wide tables holds at least one count) and 0.007 % at 20, and with a 64-bit rANS state the
 * precision costs no speed. */
#define NECO_CDF_PRECISION 20

/* Integer CDF construction from non-negative integer weights w_0..w_{n-1} with total W:
 *   C_i = i + floor(S_i * (2^P - n) / W),   S_i = w_0 + ... + w_{i-1},   i = 0..n.
 * Every symbol gets at least one count and C_n = 2^P exactly. Needs 1 <= n <= 2^P,
 * n <= NECO_CDF_MAX_SYMBOLS and 1 <= W <= 2^40. cdf has room for n + 1 values.
 * Twin: train/neco_cdf.py cdf_from_weights(). */
int neco_cdf_build(const uint64_t *weights, int n, int precision, uint32_t *cdf);

/* One static table; public to the entropy module only. */
typedef struct cdf_table {
    uint32_t cdf_base;  /* index of C_0 in the set's cdf array */
    uint32_t lut_base;  /* index of the first lookup entry in the set's lut array */
    uint32_t nsym;      /* symbols, escape included */
    uint32_t nregular;  /* symbols that code a value directly: nsym - 1 with an escape */
    int32_t offset;     /* value of symbol 0 */
    uint32_t lut_shift; /* slot >> lut_shift is the lookup bucket */
} cdf_table;

/* A set of tables. Immutable once built, so one set can serve many threads. */
typedef struct neco_cdf_tables {
    int precision;
    int num_tables;
    int has_escape; /* 1: the last symbol of every table is the escape (section 2.4) */
    cdf_table *tables;
    uint32_t *cdf; /* all tables' CDFs, concatenated */
    uint16_t *lut; /* per table 2^(P - lut_shift) + 1 entries: the symbol holding the slot
                      bucket << lut_shift; decoding searches only between two entries */
} neco_cdf_tables;

/* Builds a set from CDFs in CompressAI's layout: table t has cdf_lengths[t] values starting at
 * cdfs[sum of the previous lengths]; values 0 = C_0 < C_1 < ... = 2^precision; its symbols are
 * the values offsets[t] .. offsets[t] + cdf_lengths[t] - 3, and with has_escape the symbol
 * cdf_lengths[t] - 2 is the escape (without, all cdf_lengths[t] - 1 symbols are values).
 * Every CDF is checked; a bad one gives NECO_ENTROPY_ERR_ARG. */
int neco_cdf_tables_create(neco_cdf_tables **out, int precision, int num_tables,
                           const int32_t *cdfs, const int32_t *cdf_lengths, const int32_t *offsets,
                           int has_escape);
void neco_cdf_tables_destroy(neco_cdf_tables *tables);

/* The CDF of table t (nsym + 1 values), its symbol count and offset; NULL for a bad t. */
const uint32_t *neco_cdf_tables_cdf(const neco_cdf_tables *tables, int t, int *nsym,
                                    int32_t *offset);

#endif
