/* Benchmark of entropy/ (a program, not a test): encode and decode speed of Gaussian-conditional
 * symbols, and the size overhead against the ideal code length sum(-log2 p) under the exact
 * Gaussian the symbols are drawn from. entropy/README.md records its results and commands.
 *
 *   bench_entropy [-n symbols] [-p precision] [-r repeats] [-k skew] [-d dump_dir]
 *
 * Symbols: scale index uniform over the 64 default scales (-k K: the smallest of K uniform
 * draws, which favours the small scales that dominate real latents), value = round(N(0, scale)),
 * from a fixed seed. -d writes the symbols, indexes and tables as little-endian int32 files so that
 * another coder (CompressAI's RansEncoder) can be timed on exactly the same input. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entropy/gaussian.h"
#include "entropy/rans.h"

/* Wall time, and the thread's CPU time: on a shared, loaded machine the second one leaves out
 * the time the benchmark spent waiting for a core, so it is the one to compare. */
static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) * 0x1p-53;
}

/* P(round(X) = v) for X ~ N(0, s), computed on the side of the smaller tail so that tail bins
 * keep their precision. */
static double gauss_bin(int32_t v, double s)
{
    const double a = fabs((double)v);
    const double k = 1.0 / (s * sqrt(2.0));
    if (v == 0) return erf(0.5 * k);
    return 0.5 * (erfc((a - 0.5) * k) - erfc((a + 0.5) * k));
}

static int write_file(const char *dir, const char *name, const void *data, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const size_t w = fwrite(data, 1, bytes, f);
    fclose(f);
    return w == bytes ? 0 : -1;
}

static int dump(const char *dir, const neco_cdf_tables *tables, const int32_t *values,
                const int32_t *idx, size_t n)
{
    size_t total = 0;
    for (int t = 0; t < tables->num_tables; t++)
        total += tables->tables[t].nsym + 1;
    int32_t *cdfs = malloc(sizeof *cdfs * total);
    int32_t lengths[256], offsets[256];
    if (!cdfs || tables->num_tables > 256) return -1;
    size_t base = 0;
    for (int t = 0; t < tables->num_tables; t++) {
        int nsym;
        const uint32_t *c = neco_cdf_tables_cdf(tables, t, &nsym, &offsets[t]);
        for (int i = 0; i <= nsym; i++)
            cdfs[base + (size_t)i] = (int32_t)c[i];
        lengths[t] = nsym + 1;
        base += (size_t)nsym + 1;
    }
    int st = write_file(dir, "values.i32", values, sizeof *values * n);
    st |= write_file(dir, "indexes.i32", idx, sizeof *idx * n);
    st |= write_file(dir, "cdfs.i32", cdfs, sizeof *cdfs * total);
    st |= write_file(dir, "cdf_lengths.i32", lengths, sizeof *lengths * (size_t)tables->num_tables);
    st |= write_file(dir, "offsets.i32", offsets, sizeof *offsets * (size_t)tables->num_tables);
    free(cdfs);
    return st;
}

