/* The img-wave image codec with the shipped weights (weights/img-wave.safetensors):
 * agreement with the independent Python decoder and PyTorch (fixtures by
 * train/make_codec_fixture.py), round trips of every image kind, rate control, and the refusal
 * of streams made with other weights and of weights with a broken context model. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "test.h"

#include "apps/imageio.h"
#include "codec/img_wave.h"

#include <neco/neco.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef WEIGHTS_DIR
#define WEIGHTS_DIR "../weights"
#endif
#ifndef FIXTURES
#define FIXTURES "data/codec"
#endif

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static neco_context *context(int threads, const char *backend)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = WEIGHTS_DIR;
    cfg.threads = threads;
    cfg.backend = backend;
    neco_context *ctx = NULL;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    return ctx;
}

static uint8_t *read_all(const char *path, size_t *size)
{
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(d, 1, (size_t)n, f);
    fclose(f);
    return d;
}

/* The C decoder decodes the stream to exactly the symbols the Python decoder (written from
 * BITSTREAM.md) found, and to an image within 1 level of PyTorch's decoding of them. */
static void agreement(int q, const char *backend)
{
    char path[256];
    size_t size, symsize;
    snprintf(path, sizeof path, FIXTURES "/agree_q%d.neco", q);
    uint8_t *stream = read_all(path, &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stream);
    snprintf(path, sizeof path, FIXTURES "/agree_q%d.sym", q);
    uint8_t *sym = read_all(path, &symsize);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
    neco_context *ctx = context(1, backend);
    int32_t *z, *y;
    size_t nz, ny;
    neco_status st = img_wave_tile_symbols(ctx, stream, size, 0, &z, &nz, &y, &ny);
    if (st != NECO_OK)
        fprintf(stderr, "\n    %s (fixtures older than the weights? rerun "
                        "train/make_codec_fixture.py)\n",
                neco_context_error(ctx));
    CU_ASSERT_EQUAL_FATAL(st, NECO_OK);
    CU_ASSERT_EQUAL_FATAL(symsize, 4 * (nz + ny));
    size_t zdiff = 0, ydiff = 0;
    for (size_t i = 0; i < nz; i++)
        zdiff += z[i] != (int32_t)load32(sym + 4 * i);
    for (size_t i = 0; i < ny; i++)
        ydiff += y[i] != (int32_t)load32(sym + 4 * (nz + i));
    CU_ASSERT_EQUAL(zdiff, 0u);
    CU_ASSERT_EQUAL(ydiff, 0u);
    neco_decoded dec;
    CU_ASSERT_FATAL(neco_decode(ctx, stream, size, &dec) == NECO_OK);
    neco_image want;
    char err[128];
    snprintf(path, sizeof path, FIXTURES "/agree_q%d.pt.png", q);
    CU_ASSERT_FATAL(imageio_read_png(path, &want, err, sizeof err) == 0);
    CU_ASSERT_FATAL(want.width == dec.image.width && want.height == dec.image.height &&
                    want.channels == 3 && dec.image.channels == 3);
    int maxdiff = 0;
    for (size_t i = 0; i < neco_image_data_size(&want); i++) {
        int d = abs(((uint8_t *)want.data)[i] - ((uint8_t *)dec.image.data)[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    printf("\n    q%d %s: symbols %zu + %zu equal, max |C - PyTorch| = %d", q, backend, nz, ny,
           maxdiff);
    CU_ASSERT(maxdiff <= 1);
    free(want.data);
    neco_decoded_free(&dec);
    free(z);
    free(y);
    free(stream);
    free(sym);
    neco_context_destroy(ctx);
}

static void test_agreement_ref(void)
{
    agreement(1, "ref");
    agreement(8, "ref");
}

static void test_agreement_onednn(void)
{
#ifdef NECO_HAVE_ONEDNN
    agreement(1, "onednn");
    agreement(8, "onednn");
#endif
}

static double psnr8(const neco_image *a, const neco_image *b)
{
    double sse = 0;
    size_t n = neco_image_data_size(a);
    for (size_t i = 0; i < n; i++) {
        double d = (double)((uint8_t *)a->data)[i] - ((uint8_t *)b->data)[i];
        sse += d * d;
    }
    return sse == 0 ? INFINITY : 10 * log10(255.0 * 255.0 * n / sse);
}

/* A smooth test image (a photo would be better, but this keeps the test self-contained). */
static neco_image smooth(uint32_t w, uint32_t h, uint32_t c, uint32_t depth)
{
    neco_image img = {w, h, c, depth, malloc((size_t)w * h * c * (depth / 8))};
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t k = 0; k < c; k++) {
                double v = 128 + 90 * sin(x * 0.05 + k) * cos(y * 0.07 - k);
                size_t i = ((size_t)y * w + x) * c + k;
                if (depth == 8)
                    ((uint8_t *)img.data)[i] = (uint8_t)v;
                else
                    ((uint16_t *)img.data)[i] = (uint16_t)(v * 257);
            }
    return img;
}

static void test_round_trips(void)
{
    neco_context *ctx = context(2, NULL);
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "img-wave";
    p.quality = 8;
    /* sizes: 1x1, odd, several tiles (1024 + a strip) */
    uint32_t sizes[][2] = {{1, 1}, {3, 5}, {37, 21}, {1030, 40}};
    for (int s = 0; s < 4; s++)
        for (uint32_t c = 1; c <= 3; c += 2)
            for (uint32_t depth = 8; depth <= 16; depth += 8) {
                neco_image img = smooth(sizes[s][0], sizes[s][1], c, depth);
                uint8_t *coded;
                size_t size;
                CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &p, &coded, &size) == NECO_OK);
                neco_decoded dec;
                CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
                CU_ASSERT(dec.image.width == img.width && dec.image.height == img.height &&
                          dec.image.channels == c && dec.image.bit_depth == depth);
                if (depth == 8 && img.width >= 37) {
                    double db = psnr8(&img, &dec.image);
                    CU_ASSERT(db > 28);
                }
                neco_decoded_free(&dec);
                neco_free(coded);
                free(img.data);
            }
    neco_context_destroy(ctx);
}

