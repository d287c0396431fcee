/* libFuzzer harness of entropy/ (issue 3). The first byte picks a mode:
 *   0  decode the rest as a Gaussian-conditional stream, table indexes taken from the input;
 *   1  the same with VQ tables (no escape): every decoded index must lie in its codebook;
 *   2  round trip: the rest is int32 values and indexes, encoded then decoded;
 *   3  factorized tables built from the input (validation), then a decode with them.
 * Whenever a decode ends cleanly (every symbol, whole stream, states back at L), re-encoding its
 * symbols must give back exactly the input stream, since rANS is a bijection; a mismatch, an
 * out-of-codebook index or a failed round trip traps. Sanitizers catch the rest. */
#include <stdlib.h>
#include <string.h>

#include "entropy/factorized.h"
#include "entropy/gaussian.h"
#include "entropy/rans.h"
#include "entropy/vq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_SYMBOLS = 4096 };

/* Tables are immutable and built once per process: the harness, not the library, keeps them. */
static neco_cdf_tables *fuzz_gauss, *fuzz_vq;

static void fuzz_check(int ok)
{
    if (!ok) __builtin_trap();
}

/* Decodes stream with the tables, n symbols; if it ends cleanly, checks re-encoding. */
static void fuzz_decode(const neco_cdf_tables *tables, const int32_t *idx, size_t n,
                        const uint8_t *stream, size_t size)
{
    int32_t *values = malloc(sizeof *values * (n ? n : 1));
    if (!values) return;
    neco_rans_decoder dec;
    int st = neco_rans_decoder_init(&dec, stream, size);
    if (!st) st = neco_rans_decode_with_indexes(&dec, tables, idx, n, values);
    fuzz_check(st == 0 || st == NECO_ENTROPY_ERR_CORRUPT || st == NECO_ENTROPY_ERR_TRUNCATED);
    if (!st && !tables->has_escape)
        for (size_t i = 0; i < n; i++)
            fuzz_check(values[i] >= tables->tables[idx[i]].offset &&
                       (int64_t)values[i] - tables->tables[idx[i]].offset <
                           (int64_t)tables->tables[idx[i]].nsym);
    if (!st && neco_rans_decoder_finish(&dec) == 0) {
        neco_rans_encoder enc;
        neco_rans_encoder_init(&enc);
        fuzz_check(neco_rans_encode_with_indexes(&enc, tables, values, idx, n) == 0);
        const size_t cap = neco_rans_encoder_bound(&enc);
        uint8_t *again = malloc(cap);
        size_t again_size = 0;
        if (again) {
            fuzz_check(neco_rans_encoder_flush(&enc, again, cap, &again_size) == 0);
            fuzz_check(again_size == size && memcmp(again, stream, size) == 0);
            free(again);
        }
        neco_rans_encoder_release(&enc);
    }
    free(values);
}

static uint32_t fuzz_read32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_gauss) {
        uint32_t counts[4 * 256];
        for (int i = 0; i < 4 * 256; i++)
            counts[i] = i < 256 ? (uint32_t)(i * i % 97) : 0; /* codebooks 1-3 uniform */
        if (neco_gc_tables_create(&fuzz_gauss, NECO_CDF_PRECISION, NULL, 0) != 0 ||
            neco_vq_tables_create(&fuzz_vq, NECO_CDF_PRECISION, 4, 256, counts) != 0)
            abort();
    }
    if (size < 2) return 0;
    const int mode = data[0] & 3;
    data++;
    size--;
    int32_t idx[MAX_SYMBOLS];

    if (mode == 0 || mode == 1) {
        /* data[0] = count / 16; then count index bytes; then the stream. */
        size_t n = (size_t)data[0] * 16;
        data++;
        size--;
        if (n > size) n = size;
        const neco_cdf_tables *tables = mode == 0 ? fuzz_gauss : fuzz_vq;
        for (size_t i = 0; i < n; i++)
            idx[i] = data[i] % tables->num_tables;
        fuzz_decode(tables, idx, n, data + n, size - n);
    } else if (mode == 2) {
        /* Records of 5 bytes: an index byte and an int32 value. */
        const size_t n = size / 5 < MAX_SYMBOLS ? size / 5 : MAX_SYMBOLS;
        int32_t values[MAX_SYMBOLS], back[MAX_SYMBOLS];
        for (size_t i = 0; i < n; i++) {
            idx[i] = data[5 * i] % NECO_GC_DEFAULT_NUM_SCALES;
            values[i] = (int32_t)fuzz_read32(data + 5 * i + 1);
        }
        neco_rans_encoder enc;
        neco_rans_encoder_init(&enc);
        fuzz_check(neco_rans_encode_with_indexes(&enc, fuzz_gauss, values, idx, n) == 0);
        const size_t cap = neco_rans_encoder_bound(&enc);
        uint8_t *stream = malloc(cap);
        size_t stream_size = 0;
        if (stream) {
            fuzz_check(neco_rans_encoder_flush(&enc, stream, cap, &stream_size) == 0);
            neco_rans_decoder dec;
            fuzz_check(neco_rans_decoder_init(&dec, stream, stream_size) == 0);
            fuzz_check(neco_rans_decode_with_indexes(&dec, fuzz_gauss, idx, n, back) == 0);
            fuzz_check(neco_rans_decoder_finish(&dec) == 0);
            fuzz_check(memcmp(values, back, sizeof *values * n) == 0);
            free(stream);
        }
        neco_rans_encoder_release(&enc);
    } else {
        /* data[0]: precision; data[1]: tables (1..4); per table a length byte and an int32
         * offset; then int32 CDF values; then index bytes and the stream, as in mode 0. */
        if (size < 2) return 0;
        const int precision = data[0] % 26;
        const int ntables = 1 + data[1] % 4;
        size_t pos = 2;
        int32_t lengths[4], offsets[4];
        size_t total = 0;
        for (int t = 0; t < ntables; t++) {
            if (size - pos < 5) return 0;
            lengths[t] = data[pos];
            offsets[t] = (int32_t)fuzz_read32(data + pos + 1);
            total += (size_t)lengths[t];
            pos += 5;
        }
        if ((size - pos) / 4 < total) return 0;
        int32_t cdfs[4 * 256];
        for (size_t i = 0; i < total; i++)
            cdfs[i] = (int32_t)fuzz_read32(data + pos + 4 * i);
        pos += 4 * total;
        neco_cdf_tables *tables = NULL;
        if (neco_factorized_tables_create(&tables, precision, ntables, cdfs, lengths, offsets) != 0)
            return 0;
        const size_t rest = size - pos;
        const size_t n = rest / 2 < MAX_SYMBOLS ? rest / 2 : MAX_SYMBOLS;
        for (size_t i = 0; i < n; i++)
            idx[i] = data[pos + i] % ntables;
        fuzz_decode(tables, idx, n, data + pos + n, rest - n);
        neco_cdf_tables_destroy(tables);
    }
    return 0;
}