int main(int argc, char **argv)
{
    size_t n = 10000000;
    int precision = NECO_CDF_PRECISION, repeats = 3, skew = 1;
    const char *dump_dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n"))
            n = (size_t)strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-p"))
            precision = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r"))
            repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-k"))
            skew = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-d"))
            dump_dir = argv[i + 1];
    }
    if (n == 0 || repeats < 1 || skew < 1) {
        fprintf(stderr, "usage: %s [-n symbols] [-p precision] [-r repeats] [-k skew] [-d dir]\n",
                argv[0]);
        return 2;
    }
    neco_cdf_tables *tables = NULL;
    if (neco_gc_tables_create(&tables, precision, NULL, 0) != 0) {
        fprintf(stderr, "cannot build the tables at precision %d\n", precision);
        return 1;
    }
    int32_t *values = malloc(sizeof *values * n);
    int32_t *idx = malloc(sizeof *idx * n);
    int32_t *decoded = malloc(sizeof *decoded * n);
    if (!values || !idx || !decoded) return 1;

    /* Symbols and their ideal cost; the table cost sums -log2(f/2^P) of the coded symbols. */
    uint64_t s = 42;
    double ideal = 0, model = 0;
    size_t escapes = 0;
    for (size_t i = 0; i < n; i++) {
        idx[i] = NECO_GC_DEFAULT_NUM_SCALES;
        for (int k = 0; k < skew; k++) {
            const int32_t draw = (int32_t)(rng_next(&s) % NECO_GC_DEFAULT_NUM_SCALES);
            idx[i] = draw < idx[i] ? draw : idx[i];
        }
        const double scale = neco_gc_default_scales_q16[idx[i]] / 65536.0;
        const double g = sqrt(-2.0 * log(rng_unit(&s))) * cos(6.283185307179586 * rng_unit(&s));
        values[i] = (int32_t)lround(g * scale);
        ideal -= log2(gauss_bin(values[i], scale));
        const cdf_table *tab = &tables->tables[idx[i]];
        const int64_t u = (int64_t)values[i] - tab->offset;
        const uint32_t *c = tables->cdf + tab->cdf_base;
        if (u >= 0 && u < (int64_t)tab->nregular) {
            model -= log2((double)(c[u + 1] - c[u]) / (double)(1u << precision));
        } else {
            escapes++;
        }
    }
    if (dump_dir && dump(dump_dir, tables, values, idx, n) != 0) {
        fprintf(stderr, "cannot write to %s\n", dump_dir);
        return 1;
    }

    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    uint8_t *stream = NULL;
    size_t size = 0;
    double best_enc = 1e30, best_dec = 1e30, cpu_enc = 1e30, cpu_dec = 1e30;
    for (int r = 0; r < repeats; r++) {
        const double c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        const double t0 = clock_seconds(CLOCK_MONOTONIC);
        if (neco_rans_encode_with_indexes(&enc, tables, values, idx, n) != 0) return 1;
        const size_t cap = neco_rans_encoder_bound(&enc);
        if (!stream && !(stream = malloc(cap))) return 1;
        if (neco_rans_encoder_flush(&enc, stream, cap, &size) != 0) return 1;
        const double c1 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        const double t1 = clock_seconds(CLOCK_MONOTONIC);
        neco_rans_decoder dec;
        if (neco_rans_decoder_init(&dec, stream, size) != 0 ||
            neco_rans_decode_with_indexes(&dec, tables, idx, n, decoded) != 0 ||
            neco_rans_decoder_finish(&dec) != 0)
            return 1;
        const double c2 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        const double t2 = clock_seconds(CLOCK_MONOTONIC);
        if (memcmp(values, decoded, sizeof *values * n) != 0) {
            fprintf(stderr, "round trip mismatch\n");
            return 1;
        }
        best_enc = t1 - t0 < best_enc ? t1 - t0 : best_enc;
        best_dec = t2 - t1 < best_dec ? t2 - t1 : best_dec;
        cpu_enc = c1 - c0 < cpu_enc ? c1 - c0 : cpu_enc;
        cpu_dec = c2 - c1 < cpu_dec ? c2 - c1 : cpu_dec;
    }
    const double bits = 8.0 * (double)size;
    printf("symbols %zu  precision %d  lanes %d  skew %d  escapes %zu\n", n, precision,
           NECO_RANS_LANES, skew, escapes);
    printf("cpu time:  encode %.1f Msym/s  decode %.1f Msym/s  (best of %d)\n",
           (double)n / cpu_enc / 1e6, (double)n / cpu_dec / 1e6, repeats);
    printf("wall time: encode %.1f Msym/s  decode %.1f Msym/s\n", (double)n / best_enc / 1e6,
           (double)n / best_dec / 1e6);
    printf("bytes %zu  ideal %.0f bits (%.4f bits/sym)  overhead %.3f %%  "
           "(tables %.3f %%, coder %.3f %%)\n",
           size, ideal, ideal / (double)n, 100.0 * (bits - ideal) / ideal,
           100.0 * (model - ideal) / ideal, 100.0 * (bits - model) / ideal);
    neco_rans_encoder_release(&enc);
    neco_cdf_tables_destroy(tables);
    free(stream);
    free(values);
    free(idx);
    free(decoded);
    return 0;
}