static void test_alpha_refused(void)
{
    neco_context *ctx = context(1, NULL);
    neco_image img = smooth(16, 16, 4, 8);
    uint8_t *coded;
    size_t size;
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, NULL, &coded, &size), NECO_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(neco_context_error(ctx), "alpha") != NULL);
    free(img.data);
    neco_context_destroy(ctx);
}

static void test_bpp_budget(void)
{
    neco_context *ctx = context(1, NULL);
    neco_image img = smooth(96, 64, 3, 8);
    neco_encode_params p;
    neco_encode_params_default(&p);
    double budgets[] = {0.5, 1.0, 2.0, 4.0};
    for (int i = 0; i < 4; i++) {
        p.bpp = budgets[i];
        uint8_t *coded;
        size_t size;
        neco_status st = neco_encode_image(ctx, &img, &p, &coded, &size);
        if (st == NECO_ERR_LIMIT) {
            CU_ASSERT(strstr(neco_context_error(ctx), "cannot meet") != NULL);
            continue;
        }
        CU_ASSERT_FATAL(st == NECO_OK);
        CU_ASSERT(size * 8.0 / (96 * 64) <= budgets[i]);
        neco_free(coded);
    }
    p.bpp = 0.001; /* below what any level reaches */
    uint8_t *coded;
    size_t size;
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &p, &coded, &size), NECO_ERR_LIMIT);
    free(img.data);
    neco_context_destroy(ctx);
}

static void test_other_weights_refused(void)
{
    size_t size;
    uint8_t *stream = read_all(FIXTURES "/agree_q1.neco", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stream);
    /* Another weights hash (with a valid header CRC). */
    stream[24] ^= 1;
    uint32_t crc = 0xFFFFFFFFu;
    for (int i = 0; i < 60; i++) {
        crc ^= stream[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    crc = ~crc;
    for (int i = 0; i < 4; i++)
        stream[60 + i] = (uint8_t)(crc >> (8 * i));
    neco_context *ctx = context(1, NULL);
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, stream, size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "img-wave") != NULL);
    neco_context_destroy(ctx);
    free(stream);
    /* Weights missing from the folder. */
    stream = read_all(FIXTURES "/agree_q1.neco", &size);
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = FIXTURES;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    CU_ASSERT_EQUAL(neco_decode(ctx, stream, size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "not found") != NULL);
    neco_context_destroy(ctx);
    free(stream);
}

/* The shipped weights with the checkerboard context (metadata ctx = 1) but one of its tensors
 * renamed in the header (a byte edit of a copy): refused, naming the tensor. */
static void test_broken_context_refused(void)
{
    size_t size;
    uint8_t *w = read_all(WEIGHTS_DIR "/img-wave.safetensors", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_FATAL(size > 8);
    size_t hdr = (size_t)load32(w);
    CU_ASSERT_FATAL(hdr + 8 <= size);
    /* the header is JSON text: find the tensor's key within it */
    char *key = NULL;
    for (size_t i = 8; i + 15 < hdr + 8 && !key; i++)
        if (memcmp(w + i, "\"ctx.c0.weight\"", 15) == 0)
            key = (char *)w + i;
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    key[13] = 'x'; /* "ctx.c0.weighx" */
    char dir[] = "/tmp/neco_ctx_XXXXXX", path[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/img-wave.safetensors", dir);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(fwrite(w, 1, size, f) == size);
    fclose(f);
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = dir;
    neco_context *ctx = NULL;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    uint8_t px[16 * 16 * 3] = {0};
    neco_image img = {16, 16, 3, 8, px};
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "img-wave";
    uint8_t *out = NULL;
    size_t n;
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &p, &out, &n), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "ctx.c0.weight") != NULL);
    CU_ASSERT_PTR_NULL(out);
    neco_context_destroy(ctx);
    remove(path);
    rmdir(dir);
    free(w);
}

void neco_test_register(void)
{
    NECO_SUITE("img-wave", {"agreement with PyTorch (ref)", test_agreement_ref},
               {"agreement with PyTorch (onednn)", test_agreement_onednn},
               {"round trips: sizes, gray, 16-bit", test_round_trips},
               {"alpha refused", test_alpha_refused}, {"bpp budget", test_bpp_budget},
               {"other weights refused", test_other_weights_refused},
               {"broken context weights refused", test_broken_context_refused});
}
