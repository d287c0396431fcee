/* entropy/: round trips under random tables (escapes included), the model builders, and the
 * decoder's behaviour on truncated, corrupted and random input. Run it under the sanitizer build
 * too: the error-path cases exist to show the decoder never reads or writes out of bounds. */
#include <stdlib.h>
#include <string.h>

#include "entropy/factorized.h"
#include "entropy/gaussian.h"
#include "entropy/rans.h"
#include "entropy/vq.h"
#include "test.h"

/* splitmix64: a fixed, portable generator so every run tests the same cases. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rng_next(s) % n);
}

/* A random table set with escape: num tables of 1..max_regular regular symbols with random
 * (often zero or skewed) weights, built by neco_cdf_build(). */
static neco_cdf_tables *random_tables(uint64_t *s, int precision, int num, int max_regular)
{
    int32_t *lengths = malloc(sizeof *lengths * (size_t)num);
    int32_t *offsets = malloc(sizeof *offsets * (size_t)num);
    int32_t *cdfs = malloc(sizeof *cdfs * (size_t)num * (size_t)(max_regular + 2));
    uint64_t *w = malloc(sizeof *w * (size_t)(max_regular + 1));
    uint32_t *cdf = malloc(sizeof *cdf * (size_t)(max_regular + 2));
    CU_ASSERT_FATAL(lengths && offsets && cdfs && w && cdf);
    size_t base = 0;
    for (int t = 0; t < num; t++) {
        int n = 2 + (int)rng_below(s, (uint32_t)max_regular);
        if ((uint64_t)n > (1ull << precision)) n = 1 << precision;
        for (int i = 0; i < n; i++) {
            const uint32_t kind = rng_below(s, 4);
            w[i] = kind == 0 ? 0 : kind == 1 ? rng_below(s, 10) : rng_next(s) >> 40;
        }
        w[rng_below(s, (uint32_t)n)] += 1;
        CU_ASSERT_FATAL(neco_cdf_build(w, n, precision, cdf) == NECO_ENTROPY_OK);
        CU_ASSERT_EQUAL_FATAL(cdf[0], 0);
        CU_ASSERT_EQUAL_FATAL(cdf[n], 1u << precision);
        for (int i = 0; i <= n; i++)
            cdfs[base + (size_t)i] = (int32_t)cdf[i];
        lengths[t] = n + 1;
        offsets[t] = (int32_t)rng_below(s, 41) - 20;
        base += (size_t)n + 1;
    }
    neco_cdf_tables *tables = NULL;
    CU_ASSERT_FATAL(neco_factorized_tables_create(&tables, precision, num, cdfs, lengths,
                                                  offsets) == NECO_ENTROPY_OK);
    free(lengths);
    free(offsets);
    free(cdfs);
    free(w);
    free(cdf);
    return tables;
}

/* Encodes values with indexes, decodes them back and checks the stream's end; returns the
 * stream (caller frees) through out/size when asked. */
static void round_trip(const neco_cdf_tables *tables, const int32_t *values, const int32_t *idx,
                       size_t n, uint8_t **out, size_t *out_size)
{
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    CU_ASSERT_FATAL(neco_rans_encode_with_indexes(&enc, tables, values, idx, n) == 0);
    const size_t cap = neco_rans_encoder_bound(&enc);
    uint8_t *buf = malloc(cap);
    size_t size = 0;
    CU_ASSERT_FATAL(buf != NULL);
    CU_ASSERT_FATAL(neco_rans_encoder_flush(&enc, buf, cap, &size) == 0);
    CU_ASSERT(size <= cap);
    CU_ASSERT_EQUAL(enc.count, 0);
    neco_rans_encoder_release(&enc);

    int32_t *dec_values = malloc(sizeof *dec_values * (n ? n : 1));
    CU_ASSERT_FATAL(dec_values != NULL);
    neco_rans_decoder dec;
    CU_ASSERT_FATAL(neco_rans_decoder_init(&dec, buf, size) == 0);
    /* Decode in two calls to check that a stream continues across calls. */
    const size_t half = n / 3;
    CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, tables, idx, half, dec_values), 0);
    CU_ASSERT_EQUAL(
        neco_rans_decode_with_indexes(&dec, tables, idx + half, n - half, dec_values + half), 0);
    CU_ASSERT_EQUAL(neco_rans_decoder_finish(&dec), 0);
    CU_ASSERT(memcmp(values, dec_values, sizeof *values * n) == 0);
    free(dec_values);
    if (out) {
        *out = buf;
        *out_size = size;
    } else {
        free(buf);
    }
}

