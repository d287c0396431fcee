/* `neco conformance DIR`: checks a decoder against the conformance streams of DIR/MANIFEST
 * (conformance/README.md), and `--sweep` damages every stream (truncations, bit flips) and
 * checks that each damaged copy is refused with an error, never a crash or a silent success. */
#define _POSIX_C_SOURCE 200809L
#include "conformance.h"

#include <neco/neco.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 1024

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        return -1;
    }
    *data = buf;
    *size = n;
    return 0;
}

static void hex(const uint8_t *d, int n, char *out)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* Maximum absolute sample difference between two decodings of one stream, in 8-bit levels for
 * images (16-bit samples divided by 257) and 16-bit steps for audio. */
static double max_difference(const neco_decoded *a, const neco_decoded *b)
{
    double worst = 0;
    if (a->info.media == NECO_MEDIA_IMAGE) {
        size_t n = neco_image_data_size(&a->image);
        size_t width = a->image.bit_depth / 8;
        for (size_t i = 0; i < n / width; i++) {
            double x = width == 1 ? ((uint8_t *)a->image.data)[i]
                                  : ((uint16_t *)a->image.data)[i] / 257.0;
            double y = width == 1 ? ((uint8_t *)b->image.data)[i]
                                  : ((uint16_t *)b->image.data)[i] / 257.0;
            worst = fmax(worst, fabs(x - y));
        }
        return worst;
    }
    size_t n = (size_t)a->audio.frames * a->audio.channels;
    for (size_t i = 0; i < n; i++) {
        double x, y;
        switch (a->audio.format) {
        case NECO_SAMPLE_S16:
            x = ((int16_t *)a->audio.data)[i];
            y = ((int16_t *)b->audio.data)[i];
            break;
        case NECO_SAMPLE_F32:
            x = ((float *)a->audio.data)[i] * 32768.0;
            y = ((float *)b->audio.data)[i] * 32768.0;
            break;
        case NECO_SAMPLE_S24:
            x = ((int32_t *)a->audio.data)[i] / 256.0;
            y = ((int32_t *)b->audio.data)[i] / 256.0;
            break;
        default:
            x = ((int32_t *)a->audio.data)[i] / 65536.0;
            y = ((int32_t *)b->audio.data)[i] / 65536.0;
            break;
        }
        worst = fmax(worst, fabs(x - y));
    }
    return worst;
}

static neco_context *make(const conformance_options *o, const char *backend)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.backend = backend;
    cfg.threads = o->threads;
    cfg.weights_dir = o->weights;
    neco_context *ctx = NULL;
    if (neco_context_create(&cfg, &ctx) != NECO_OK) {
        char why[256];
        if (neco_backend_check(backend, why, sizeof why) != NECO_OK && why[0])
            fprintf(stderr, "neco: %s\n", why);
        else
            fprintf(stderr, "neco: backend '%s' is not available\n", backend ? backend : "default");
    }
    return ctx;
}

/* One stream against its expected digests. With a backend other than ref, the symbols must
 * still match exactly, and the output must be within the tolerance of the ref decoding. */
static int check_stream(const conformance_options *o, neco_context *ctx, neco_context *ref,
                        const char *path, const char *want_out, const char *want_sym)
{
    uint8_t *data;
    size_t size;
    if (read_file(path, &data, &size)) {
        printf("FAIL %s: cannot read\n", path);
        return 0;
    }
    uint8_t out[32], sym[32];
    char out_hex[65], sym_hex[65];
    neco_status st = neco_stream_digests(ctx, data, size, out, sym);
    int ok = st == NECO_OK;
    if (!ok) {
        printf("FAIL %s: %s\n", path, neco_context_error(ctx));
        free(data);
        return 0;
    }
    hex(out, 32, out_hex);
    hex(sym, 32, sym_hex);
    if (strcmp(sym_hex, want_sym) != 0) {
        printf("FAIL %s: symbols %s, expected %s\n", path, sym_hex, want_sym);
        ok = 0;
    }
    if (!ref) {
        if (strcmp(out_hex, want_out) != 0) {
            printf("FAIL %s: output %s, expected %s\n", path, out_hex, want_out);
            ok = 0;
        }
    } else if (ok) {
        neco_decoded a, b;
        if (neco_decode(ctx, data, size, &a) != NECO_OK) {
            printf("FAIL %s: %s\n", path, neco_context_error(ctx));
            ok = 0;
        } else {
            if (neco_decode(ref, data, size, &b) != NECO_OK) {
                printf("FAIL %s (ref): %s\n", path, neco_context_error(ref));
                ok = 0;
            } else {
                double d = max_difference(&a, &b);
                if (d > o->tolerance) {
                    printf("FAIL %s: differs from ref by %g (tolerance %g)\n", path, d,
                           o->tolerance);
                    ok = 0;
                } else if (o->verbose) {
                    printf("     %s: max |%s - ref| = %g\n", path,
                           o->backend ? o->backend : "default backend", d);
                }
                neco_decoded_free(&b);
            }
            neco_decoded_free(&a);
        }
    }
    if (ok)
        printf("pass %s\n", path);
    free(data);
    return ok;
}

