/* Library-level speed of the image codec (a program, not a test): the time of
 * neco_encode_image and neco_decode on images already in memory, with one context kept for the
 * whole run, as a long-lived user of libneco (the FFmpeg filter, a server) sees it. Process
 * start, loading the weights and PNG I/O are left out; tools/bench_image_speed.py measures the
 * command-line tool, which includes them.
 *
 *   bench_image [--model ID] [--quality Q] [--backend B] [--threads N] [--reps R]
 *               [--weights DIR] [--decode-only] image.png|image.ppm...
 *
 * Every image is encoded and decoded once untimed (the first call creates the backend's
 * primitives and touches fresh memory), then R rounds time every image's encode and decode
 * (--decode-only: the decode alone, for profiling it).
 * Printed per operation: the median and the minimum wall time in milliseconds, and the median
 * CPU time of the process (all threads; on a loaded machine the wall time includes waiting for a
 * core, the CPU time does not), and the decodes per second.
 *
 * Images are PNG (libpng, through apps/imageio.c, where apps/ is built) or binary 8-bit PPM
 * (P6, read here): the GPU machine's check (tools/cuda_device_check.sh) builds without apps/,
 * whose libraries that machine lacks. */
#define _POSIX_C_SOURCE 200809L
#ifdef NECO_BENCH_PNG
#include "apps/imageio.h"
#endif
#include "neco/neco.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A binary PPM (P6, maxval 255): RGB, 8 bits. */
static int read_ppm(const char *path, neco_image *img, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    int w = 0, h = 0, maxval = 0;
    if (!f || fscanf(f, "P6 %d %d %d", &w, &h, &maxval) != 3 || fgetc(f) == EOF || w < 1 ||
        h < 1 || w > 65535 || h > 65535 || maxval != 255) {
        snprintf(err, errlen, "%s: not a binary 8-bit PPM", path);
        if (f) fclose(f);
        return -1;
    }
    size_t bytes = (size_t)w * h * 3;
    memset(img, 0, sizeof *img);
    img->data = malloc(bytes);
    if (!img->data || fread(img->data, 1, bytes, f) != bytes) {
        snprintf(err, errlen, "%s: truncated", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    img->width = w, img->height = h, img->channels = 3, img->bit_depth = 8;
    return 0;
}

static int read_image(const char *path, neco_image *img, char *err, size_t errlen)
{
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".ppm")) return read_ppm(path, img, err, errlen);
#ifdef NECO_BENCH_PNG
    return imageio_read_png(path, img, err, errlen);
#else
    snprintf(err, errlen, "%s: this build reads .ppm only (no libpng)", path);
    return -1;
#endif
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_image [--model ID] [--quality Q] [--backend B] [--threads N] "
                    "[--reps R] [--weights DIR] [--decode-only] image.png|image.ppm...\n");
    exit(1);
}

int main(int argc, char **argv)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.threads = 1;
    neco_encode_params ep;
    neco_encode_params_default(&ep);
    int reps = 5, first = 0, decode_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            first = i;
            break;
        }
        if (!strcmp(a, "--decode-only")) {
            decode_only = 1;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--model"))
            ep.model = v;
        else if (!strcmp(a, "--quality"))
            ep.quality = atoi(v);
        else if (!strcmp(a, "--backend"))
            cfg.backend = v;
        else if (!strcmp(a, "--threads"))
            cfg.threads = atoi(v);
        else if (!strcmp(a, "--reps"))
            reps = atoi(v);
        else if (!strcmp(a, "--weights"))
            cfg.weights_dir = v;
        else
            usage();
    }
    if (!first || reps < 1) usage();
    int n = argc - first;
    neco_image *img = calloc((size_t)n, sizeof *img);
    uint8_t **stream = calloc((size_t)n, sizeof *stream);
    size_t *size = calloc((size_t)n, sizeof *size);
    double *enc = malloc(sizeof(double) * (size_t)(n * reps));
    double *dec = malloc(sizeof(double) * (size_t)(n * reps));
    double *enc_cpu = malloc(sizeof(double) * (size_t)(n * reps));
    double *dec_cpu = malloc(sizeof(double) * (size_t)(n * reps));
    neco_context *ctx = NULL;
    if (!img || !stream || !size || !enc || !dec || !enc_cpu || !dec_cpu ||
        neco_context_create(&cfg, &ctx) != NECO_OK) {
        char why[256] = "";
        neco_backend_check(cfg.backend, why, sizeof why);
        fprintf(stderr, "bench_image: cannot create a context%s%s\n", why[0] ? ": " : "", why);
        return 1;
    }
    char err[256];
    double bits = 0, pixels = 0;
    for (int k = 0; k < n; k++) {
        if (read_image(argv[first + k], &img[k], err, sizeof err) != 0) {
            fprintf(stderr, "bench_image: %s\n", err);
            return 1;
        }
        neco_decoded d;
        if (neco_encode_image(ctx, &img[k], &ep, &stream[k], &size[k]) != NECO_OK ||
            neco_decode(ctx, stream[k], size[k], &d) != NECO_OK) {
            fprintf(stderr, "bench_image: %s: %s\n", argv[first + k], neco_context_error(ctx));
            return 1;
        }
        neco_decoded_free(&d);
        bits += 8.0 * (double)size[k];
        pixels += (double)img[k].width * img[k].height;
    }
    int m = 0;
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < n; k++, m++) {
            uint8_t *out = NULL;
            size_t out_size = 0;
            neco_decoded d;
            double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
            neco_status st =
                decode_only ? NECO_OK : neco_encode_image(ctx, &img[k], &ep, &out, &out_size);
            double t1 = seconds(CLOCK_MONOTONIC), c1 = seconds(CLOCK_PROCESS_CPUTIME_ID);
            if (st == NECO_OK) st = neco_decode(ctx, stream[k], size[k], &d);
            double t2 = seconds(CLOCK_MONOTONIC), c2 = seconds(CLOCK_PROCESS_CPUTIME_ID);
            if (st != NECO_OK) {
                fprintf(stderr, "bench_image: %s\n", neco_context_error(ctx));
                return 1;
            }
            neco_decoded_free(&d);
            neco_free(out);
            enc[m] = 1e3 * (t1 - t0), enc_cpu[m] = 1e3 * (c1 - c0);
            dec[m] = 1e3 * (t2 - t1), dec_cpu[m] = 1e3 * (c2 - c1);
        }
    double emin = enc[0], dmin = dec[0];
    for (int i = 1; i < m; i++) {
        emin = enc[i] < emin ? enc[i] : emin;
        dmin = dec[i] < dmin ? dec[i] : dmin;
    }
    printf("%s q%d %s %d thread(s), %d image(s) x %d rounds, %.4f bpp\n",
           ep.model ? ep.model : "default", ep.quality, cfg.backend ? cfg.backend : "auto",
           cfg.threads, n, reps, bits / pixels);
    if (!decode_only)
        printf("encode ms: median %.1f  min %.1f  cpu %.1f\n", median(enc, m), emin,
               median(enc_cpu, m));
    double dmed = median(dec, m);
    printf("decode ms: median %.1f  min %.1f  cpu %.1f  (%.1f decodes/s)\n", dmed, dmin,
           median(dec_cpu, m), 1e3 / dmed);
    for (int k = 0; k < n; k++) {
        free(img[k].data);
        neco_free(stream[k]);
    }
    free(img), free(stream), free(size), free(enc), free(dec), free(enc_cpu), free(dec_cpu);
    neco_context_destroy(ctx);
    return 0;
}