static int32_t random_value(uint64_t *s, const neco_cdf_tables *tables, int32_t t)
{
    int nsym;
    int32_t offset;
    neco_cdf_tables_cdf(tables, t, &nsym, &offset);
    switch (rng_below(s, 16)) {
    case 0: /* far escapes, up to the int32 limits */
        return (int32_t)(uint32_t)rng_next(s);
    case 1:
        return rng_below(s, 2) ? INT32_MAX : INT32_MIN;
    case 2: /* near escapes on both sides */
        return offset - 1 - (int32_t)rng_below(s, 40);
    case 3:
        return offset + nsym - 1 + (int32_t)rng_below(s, 40);
    default:
        return offset + (int32_t)rng_below(s, (uint32_t)nsym - 1);
    }
}

static void test_round_trip_random_tables(void)
{
    uint64_t s = 1;
    const int precisions[] = {4, 8, 12, 15, 16, 20, 24};
    for (size_t p = 0; p < sizeof precisions / sizeof precisions[0]; p++) {
        for (int rep = 0; rep < 4; rep++) {
            const int num = 1 + (int)rng_below(&s, 8);
            neco_cdf_tables *tables = random_tables(&s, precisions[p], num, 1 + rep * 200);
            const size_t n = 1 + rng_below(&s, 20000);
            int32_t *values = malloc(sizeof *values * n);
            int32_t *idx = malloc(sizeof *idx * n);
            CU_ASSERT_FATAL(values && idx);
            for (size_t i = 0; i < n; i++) {
                idx[i] = (int32_t)rng_below(&s, (uint32_t)num);
                values[i] = random_value(&s, tables, idx[i]);
            }
            round_trip(tables, values, idx, n, NULL, NULL);
            free(values);
            free(idx);
            neco_cdf_tables_destroy(tables);
        }
    }
}