/* Truncations and bit flips of one stream; every damaged copy must fail to decode. */
static int sweep_stream(neco_context *ctx, const char *path)
{
    uint8_t *data;
    size_t size;
    if (read_file(path, &data, &size)) {
        printf("FAIL %s: cannot read\n", path);
        return 0;
    }
    uint8_t *copy = malloc(size ? size : 1);
    uint32_t seed = 1;
    size_t tried = 0, bad = 0;
    /* Truncations: every offset in the first 512 bytes and the last 512, 256 more spread
     * over the rest (all of them for small files). */
    for (size_t n = 0; n < size && !bad; n++) {
        if (size > 1280 && n >= 512 && n + 512 < size && (n * 256) / size == ((n - 1) * 256) / size)
            continue;
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, data, n);
        neco_decoded dec;
        if (neco_decode(ctx, cut, n, &dec) == NECO_OK) {
            printf("FAIL %s: truncated to %zu bytes, yet decoded\n", path, n);
            neco_decoded_free(&dec);
            bad++;
        }
        free(cut);
        tried++;
    }
    /* Bit flips: every bit of the header, then 1000 random bits. */
    for (size_t k = 0; k < 64 * 8 + 1000 && !bad; k++) {
        size_t bit;
        if (k < 64 * 8) {
            bit = k;
        } else {
            seed = seed * 1664525u + 1013904223u;
            bit = (size_t)(((uint64_t)seed << 16 ^ (uint64_t)k * 2654435761u) % ((uint64_t)size * 8));
        }
        if (bit >= size * 8)
            continue;
        memcpy(copy, data, size);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        neco_decoded dec;
        if (neco_decode(ctx, copy, size, &dec) == NECO_OK) {
            printf("FAIL %s: bit %zu flipped, yet decoded\n", path, bit);
            neco_decoded_free(&dec);
            bad++;
        }
        tried++;
    }
    if (!bad)
        printf("pass %s: %zu damaged copies refused\n", path, tried);
    free(copy);
    free(data);
    return bad == 0;
}

int conformance_run(const conformance_options *o)
{
    char manifest[LINE_MAX_LEN];
    snprintf(manifest, sizeof manifest, "%s/MANIFEST", o->dir);
    FILE *f = fopen(manifest, "r");
    if (!f) {
        fprintf(stderr, "neco: %s: cannot open\n", manifest);
        return 2;
    }
    neco_context *ctx = make(o, o->backend);
    int is_ref = o->backend && strcmp(o->backend, "ref") == 0;
    neco_context *ref = is_ref || o->sweep ? NULL : make(o, "ref");
    if (!ctx || (!is_ref && !o->sweep && !ref)) {
        fclose(f);
        neco_context_destroy(ctx);
        neco_context_destroy(ref);
        return 5;
    }
    char line[LINE_MAX_LEN];
    int passed = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], want_out[80], want_sym[80];
        if (line[0] == '#' || sscanf(line, "%255s %79s %79s", name, want_out, want_sym) != 3)
            continue;
        char path[LINE_MAX_LEN + 256];
        snprintf(path, sizeof path, "%s/%s", o->dir, name);
        int ok = o->sweep ? sweep_stream(ctx, path)
                          : check_stream(o, ctx, ref, path, want_out, want_sym);
        if (ok)
            passed++;
        else
            failed++;
        fflush(stdout);
    }
    fclose(f);
    neco_context_destroy(ctx);
    neco_context_destroy(ref);
    printf("%d passed, %d failed\n", passed, failed);
    return failed || passed == 0 ? 3 : 0;
}
