/* entropy/ against its fixtures: the Python twin's tables (train/neco_cdf.py writes
 * the .txt files in tests/data/entropy/) and the golden bitstreams (golden_mixed.bin), so that
 * a change of the table procedure or of the stream format breaks a test on purpose.
 *
 * To re-make the golden streams after a deliberate format change, run this program with
 * NECO_ENTROPY_WRITE_GOLDEN=1 from tests/ and update BITSTREAM.md in the same commit. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entropy/factorized.h"
#include "entropy/gaussian.h"
#include "entropy/rans.h"
#include "entropy/vq.h"
#include "test.h"

/* FNV-1a 64 over n values as little-endian words of width bytes (4 or 8): the table checksum
 * of BITSTREAM.md 2.3, also computed by train/neco_cdf.py fnv1a64(). */
static uint64_t fnv1a64(const void *values, size_t n, int width)
{
    uint64_t h = 0xCBF29CE484222325ull;
    const uint8_t *p = values;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (width == 8) {
            memcpy(&v, p + 8 * i, 8);
        } else {
            uint32_t w;
            memcpy(&w, p + 4 * i, 4);
            v = w;
        }
        for (int b = 0; b < width; b++) {
            h ^= (v >> (8 * b)) & 0xFF;
            h *= 0x100000001B3ull;
        }
    }
    return h;
}