static void test_round_trip_empty_and_bits(void)
{
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    uint8_t buf[1024];
    size_t size = 0;
    /* The empty stream is the initial states alone, and decodes to nothing. */
    CU_ASSERT_EQUAL(neco_rans_encoder_flush(&enc, buf, sizeof buf, &size), 0);
    CU_ASSERT_EQUAL(size, 8 * NECO_RANS_LANES);
    neco_rans_decoder dec;
    CU_ASSERT_EQUAL(neco_rans_decoder_init(&dec, buf, size), 0);
    CU_ASSERT_EQUAL(neco_rans_decoder_finish(&dec), 0);

    uint64_t s = 7;
    uint32_t vals[100];
    int widths[100];
    for (int i = 0; i < 100; i++) {
        widths[i] = (int)rng_below(&s, 33);
        vals[i] = (uint32_t)rng_next(&s) & (widths[i] == 32 ? 0xFFFFFFFFu : (1u << widths[i]) - 1);
        CU_ASSERT_EQUAL(neco_rans_encode_bits(&enc, vals[i], widths[i]), 0);
    }
    CU_ASSERT_EQUAL(neco_rans_encode_bits(&enc, 0, 33), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_FATAL(neco_rans_encoder_bound(&enc) <= sizeof buf);
    CU_ASSERT_EQUAL(neco_rans_encoder_flush(&enc, buf, 4, &size), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_rans_encoder_flush(&enc, buf, sizeof buf, &size), 0);
    CU_ASSERT_EQUAL(neco_rans_decoder_init(&dec, buf, size), 0);
    for (int i = 0; i < 100; i++) {
        uint32_t v = 0;
        CU_ASSERT_EQUAL(neco_rans_decode_bits(&dec, widths[i], &v), 0);
        CU_ASSERT_EQUAL(v, vals[i]);
    }
    CU_ASSERT_EQUAL(neco_rans_decoder_finish(&dec), 0);
    neco_rans_encoder_release(&enc);
}

static void test_gaussian_round_trip(void)
{
    neco_cdf_tables *tables = NULL;
    CU_ASSERT_FATAL(neco_gc_tables_create(&tables, NECO_CDF_PRECISION, NULL, 0) == 0);
    CU_ASSERT_EQUAL(tables->num_tables, NECO_GC_DEFAULT_NUM_SCALES);
    uint64_t s = 3;
    const size_t n = 50000;
    int32_t *values = malloc(sizeof *values * n);
    int32_t *idx = malloc(sizeof *idx * n);
    CU_ASSERT_FATAL(values && idx);
    for (size_t i = 0; i < n; i++) {
        idx[i] = (int32_t)rng_below(&s, NECO_GC_DEFAULT_NUM_SCALES);
        /* Mostly within a few scales, sometimes far out (escapes). */
        const uint32_t sc = neco_gc_default_scales_q16[idx[i]];
        const int64_t spread = ((int64_t)sc * 3 >> 16) + 1;
        values[i] = rng_below(&s, 50) == 0
                        ? (int32_t)(uint32_t)rng_next(&s)
                        : (int32_t)((int64_t)rng_below(&s, (uint32_t)(2 * spread + 1)) - spread);
    }
    round_trip(tables, values, idx, n, NULL, NULL);
    free(values);
    free(idx);
    neco_cdf_tables_destroy(tables);
}

static void test_gaussian_tables_shape(void)
{
    /* Symmetric, escape last, every symbol at least one count, more mass at 0 for a small
     * scale, and a scale list out of order or out of range is refused. */
    neco_cdf_tables *tables = NULL;
    CU_ASSERT_FATAL(neco_gc_tables_create(&tables, 16, NULL, 0) == 0);
    for (int t = 0; t < tables->num_tables; t++) {
        int nsym;
        int32_t offset;
        const uint32_t *c = neco_cdf_tables_cdf(tables, t, &nsym, &offset);
        CU_ASSERT_FATAL(c != NULL);
        const int r = neco_gc_half_width(neco_gc_default_scales_q16[t]);
        CU_ASSERT_EQUAL(nsym, 2 * r + 2);
        CU_ASSERT_EQUAL(offset, -r);
        CU_ASSERT_EQUAL(c[nsym], 1u << 16);
        for (int k = 0; k < nsym; k++)
            CU_ASSERT(c[k + 1] > c[k]);
        for (int k = 1; k <= r; k++) {
            const uint32_t left = c[r - k + 1] - c[r - k], right = c[r + k + 1] - c[r + k];
            /* The cumulative floor may shift one count between mirrored bins. */
            CU_ASSERT(left + 1 >= right && right + 1 >= left);
        }
    }
    const uint32_t *c0 = neco_cdf_tables_cdf(tables, 0, NULL, NULL);
    CU_ASSERT(c0[2] - c0[1] > 65000u); /* scale 0.11: P(0) = 1 - 5e-6 */
    CU_ASSERT_PTR_NULL(neco_cdf_tables_cdf(tables, 64, NULL, NULL));
    neco_cdf_tables_destroy(tables);

    const uint32_t bad_order[] = {65536, 65536};
    const uint32_t too_big[] = {NECO_GC_SCALE_MAX + 1};
    const uint32_t zero[] = {0};
    CU_ASSERT_EQUAL(neco_gc_tables_create(&tables, 16, bad_order, 2), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_gc_tables_create(&tables, 16, too_big, 1), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_gc_tables_create(&tables, 16, zero, 1), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_PTR_NULL(tables);
    /* Another list, up to the largest scale allowed: round trips at 16 bits. */
    const uint32_t custom[] = {1, 65536, 300 * 65536, NECO_GC_SCALE_MAX};
    CU_ASSERT_FATAL(neco_gc_tables_create(&tables, 16, custom, 4) == 0);
    int nsym;
    CU_ASSERT_PTR_NOT_NULL(neco_cdf_tables_cdf(tables, 3, &nsym, NULL));
    CU_ASSERT_EQUAL(nsym, 2 * 7168 + 2);
    int32_t values[400], idx[400];
    uint64_t s = 21;
    for (int i = 0; i < 400; i++) {
        idx[i] = i % 4;
        values[i] = (int32_t)rng_below(&s, 20001) - 10000;
    }
    round_trip(tables, values, idx, 400, NULL, NULL);
    neco_cdf_tables_destroy(tables);
    tables = NULL;
    /* Scale 256 needs 3586 symbols: precision 11 is too small for it. */
    CU_ASSERT_EQUAL(neco_gc_tables_create(&tables, 11, NULL, 0), NECO_ENTROPY_ERR_ARG);
}

static void test_gaussian_helpers(void)
{
    const uint32_t *sc = neco_gc_default_scales_q16;
    CU_ASSERT_EQUAL(sc[0], 7209u);      /* 0.11 * 2^16 */
    CU_ASSERT_EQUAL(sc[63], 16777216u); /* 256 * 2^16 */
    CU_ASSERT_EQUAL(neco_gc_scale_index(sc, 64, 0), 0);
    CU_ASSERT_EQUAL(neco_gc_scale_index(sc, 64, sc[0]), 0);
    CU_ASSERT_EQUAL(neco_gc_scale_index(sc, 64, sc[0] + 1), 1);
    CU_ASSERT_EQUAL(neco_gc_scale_index(sc, 64, sc[10]), 10);
    CU_ASSERT_EQUAL(neco_gc_scale_index(sc, 64, sc[62] + 1), 63);
    CU_ASSERT_EQUAL(neco_gc_scale_index(sc, 64, UINT32_MAX), 63);
    CU_ASSERT_EQUAL(neco_gc_scale_index(NULL, 64, 5), NECO_ENTROPY_ERR_ARG);
    /* Means in Q8: the residual is the nearest integer of (y - mu), halves rounded up, and
     * the reconstruction adds the mean back exactly. */
    CU_ASSERT_EQUAL(neco_gc_residual(1000, 256, 8), 3);   /* 2.906 */
    CU_ASSERT_EQUAL(neco_gc_residual(-1000, 256, 8), -5); /* -4.906 */
    CU_ASSERT_EQUAL(neco_gc_residual(128, 0, 8), 1);      /* 0.5 */
    CU_ASSERT_EQUAL(neco_gc_residual(-128, 0, 8), 0);     /* -0.5 */
    CU_ASSERT_EQUAL(neco_gc_residual(-129, 0, 8), -1);
    CU_ASSERT_EQUAL(neco_gc_residual(7, 3, 0), 4);
    CU_ASSERT_EQUAL(neco_gc_residual((int64_t)1 << 50, 0, 8), INT32_MAX);
    CU_ASSERT_EQUAL(neco_gc_residual(-((int64_t)1 << 50), 0, 8), INT32_MIN);
    CU_ASSERT_EQUAL(neco_gc_reconstruct(3, 256, 8), 1024);
    CU_ASSERT_EQUAL(neco_gc_reconstruct(-5, 256, 8), -1024);
    CU_ASSERT_EQUAL(neco_gc_reconstruct(INT32_MIN, -1, 30), (int64_t)INT32_MIN * (1 << 30) - 1);
}

static void test_cdf_build(void)
{
    uint32_t cdf[32];
    const uint64_t w[] = {0, 3, 1, 0};
    CU_ASSERT_EQUAL(neco_cdf_build(w, 4, 4, cdf), 0);
    /* spare = 12: C = i + floor(S_i * 12 / 4) with S = 0,0,3,4,4 */
    const uint32_t expect[] = {0, 1, 11, 15, 16};
    CU_ASSERT(memcmp(cdf, expect, sizeof expect) == 0);
    const uint64_t zeros[] = {0, 0};
    const uint64_t huge[] = {NECO_CDF_WEIGHT_TOTAL_MAX, 1};
    CU_ASSERT_EQUAL(neco_cdf_build(zeros, 2, 16, cdf), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_build(huge, 2, 16, cdf), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_build(w, 4, 3, cdf), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_build(w, 4, 25, cdf), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_build(w, 0, 16, cdf), NECO_ENTROPY_ERR_ARG);
    const uint64_t ones[17] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    CU_ASSERT_EQUAL(neco_cdf_build(ones, 17, 4, cdf), NECO_ENTROPY_ERR_ARG); /* n > 2^P */
    CU_ASSERT_EQUAL(neco_cdf_build(ones, 16, 4, cdf), 0);
}

static void test_tables_validation(void)
{
    neco_cdf_tables *t = NULL;
    const int32_t good[] = {0, 10, 16};
    const int32_t len3[] = {3}, len2[] = {2}, len1[] = {1};
    const int32_t off0[] = {0}, offmax[] = {INT32_MAX};
    const int32_t not_monotone[] = {0, 10, 10, 16};
    const int32_t len4[] = {4};
    const int32_t bad_total[] = {0, 10, 15};
    const int32_t bad_start[] = {1, 10, 16};
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, good, len3, off0, 1), 0);
    neco_cdf_tables_destroy(t);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, good, len2, off0, 1), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, good, len1, off0, 0), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, not_monotone, len4, off0, 1),
                    NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, bad_total, len3, off0, 1),
                    NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, bad_start, len3, off0, 1),
                    NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 5, 1, good, len3, off0, 1), NECO_ENTROPY_ERR_ARG);
    /* The last value must fit an int32: offset INT32_MAX with one regular symbol is fine, two
     * without escape are not. */
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, good, len3, offmax, 1), 0);
    neco_cdf_tables_destroy(t);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 1, good, len3, offmax, 0), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(&t, 4, 0, good, len3, off0, 1), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_cdf_tables_create(NULL, 4, 1, good, len3, off0, 1), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_PTR_NULL(t);
}

