/* Image and audio round trips through the codec with the cuda backend, for each model:
 * encoded on the GPU and decoded on the GPU and by ref. The GPU's decode must stay within one
 * output level of ref's on the same stream (the conformance rule for backends other than ref),
 * and a stream encoded on the GPU must cost and score as ref's own encoding does (within 2 %
 * of its size and 0.05 dB of its PSNR: the analysis transform's float sums differ a little,
 * which moves a few quantised latents). Without a CUDA device the program says why and exits
 * 77 (ctest: skipped, never passed). Inputs are synthetic (smooth patterns plus noise; tones
 * plus noise), made here. */
#include "nets/cuda/cuda.h"
#include "neco/neco.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

static neco_context *make(const char *backend)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.backend = backend;
    cfg.threads = 2;
    neco_context *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(neco_context_create(&cfg, &ctx), NECO_OK);
    return ctx;
}

static uint32_t rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Max |a - b| over n samples (8-bit or 16-bit). */
static double max_diff(const void *a, const void *b, size_t n, int s16)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = s16 ? (double)((const int16_t *)a)[i] - ((const int16_t *)b)[i]
                       : (double)((const uint8_t *)a)[i] - ((const uint8_t *)b)[i];
        m = fabs(d) > m ? fabs(d) : m;
    }
    return m;
}

/* PSNR of b against the reference r (peak 255 or 32767). */
static double psnr(const void *r, const void *b, size_t n, int s16)
{
    double se = 0, peak = s16 ? 32767.0 : 255.0;
    for (size_t i = 0; i < n; i++) {
        double d = s16 ? (double)((const int16_t *)r)[i] - ((const int16_t *)b)[i]
                       : (double)((const uint8_t *)r)[i] - ((const uint8_t *)b)[i];
        se += d * d;
    }
    return se == 0 ? 99.0 : 10.0 * log10(peak * peak * (double)n / se);
}

typedef struct media {
    int audio;
    neco_image img;
    neco_audio au;
    size_t n; /* samples */
} media;

static int encode(neco_context *ctx, const media *m, const neco_encode_params *p, uint8_t **out,
                  size_t *size)
{
    return m->audio ? neco_encode_audio(ctx, &m->au, p, out, size)
                    : neco_encode_image(ctx, &m->img, p, out, size);
}

static const void *samples(const neco_decoded *d, int audio)
{
    return audio ? d->audio.data : d->image.data;
}

static void round_trip(neco_context *gpu, neco_context *ref, const media *m, const char *model,
                       int quality)
{
    neco_encode_params p = {model, quality, 0, 0};
    uint8_t *sg = NULL, *sr = NULL;
    size_t zg = 0, zr = 0;
    int eg = encode(gpu, m, &p, &sg, &zg), er = encode(ref, m, &p, &sr, &zr);
    CU_ASSERT_EQUAL(eg, NECO_OK);
    CU_ASSERT_EQUAL(er, NECO_OK);
    if (eg || er) {
        printf("\n    %s: %s / %s", model, neco_context_error(gpu), neco_context_error(ref));
        neco_free(sg), neco_free(sr);
        return;
    }
    neco_decoded gg, rg, rr; /* decoder, stream: gpu-gpu, ref-gpu, ref-ref */
    CU_ASSERT_EQUAL_FATAL(neco_decode(gpu, sg, zg, &gg), NECO_OK);
    CU_ASSERT_EQUAL_FATAL(neco_decode(ref, sg, zg, &rg), NECO_OK);
    CU_ASSERT_EQUAL_FATAL(neco_decode(ref, sr, zr, &rr), NECO_OK);
    int s16 = m->audio;
    for (int k = 0; k < 3; k++) { /* every decoding has the input's layout */
        const neco_decoded *x = k == 0 ? &gg : k == 1 ? &rg : &rr;
        int same = m->audio
                       ? x->audio.format == NECO_SAMPLE_S16 && x->audio.frames == m->au.frames &&
                             x->audio.channels == m->au.channels
                       : x->image.width == m->img.width && x->image.height == m->img.height &&
                             x->image.channels == 3 && x->image.bit_depth == 8;
        CU_ASSERT_FATAL(same);
    }
    const void *src = m->audio ? m->au.data : m->img.data;
    double d = max_diff(samples(&gg, m->audio), samples(&rg, m->audio), m->n, s16);
    double pg = psnr(src, samples(&rg, m->audio), m->n, s16);
    double pr = psnr(src, samples(&rr, m->audio), m->n, s16);
    printf(
        "\n    %s q%d: |gpu - ref| decode %g; stream %zu bytes (ref's encoder %zu), PSNR %.3f dB "
        "(ref's %.3f)",
        model, quality, d, zg, zr, pg, pr);
    CU_ASSERT(d <= 1.0);
    CU_ASSERT(fabs((double)zg - (double)zr) <= 0.02 * (double)zr + 16);
    CU_ASSERT(fabs(pg - pr) <= 0.05);
    neco_decoded_free(&gg), neco_decoded_free(&rg), neco_decoded_free(&rr);
    neco_free(sg), neco_free(sr);
}