static void test_python_cdf_vectors(void)
{
    FILE *f = fopen("data/entropy/cdf_vectors.txt", "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[256];
    int vectors = 0;
    long pos = ftell(f);
    while (fgets(line, sizeof line, f)) {
        int precision, n;
        if (line[0] == '#') {
            pos = ftell(f);
            continue;
        }
        fseek(f, pos, SEEK_SET);
        CU_ASSERT_FATAL(fscanf(f, " vector %d %d", &precision, &n) == 2);
        CU_ASSERT_FATAL(n >= 1 && n <= 4096);
        uint64_t *w = malloc(sizeof *w * (size_t)n);
        uint32_t *expect = malloc(sizeof *expect * (size_t)(n + 1));
        uint32_t *cdf = malloc(sizeof *cdf * (size_t)(n + 1));
        CU_ASSERT_FATAL(w && expect && cdf);
        for (int i = 0; i < n; i++)
            CU_ASSERT_FATAL(fscanf(f, " %" SCNu64, &w[i]) == 1);
        for (int i = 0; i <= n; i++)
            CU_ASSERT_FATAL(fscanf(f, " %" SCNu32, &expect[i]) == 1);
        CU_ASSERT_EQUAL(neco_cdf_build(w, n, precision, cdf), 0);
        CU_ASSERT(memcmp(cdf, expect, sizeof *cdf * (size_t)(n + 1)) == 0);
        free(w);
        free(expect);
        free(cdf);
        vectors++;
        CU_ASSERT_FATAL(fgets(line, sizeof line, f) != NULL); /* end of the cdf line */
        pos = ftell(f);
    }
    fclose(f);
    CU_ASSERT_EQUAL(vectors, 17);
}

static void test_python_gaussian_tables(void)
{
    FILE *f = fopen("data/entropy/gaussian_tables.txt", "r");
    CU_ASSERT_FATAL(f != NULL);
    neco_cdf_tables *sets[25] = {NULL};
    char line[256];
    int tables_checked = 0, hashes = 0;
    while (fgets(line, sizeof line, f)) {
        uint64_t hash;
        int p, index, offset, length;
        uint32_t scale;
        if (sscanf(line, "erf_hash %" SCNx64, &hash) == 1) {
            CU_ASSERT_EQUAL(fnv1a64(gc_erf_q32, GC_ERF_TABLE_SIZE, 8), hash);
            hashes++;
        } else if (sscanf(line, "scales_hash %" SCNx64, &hash) == 1) {
            CU_ASSERT_EQUAL(fnv1a64(neco_gc_default_scales_q16, NECO_GC_DEFAULT_NUM_SCALES, 4),
                            hash);
            hashes++;
        } else if (sscanf(line, "table %d %d %" SCNu32 " %d %d %" SCNx64, &p, &index, &scale,
                          &offset, &length, &hash) == 6) {
            CU_ASSERT_FATAL(p >= 4 && p <= 24 && index >= 0 && index < 64);
            if (!sets[p]) CU_ASSERT_FATAL(neco_gc_tables_create(&sets[p], p, NULL, 0) == 0);
            int nsym;
            int32_t off;
            const uint32_t *cdf = neco_cdf_tables_cdf(sets[p], index, &nsym, &off);
            CU_ASSERT_FATAL(cdf != NULL);
            CU_ASSERT_EQUAL(neco_gc_default_scales_q16[index], scale);
            CU_ASSERT_EQUAL(off, offset);
            CU_ASSERT_EQUAL(nsym + 1, length);
            CU_ASSERT_EQUAL(fnv1a64(cdf, (size_t)nsym + 1, 4), hash);
            tables_checked++;
        }
    }
    fclose(f);
    for (int p = 0; p < 25; p++)
        neco_cdf_tables_destroy(sets[p]);
    CU_ASSERT_EQUAL(hashes, 2);
    CU_ASSERT_EQUAL(tables_checked, 3 * 64);
}

/* ------------------------------------------------------------------ golden streams */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

enum { GOLDEN_Z = 256, GOLDEN_Y = 1500, GOLDEN_VQ = 400, GOLDEN_BITS = 8 };

/* Everything one golden stream holds: factorized z (4 channels), Gaussian y with escapes, VQ
 * indices of two codebooks (learned and uniform) and raw bits, in that order. */
typedef struct golden_case {
    neco_cdf_tables *factorized, *gauss, *vq;
    int32_t z[GOLDEN_Z], z_idx[GOLDEN_Z];
    int32_t y[GOLDEN_Y], y_idx[GOLDEN_Y];
    int32_t v[GOLDEN_VQ], v_idx[GOLDEN_VQ];
    uint32_t bits[GOLDEN_BITS];
} golden_case;

static void golden_make(golden_case *g)
{
    memset(g, 0, sizeof *g);
    /* Factorized: channel c has 9 + 4c symbols with triangular weights, then the escape. */
    int32_t cdfs[4 * 32], lengths[4], offsets[4];
    size_t base = 0;
    for (int c = 0; c < 4; c++) {
        const int n = 9 + 4 * c + 1;
        uint64_t w[32];
        uint32_t cdf[33];
        for (int i = 0; i < n - 1; i++)
            w[i] = (uint64_t)(1 + (i < (n - 1) / 2 ? i : n - 2 - i)) * (uint64_t)(c + 1) * 1000;
        w[n - 1] = 3;
        CU_ASSERT_FATAL(neco_cdf_build(w, n, NECO_CDF_PRECISION, cdf) == 0);
        for (int i = 0; i <= n; i++)
            cdfs[base + (size_t)i] = (int32_t)cdf[i];
        lengths[c] = n + 1;
        offsets[c] = -(n - 1) / 2;
        base += (size_t)n + 1;
    }
    CU_ASSERT_FATAL(neco_factorized_tables_create(&g->factorized, NECO_CDF_PRECISION, 4, cdfs,
                                                  lengths, offsets) == 0);
    CU_ASSERT_FATAL(neco_gc_tables_create(&g->gauss, NECO_CDF_PRECISION, NULL, 0) == 0);
    uint32_t counts[2 * 64];
    for (int i = 0; i < 64; i++) {
        counts[i] = (uint32_t)((i * 37) % 11);
        counts[64 + i] = 0;
    }
    CU_ASSERT_FATAL(neco_vq_tables_create(&g->vq, NECO_CDF_PRECISION, 2, 64, counts) == 0);

    uint64_t s = 20261127;
    for (int i = 0; i < GOLDEN_Z; i++) {
        g->z_idx[i] = i % 4;
        g->z[i] = (int32_t)(rng_next(&s) % 15) - 7 + (i % 97 == 0 ? 1000 : 0);
    }
    for (int i = 0; i < GOLDEN_Y; i++) {
        g->y_idx[i] = (int32_t)(rng_next(&s) % NECO_GC_DEFAULT_NUM_SCALES);
        const int64_t spread = ((int64_t)neco_gc_default_scales_q16[g->y_idx[i]] * 2 >> 16) + 1;
        g->y[i] = (int32_t)((int64_t)(rng_next(&s) % (uint64_t)(2 * spread + 1)) - spread);
        if (i % 211 == 0) g->y[i] = i % 2 ? INT32_MIN : INT32_MAX - i;
    }
    for (int i = 0; i < GOLDEN_VQ; i++) {
        g->v_idx[i] = i % 2;
        g->v[i] = (int32_t)(rng_next(&s) % 64);
    }
    for (int i = 0; i < GOLDEN_BITS; i++)
        g->bits[i] = (uint32_t)rng_next(&s) >> (4 * i);
}

static void golden_free(golden_case *g)
{
    neco_cdf_tables_destroy(g->factorized);
    neco_cdf_tables_destroy(g->gauss);
    neco_cdf_tables_destroy(g->vq);
}

static void test_golden_stream(void)
{
    golden_case *g = malloc(sizeof *g);
    CU_ASSERT_FATAL(g != NULL);
    golden_make(g);
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    CU_ASSERT_FATAL(neco_rans_encode_with_indexes(&enc, g->factorized, g->z, g->z_idx, GOLDEN_Z) ==
                    0);
    CU_ASSERT_FATAL(neco_rans_encode_with_indexes(&enc, g->gauss, g->y, g->y_idx, GOLDEN_Y) == 0);
    CU_ASSERT_FATAL(neco_rans_encode_with_indexes(&enc, g->vq, g->v, g->v_idx, GOLDEN_VQ) == 0);
    for (int i = 0; i < GOLDEN_BITS; i++)
        CU_ASSERT_FATAL(neco_rans_encode_bits(&enc, g->bits[i], 32 - 4 * i) == 0);
    const size_t cap = neco_rans_encoder_bound(&enc);
    uint8_t *stream = malloc(cap);
    size_t size = 0;
    CU_ASSERT_FATAL(stream && neco_rans_encoder_flush(&enc, stream, cap, &size) == 0);
    neco_rans_encoder_release(&enc);

    const char *path = "data/entropy/golden_mixed.bin";
    const char *write = getenv("NECO_ENTROPY_WRITE_GOLDEN");
    if (write && write[0] == '1') {
        FILE *w = fopen(path, "wb");
        CU_ASSERT_FATAL(w != NULL);
        CU_ASSERT(fwrite(stream, 1, size, w) == size);
        fclose(w);
    }
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    uint8_t *golden = malloc(65536);
    CU_ASSERT_FATAL(golden != NULL);
    const size_t golden_size = fread(golden, 1, 65536, f);
    fclose(f);
    /* The encoder still writes the committed bytes... */
    CU_ASSERT_EQUAL(golden_size, size);
    CU_ASSERT(golden_size == size && memcmp(golden, stream, size) == 0);

    /* ...and the decoder reads the committed bytes back to the same symbols. */
    golden_case *d = malloc(sizeof *d);
    CU_ASSERT_FATAL(d != NULL);
    neco_rans_decoder dec;
    CU_ASSERT_FATAL(neco_rans_decoder_init(&dec, golden, golden_size) == 0);
    CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, g->factorized, g->z_idx, GOLDEN_Z, d->z),
                    0);
    CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, g->gauss, g->y_idx, GOLDEN_Y, d->y), 0);
    CU_ASSERT_EQUAL(neco_rans_decode_with_indexes(&dec, g->vq, g->v_idx, GOLDEN_VQ, d->v), 0);
    for (int i = 0; i < GOLDEN_BITS; i++)
        CU_ASSERT_EQUAL(neco_rans_decode_bits(&dec, 32 - 4 * i, &d->bits[i]), 0);
    CU_ASSERT_EQUAL(neco_rans_decoder_finish(&dec), 0);
    CU_ASSERT(memcmp(d->z, g->z, sizeof d->z) == 0);
    CU_ASSERT(memcmp(d->y, g->y, sizeof d->y) == 0);
    CU_ASSERT(memcmp(d->v, g->v, sizeof d->v) == 0);
    CU_ASSERT(memcmp(d->bits, g->bits, sizeof d->bits) == 0);
    free(d);
    free(golden);
    free(stream);
    golden_free(g);
    free(g);
}

void neco_test_register(void)
{
    NECO_SUITE("entropy_tables", {"python_cdf_vectors", test_python_cdf_vectors},
               {"python_gaussian_tables", test_python_gaussian_tables},
               {"golden_stream", test_golden_stream});
}