static void test_bad_indexes(void)
{
    uint64_t s = 11;
    neco_cdf_tables *tables = random_tables(&s, 16, 3, 10);
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    const int32_t values[] = {1, 2, 3};
    const int32_t good[] = {0, 1, 2}, bad[] = {0, 3, 1}, negative[] = {-1, 0, 0};
    CU_ASSERT_EQUAL(neco_rans_encode_with_indexes(&enc, tables, values, bad, 3),
                    NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(enc.count, 0); /* nothing half-appended */
    CU_ASSERT_EQUAL(neco_rans_encode_with_indexes(&enc, tables, values, negative, 3),
                    NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_rans_encode_with_indexes(&enc, tables, values, good, 3), 0);
    uint8_t buf[256];
    size_t size = 0;
    CU_ASSERT_FATAL(neco_rans_encoder_flush(&enc, buf, sizeof buf, &size) == 0);
    neco_rans_encoder_release(&enc);
    /* A bad index stops decoding before its element and leaves the decoder usable. */
    neco_rans_decoder dec;
    int32_t out[3] = {0, 0, 0};
    CU_ASSERT_EQUAL(neco_rans_decoder_init(&dec, buf, size), 0);
    CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, tables, bad, 3, out), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(out[0], 1);
    CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, tables, good + 1, 2, out + 1), 0);
    CU_ASSERT_EQUAL(neco_rans_decoder_finish(&dec), 0);
    CU_ASSERT(memcmp(out, values, sizeof out) == 0);
    neco_cdf_tables_destroy(tables);
}