static void test_images(void)
{
    neco_context *gpu = make("cuda"), *ref = make("ref");
    uint32_t seed = 7, w = 384, h = 256;
    media m = {0};
    m.img = (neco_image){w, h, 3, 8, malloc((size_t)w * h * 3)};
    m.n = (size_t)w * h * 3;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.img.data);
    uint8_t *px = m.img.data;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                double v = 128 + 60 * sin(0.031 * x * (c + 1) + 0.017 * y) +
                           30 * cos(0.05 * y - 0.02 * x * c) + (double)(rng(&seed) % 17) - 8;
                px[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    round_trip(gpu, ref, &m, "img-wave", 3);
    round_trip(gpu, ref, &m, "img-wave", 7);
    round_trip(gpu, ref, &m, "img-swin", 4);
    free(m.img.data);
    neco_context_destroy(gpu), neco_context_destroy(ref);
}

static void test_audio(void)
{
    neco_context *gpu = make("cuda"), *ref = make("ref");
    const struct {
        const char *model;
        uint32_t rate, channels;
        int quality;
    } cases[] = {{"aud-wave", 48000, 2, 3}, {"aud-grvq", 16000, 1, 7}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint32_t seed = 11, rate = cases[k].rate, ch = cases[k].channels;
        uint64_t frames = (uint64_t)rate * 3; /* 3 s: several chunks */
        media m = {0};
        m.audio = 1;
        m.n = (size_t)frames * ch;
        m.au = (neco_audio){rate, ch, frames, NECO_SAMPLE_S16, malloc(m.n * sizeof(int16_t))};
        CU_ASSERT_PTR_NOT_NULL_FATAL(m.au.data);
        int16_t *s = m.au.data;
        for (uint64_t i = 0; i < frames; i++)
            for (uint32_t c = 0; c < ch; c++) {
                double t = (double)i / rate;
                double v = 6000 * sin(2 * PI * (220 + 110 * c) * t) * (1 + sin(3 * t)) +
                           3000 * sin(2 * PI * 1250 * t + c) + (double)(rng(&seed) % 801) - 400;
                s[i * ch + c] = (int16_t)v;
            }
        round_trip(gpu, ref, &m, cases[k].model, cases[k].quality);
        free(m.au.data);
    }
    neco_context_destroy(gpu), neco_context_destroy(ref);
}

void neco_test_register(void)
{
    char name[256] = "";
    if (nn_cuda_devices(name, sizeof name) < 1) {
        char why[256] = "";
        neco_backend_check("cuda", why, sizeof why);
        printf("test_cuda_codec: skipped: %s\n", why[0] ? why : "no CUDA device");
        exit(77);
    }
    printf("test_cuda_codec: device 0: %s\n", name);
    NECO_SUITE("cuda_codec", {"images", test_images}, {"audio", test_audio});
}