static void test_vq(void)
{
    /* Learned counts for codebook 0 (one index never seen), uniform for codebook 1. */
    uint32_t counts[2 * 16];
    for (int i = 0; i < 16; i++) {
        counts[i] = i == 5 ? 0 : (uint32_t)(100 * (i + 1));
        counts[16 + i] = 0;
    }
    neco_cdf_tables *tables = NULL;
    CU_ASSERT_FATAL(neco_vq_tables_create(&tables, NECO_CDF_PRECISION, 2, 16, counts) == 0);
    CU_ASSERT_EQUAL(tables->has_escape, 0);
    const uint32_t *u = neco_cdf_tables_cdf(tables, 1, NULL, NULL);
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(u[i + 1] - u[i], 1u << (NECO_CDF_PRECISION - 4));
    const uint32_t *l = neco_cdf_tables_cdf(tables, 0, NULL, NULL);
    CU_ASSERT(l[6] - l[5] >= 1 && l[6] - l[5] < 4); /* the unseen index keeps a count */
    uint64_t s = 5;
    int32_t values[4000], idx[4000];
    for (int i = 0; i < 4000; i++) {
        idx[i] = i & 1;
        values[i] = (int32_t)rng_below(&s, 16);
    }
    uint8_t *buf;
    size_t size = 0;
    round_trip(tables, values, idx, 4000, &buf, &size);
    /* Learned tables beat the uniform 4 bits on skewed data. */
    for (int i = 0; i < 4000; i++)
        values[i] = i & 1 ? values[i] : 15 - (int32_t)rng_below(&s, 3);
    free(buf);
    round_trip(tables, values, idx, 4000, &buf, &size);
    CU_ASSERT(size < 1850); /* about 1780 bytes; the uniform code takes 2000 */
    free(buf);
    /* No escape: an index outside the codebook is a caller error. */
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    const int32_t bad_values[] = {16}, zero_idx[] = {0};
    CU_ASSERT_EQUAL(neco_rans_encode_with_indexes(&enc, tables, bad_values, zero_idx, 1),
                    NECO_ENTROPY_ERR_ARG);
    neco_rans_encoder_release(&enc);
    neco_cdf_tables_destroy(tables);
    /* Same tables as train/neco_cdf.py vq_tables([[0, 0, 0, 0], [1, 0, 3, 0]], 4). */
    const uint32_t small[] = {0, 0, 0, 0, 1, 0, 3, 0};
    const uint32_t expect_uniform[] = {0, 4, 8, 12, 16}, expect_learned[] = {0, 4, 5, 15, 16};
    CU_ASSERT_FATAL(neco_vq_tables_create(&tables, 4, 2, 4, small) == 0);
    CU_ASSERT(memcmp(neco_cdf_tables_cdf(tables, 0, NULL, NULL), expect_uniform, 20) == 0);
    CU_ASSERT(memcmp(neco_cdf_tables_cdf(tables, 1, NULL, NULL), expect_learned, 20) == 0);
    neco_cdf_tables_destroy(tables);
    CU_ASSERT_EQUAL(neco_vq_tables_create(&tables, 4, 1, 17, NULL), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_vq_tables_create(&tables, 16, 0, 16, NULL), NECO_ENTROPY_ERR_ARG);
    CU_ASSERT_EQUAL(neco_vq_tables_create(&tables, 16, 1, 1, NULL), 0);
    neco_cdf_tables_destroy(tables);
}

/* Escape payloads no encoder writes: a length above 34, or a value beyond int32. They are made
 * with a table without escape whose CDF equals the escape table's, so that its symbol 1 is the
 * same operation as the escape symbol, followed by hand-made raw bits. */
static void decode_crafted(const neco_cdf_tables *with_escape, const neco_cdf_tables *plain,
                           uint32_t len, uint64_t low, int expect_status, int32_t expect_value)
{
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    const int32_t one = 1, zero = 0;
    CU_ASSERT_FATAL(neco_rans_encode_with_indexes(&enc, plain, &one, &zero, 1) == 0);
    CU_ASSERT_FATAL(neco_rans_encode_bits(&enc, len, 6) == 0);
    for (uint32_t done = 0; done < len && done < 48; done += 16)
        CU_ASSERT_FATAL(neco_rans_encode_bits(&enc, (uint32_t)(low >> done) & 0xFFFF,
                                              len - done < 16 ? (int)(len - done) : 16) == 0);
    uint8_t buf[128];
    size_t size = 0;
    CU_ASSERT_FATAL(neco_rans_encoder_flush(&enc, buf, sizeof buf, &size) == 0);
    neco_rans_encoder_release(&enc);
    neco_rans_decoder dec;
    int32_t value = 0;
    CU_ASSERT_FATAL(neco_rans_decoder_init(&dec, buf, size) == 0);
    CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, with_escape, &zero, 1, &value),
                    expect_status);
    if (expect_status == 0) {
        CU_ASSERT_EQUAL(value, expect_value);
        CU_ASSERT_EQUAL(neco_rans_decoder_finish(&dec), 0);
    }
}

static void test_escape_limits(void)
{
    const int32_t cdf[] = {0, 1, 16}, len[] = {3}, off[] = {0};
    neco_cdf_tables *with_escape = NULL, *plain = NULL;
    CU_ASSERT_FATAL(neco_cdf_tables_create(&with_escape, 4, 1, cdf, len, off, 1) == 0);
    CU_ASSERT_FATAL(neco_cdf_tables_create(&plain, 4, 1, cdf, len, off, 0) == 0);
    /* m = 0b101: e = 4 (even: above), u = 1 + 2 = 3. */
    decode_crafted(with_escape, plain, 2, 1, 0, 3);
    /* m = 0b110: e = 5 (odd: below), u = -3. */
    decode_crafted(with_escape, plain, 2, 2, 0, -3);
    /* len = 0: m = 1, e = 0, u = 1, the first value above the table. */
    decode_crafted(with_escape, plain, 0, 0, 0, 1);
    decode_crafted(with_escape, plain, 35, 0, NECO_ENTROPY_ERR_CORRUPT, 0);
    decode_crafted(with_escape, plain, 63, 0, NECO_ENTROPY_ERR_CORRUPT, 0);
    /* len = 33, all ones: u = 1 + (2^34 - 2) / 2 > INT32_MAX. */
    decode_crafted(with_escape, plain, 33, (1ull << 33) - 1, NECO_ENTROPY_ERR_CORRUPT, 0);
    /* The largest values still decode: INT32_MAX and INT32_MIN round-trip through escapes. */
    const int32_t extremes[] = {INT32_MAX, INT32_MIN, 2, -1};
    const int32_t idx[] = {0, 0, 0, 0};
    round_trip(with_escape, extremes, idx, 4, NULL, NULL);
    neco_cdf_tables_destroy(with_escape);
    neco_cdf_tables_destroy(plain);
}

/* A stream to attack: Gaussian and VQ symbols with escapes. */
static void make_stream(const neco_cdf_tables *tables, int32_t *values, int32_t *idx, size_t n,
                        uint8_t **buf, size_t *size)
{
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++) {
        idx[i] = (int32_t)rng_below(&s, (uint32_t)tables->num_tables);
        values[i] = random_value(&s, tables, idx[i]);
    }
    round_trip(tables, values, idx, n, buf, size);
}

static void test_truncated(void)
{
    neco_cdf_tables *tables = NULL;
    CU_ASSERT_FATAL(neco_gc_tables_create(&tables, NECO_CDF_PRECISION, NULL, 0) == 0);
    enum { N = 600 };
    int32_t values[N], idx[N], out[N];
    uint8_t *buf;
    size_t size = 0;
    make_stream(tables, values, idx, N, &buf, &size);
    /* Every strict prefix lacks a word the decoder needs: it must say so, never read on. The
     * prefix is copied to a buffer of its exact size so ASan sees any overread. */
    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *prefix = malloc(cut ? cut : 1);
        CU_ASSERT_FATAL(prefix != NULL);
        memcpy(prefix, buf, cut);
        neco_rans_decoder dec;
        int st = neco_rans_decoder_init(&dec, prefix, cut);
        if (st == 0) st = neco_rans_decode_with_indexes(&dec, tables, idx, N, out);
        CU_ASSERT_EQUAL(st, NECO_ENTROPY_ERR_TRUNCATED);
        /* The error sticks. */
        CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, tables, idx, 1, out), st);
        CU_ASSERT_EQUAL(neco_rans_decoder_finish(&dec), st);
        free(prefix);
    }
    free(buf);
    neco_cdf_tables_destroy(tables);
}

static void test_corrupted_and_random(void)
{
    neco_cdf_tables *gauss = NULL, *vq = NULL;
    CU_ASSERT_FATAL(neco_gc_tables_create(&gauss, NECO_CDF_PRECISION, NULL, 0) == 0);
    CU_ASSERT_FATAL(neco_vq_tables_create(&vq, NECO_CDF_PRECISION, 4, 1024, NULL) == 0);
    enum { N = 400 };
    int32_t values[N], idx[N], out[N];
    uint8_t *buf;
    size_t size = 0;
    make_stream(gauss, values, idx, N, &buf, &size);
    uint64_t s = 1234;
    int detected = 0;
    for (int trial = 0; trial < 2000; trial++) {
        uint8_t *bad = malloc(size);
        CU_ASSERT_FATAL(bad != NULL);
        memcpy(bad, buf, size);
        const int flips = 1 + (int)rng_below(&s, 4);
        for (int f = 0; f < flips; f++)
            bad[rng_below(&s, (uint32_t)size)] ^= (uint8_t)(1u << rng_below(&s, 8));
        if (memcmp(bad, buf, size) == 0) {
            free(bad);
            continue;
        }
        neco_rans_decoder dec;
        int st = neco_rans_decoder_init(&dec, bad, size);
        if (st == 0) st = neco_rans_decode_with_indexes(&dec, gauss, idx, N, out);
        if (st == 0) st = neco_rans_decoder_finish(&dec);
        CU_ASSERT(st == 0 || st == NECO_ENTROPY_ERR_CORRUPT || st == NECO_ENTROPY_ERR_TRUNCATED);
        /* rANS is a bijection: a different stream that decodes cleanly to its end cannot give
         * back the same symbols. */
        if (st == 0) CU_ASSERT(memcmp(out, values, sizeof out) != 0);
        detected += st != 0;
        free(bad);
    }
    CU_ASSERT(detected > 1000); /* the end check catches most damage */
    free(buf);

    /* Random bytes: any outcome but a crash; VQ indices always stay inside their codebook. */
    for (int trial = 0; trial < 300; trial++) {
        const size_t len = rng_below(&s, 700);
        uint8_t *junk = malloc(len ? len : 1);
        CU_ASSERT_FATAL(junk != NULL);
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)rng_next(&s);
        for (int i = 0; i < N; i++)
            idx[i] = i % 4;
        neco_rans_decoder dec;
        if (neco_rans_decoder_init(&dec, junk, len) == 0) {
            for (int i = 0; i < N; i++)
                out[i] = -1;
            const int st = neco_rans_decode_with_indexes(&dec, vq, idx, N, out);
            for (int i = 0; i < N && (st == 0 || out[i] != -1); i++)
                CU_ASSERT(out[i] >= 0 && out[i] < 1024);
        }
        if (neco_rans_decoder_init(&dec, junk, len) == 0) {
            for (int i = 0; i < N; i++)
                idx[i] = (int32_t)rng_below(&s, NECO_GC_DEFAULT_NUM_SCALES);
            const int st = neco_rans_decode_with_indexes(&dec, gauss, idx, N, out);
            CU_ASSERT(st == 0 || st == NECO_ENTROPY_ERR_CORRUPT ||
                      st == NECO_ENTROPY_ERR_TRUNCATED);
        }
        free(junk);
    }
    /* A state outside [L, 2^63) is refused at once. */
    uint8_t zeros[64] = {0};
    neco_rans_decoder dec;
    CU_ASSERT_EQUAL(neco_rans_decoder_init(&dec, zeros, sizeof zeros), NECO_ENTROPY_ERR_CORRUPT);
    uint8_t high[64];
    memset(high, 0xFF, sizeof high);
    CU_ASSERT_EQUAL(neco_rans_decoder_init(&dec, high, sizeof high), NECO_ENTROPY_ERR_CORRUPT);
    CU_ASSERT_EQUAL(neco_rans_decoder_init(&dec, NULL, 5), NECO_ENTROPY_ERR_ARG);
    neco_cdf_tables_destroy(gauss);
    neco_cdf_tables_destroy(vq);
}

void neco_test_register(void)
{
    NECO_SUITE("entropy", {"cdf_build", test_cdf_build},
               {"tables_validation", test_tables_validation},
               {"round_trip_random_tables", test_round_trip_random_tables},
               {"round_trip_empty_and_bits", test_round_trip_empty_and_bits},
               {"gaussian_round_trip", test_gaussian_round_trip},
               {"gaussian_tables_shape", test_gaussian_tables_shape},
               {"gaussian_helpers", test_gaussian_helpers}, {"bad_indexes", test_bad_indexes},
               {"vq", test_vq}, {"escape_limits", test_escape_limits},
               {"truncated", test_truncated}, {"corrupted_and_random", test_corrupted_and_random});
}
