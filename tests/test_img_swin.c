/* The img-swin image codec with the shipped weights (weights/img-swin.safetensors): agreement
 * with the independent Python decoder and PyTorch (fixtures by train/make_codec_fixture.py
 * --model img-swin), round trips at several sizes (1x1, odd, two tiles) and every quality level,
 * gray and 16-bit input, the errors of truncated and corrupt payloads, and the refusal of alpha,
 * of streams made with other weights and of weights of the wrong stride. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include "apps/imageio.h"
#include "codec/img_swin.h"

#include <neco/neco.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t crc32(const uint8_t *d, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= d[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
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
static void agreement(neco_context *ctx, int q, const char *backend)
{
    char path[256];
    size_t size, symsize;
    snprintf(path, sizeof path, FIXTURES "/swin_q%d.neco", q);
    uint8_t *stream = read_all(path, &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stream);
    snprintf(path, sizeof path, FIXTURES "/swin_q%d.sym", q);
    uint8_t *sym = read_all(path, &symsize);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
    int32_t *z, *y;
    size_t nz, ny;
    neco_status st = img_swin_tile_symbols(ctx, stream, size, 0, &z, &nz, &y, &ny);
    if (st != NECO_OK)
        fprintf(stderr,
                "\n    %s (fixtures older than the weights? rerun "
                "train/ship_img_swin.sh)\n",
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
    snprintf(path, sizeof path, FIXTURES "/swin_q%d.pt.png", q);
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
}

/* The highest quality level the fixtures were made for (the weights' last level). */
static int fixture_top_level(void)
{
    for (int q = 64; q > 1; q--) {
        char path[256];
        snprintf(path, sizeof path, FIXTURES "/swin_q%d.neco", q);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return q;
        }
    }
    return 0;
}

static void test_agreement_ref(void)
{
    int top = fixture_top_level();
    CU_ASSERT_FATAL(top > 1);
    neco_context *ctx = context(1, "ref");
    agreement(ctx, 1, "ref");
    agreement(ctx, top, "ref");
    neco_context_destroy(ctx);
}

static void test_agreement_onednn(void)
{
#ifdef NECO_HAVE_ONEDNN
    neco_context *ctx = context(1, "onednn");
    agreement(ctx, 1, "onednn");
    agreement(ctx, fixture_top_level(), "onednn");
    neco_context_destroy(ctx);
#endif
}

/* A smooth test image with some texture. */
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

static double mse8(const neco_image *a, const neco_image *b)
{
    double sse = 0;
    size_t n = neco_image_data_size(a);
    for (size_t i = 0; i < n; i++) {
        double d = (double)((uint8_t *)a->data)[i] - ((uint8_t *)b->data)[i];
        sse += d * d;
    }
    return sse / (double)n;
}

/* Encodes img at level q and (when mse is not NULL) decodes it: the stream says its model and
 * level, and the image comes back at its size, channels and depth. */
static void round_trip(neco_context *ctx, const neco_image *img, int q, size_t *bytes,
                       double *mse)
{
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "img-swin";
    p.quality = q;
    uint8_t *coded;
    size_t size;
    neco_status st = neco_encode_image(ctx, img, &p, &coded, &size);
    if (st != NECO_OK)
        fprintf(stderr, "\n    %s\n", neco_context_error(ctx));
    CU_ASSERT_FATAL(st == NECO_OK);
    neco_info info;
    CU_ASSERT_FATAL(neco_read_info(ctx, coded, size, &info) == NECO_OK);
    CU_ASSERT_STRING_EQUAL(info.model, "img-swin");
    CU_ASSERT_EQUAL(info.quality, (uint32_t)q);
    *bytes = size;
    if (!mse) {
        neco_free(coded);
        return;
    }
    neco_decoded dec;
    CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
    CU_ASSERT_FATAL(dec.image.width == img->width && dec.image.height == img->height &&
                    dec.image.channels == img->channels &&
                    dec.image.bit_depth == img->bit_depth);
    *mse = img->bit_depth == 8 ? mse8(img, &dec.image) : 0;
    neco_decoded_free(&dec);
    neco_free(coded);
}

/* Every quality level codes (the lowest and highest also decode; a 1x1 image, coded at 16x16: a 4x4
 * map that every Swin block pads to one window, the odd ones shifted),
 * the stream says its level, and the size grows from the lowest level to the highest (the gains
 * are trained for that). Then a level beyond the weights is refused. */
static void test_quality_levels(void)
{
    neco_context *ctx = context(1, NULL);
    neco_image img = smooth(1, 1, 3, 8);
    size_t first = 0, last = 0;
    int levels = fixture_top_level();
    CU_ASSERT_FATAL(levels > 1);
    for (int q = 1; q <= levels; q++) {
        size_t bytes;
        double mse;
        round_trip(ctx, &img, q, &bytes, q == 1 || q == levels ? &mse : NULL);
        first = q == 1 ? bytes : first;
        last = bytes;
    }
    CU_ASSERT(last > first);
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "img-swin";
    p.quality = levels + 1;
    uint8_t *coded;
    size_t size;
    CU_ASSERT_NOT_EQUAL(neco_encode_image(ctx, &img, &p, &coded, &size), NECO_OK);
    free(img.data);
    neco_context_destroy(ctx);
}

/* Sizes 3x5 (gray), 20x9 (RGB 16-bit) and 72x37 (coded at 80x48: the Swin blocks on 20x12 maps
 * padded to 3x2 windows, the shifted blocks with their masks); alpha is refused. Two tiles through
 * the encoder (1030 wide: 1024 + 6) only without sanitizers (a 1024-wide tile is slow under ASan;
 * the decoder's multi-tile path is tested by test_spliced_tiles). */
static void test_round_trips(void)
{
    neco_context *ctx = context(2, NULL);
    neco_image imgs[4] = {smooth(3, 5, 1, 8), smooth(20, 9, 3, 16), smooth(72, 37, 3, 8),
                          smooth(1030, 24, 3, 8)};
    int n = 3;
#if !defined(__SANITIZE_ADDRESS__)
    n = 4;
#endif
    for (int i = 0; i < 4; i++) {
        size_t bytes;
        double mse;
        if (i < n) {
            round_trip(ctx, &imgs[i], 6, &bytes, &mse);
            printf(" %ux%u: %zu bytes, mse %.1f;", imgs[i].width, imgs[i].height, bytes, mse);
            if (imgs[i].bit_depth == 8 && imgs[i].channels == 3)
                CU_ASSERT(mse < 200); /* PSNR > 25 dB on a smooth image at level 6 */
        }
        free(imgs[i].data);
    }
    neco_image rgba = smooth(16, 16, 4, 8);
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "img-swin";
    uint8_t *coded;
    size_t size;
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &rgba, &p, &coded, &size), NECO_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(neco_context_error(ctx), "alpha") != NULL);
    free(rgba.data);
    neco_context_destroy(ctx);
}

/* The columns [x0, x0 + w) of an RGB 8-bit image. */
static neco_image columns(const neco_image *img, uint32_t x0, uint32_t w)
{
    neco_image out = {w, img->height, 3, 8, malloc((size_t)w * img->height * 3)};
    for (uint32_t y = 0; y < img->height; y++)
        memcpy((uint8_t *)out.data + (size_t)y * w * 3,
               (const uint8_t *)img->data + ((size_t)y * img->width + x0) * 3, (size_t)w * 3);
    return out;
}

/* A stream of two 64-wide tiles (an encoder may choose any tile size, BITSTREAM.md 3.3), made by
 * coding the two halves of a 100x40 image on their own and joining their units under one
 * header: it decodes, with 1 and 2 threads, to exactly the two halves decoded on their own,
 * side by side (tiles are independent and placed in raster order). */
static void test_spliced_tiles(void)
{
    neco_context *ctx = context(2, NULL);
    neco_image img = smooth(100, 40, 3, 8);
    neco_image half[2] = {columns(&img, 0, 64), columns(&img, 64, 36)};
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "img-swin";
    p.quality = 3;
    uint8_t *coded[2];
    size_t size[2];
    neco_decoded part[2];
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(neco_encode_image(ctx, &half[i], &p, &coded[i], &size[i]) == NECO_OK);
        CU_ASSERT_FATAL(neco_decode(ctx, coded[i], size[i], &part[i]) == NECO_OK);
    }
    size_t total = size[0] + size[1] - 64;
    uint8_t *joined = malloc(total);
    memcpy(joined, coded[0], size[0]);
    memcpy(joined + size[0], coded[1] + 64, size[1] - 64);
    put32(joined + 40, 100); /* width */
    put32(joined + 52, 64);  /* tile width */
    put32(joined + 56, 64);  /* tile height */
    put32(joined + 60, crc32(joined, 60));
    for (int threads = 1; threads <= 2; threads++) {
        neco_context *c = threads == 2 ? ctx : context(1, NULL);
        neco_info info;
        CU_ASSERT_FATAL(neco_read_info(c, joined, total, &info) == NECO_OK);
        CU_ASSERT_EQUAL(info.units, 2u);
        neco_decoded dec;
        neco_status st = neco_decode(c, joined, total, &dec);
        CU_ASSERT_FATAL(st == NECO_OK);
        size_t diff = 0;
        for (uint32_t y = 0; y < 40; y++)
            for (uint32_t x = 0; x < 100; x++)
                for (int k = 0; k < 3; k++) {
                    const neco_image *src = &part[x >= 64].image;
                    uint32_t sx = x >= 64 ? x - 64 : x;
                    diff += ((uint8_t *)dec.image.data)[((size_t)y * 100 + x) * 3 + k] !=
                            ((uint8_t *)src->data)[((size_t)y * src->width + sx) * 3 + k];
                }
        CU_ASSERT_EQUAL(diff, 0u);
        neco_decoded_free(&dec);
        if (c != ctx)
            neco_context_destroy(c);
    }
    for (int i = 0; i < 2; i++) {
        neco_decoded_free(&part[i]);
        neco_free(coded[i]);
        free(half[i].data);
    }
    free(joined);
    free(img.data);
    neco_context_destroy(ctx);
}

/* Rewrites the payload of the only unit of a one-tile stream (with a valid length and CRC), so
 * that only the img-swin payload decoder can find the fault. */
static uint8_t *with_payload(const uint8_t *stream, size_t header, const uint8_t *payload,
                             size_t len, size_t *out_size)
{
    uint8_t *s = malloc(header + len + 8);
    memcpy(s, stream, header);
    put32(s + header, (uint32_t)len);
    memcpy(s + header + 4, payload, len);
    put32(s + header + 4 + len, crc32(s + header, len + 4));
    *out_size = header + len + 8;
    return s;
}

static void test_bad_payloads(void)
{
    size_t size;
    uint8_t *stream = read_all(FIXTURES "/swin_q1.neco", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stream);
    neco_context *ctx = context(1, NULL);
    neco_info info;
    CU_ASSERT_FATAL(neco_read_info(ctx, stream, size, &info) == NECO_OK);
    size_t header = info.header_size, len = load32(stream + header);
    CU_ASSERT_FATAL(header + len + 8 == size);
    const uint8_t *payload = stream + header + 4;
    neco_decoded dec;
    /* Cut in the container: truncated, naming the tile. */
    CU_ASSERT_EQUAL(neco_decode(ctx, stream, size - 5, &dec), NECO_ERR_TRUNCATED);
    /* A flipped bit without fixing the CRC: corrupt. */
    uint8_t *bad = malloc(size);
    memcpy(bad, stream, size);
    bad[header + 4 + len / 2] ^= 0x10;
    CU_ASSERT_EQUAL(neco_decode(ctx, bad, size, &dec), NECO_ERR_CRC);
    free(bad);
    /* Payloads cut short (with a valid CRC): the rANS stream is incomplete. */
    size_t cuts[] = {0, 3, len / 2, len - 4, len - 1};
    for (int i = 0; i < 5; i++) {
        size_t n;
        uint8_t *s = with_payload(stream, header, payload, cuts[i], &n);
        neco_status st = neco_decode(ctx, s, n, &dec);
        CU_ASSERT_EQUAL(st, NECO_ERR_BITSTREAM);
        CU_ASSERT(strstr(neco_context_error(ctx), "tile 0") != NULL);
        if (st == NECO_OK)
            neco_decoded_free(&dec);
        free(s);
    }
    /* Extra bytes after the rANS stream, and flipped bits inside it (CRC fixed): refused. */
    uint8_t *longer = malloc(len + 4);
    memcpy(longer, payload, len);
    memset(longer + len, 0x5a, 4);
    size_t n;
    uint8_t *s = with_payload(stream, header, longer, len + 4, &n);
    CU_ASSERT_EQUAL(neco_decode(ctx, s, n, &dec), NECO_ERR_BITSTREAM);
    free(s);
    int refused = 0;
    for (size_t at = len / 3; at < len; at += len / 3) { /* two flips */
        memcpy(longer, payload, len);
        longer[at] ^= 0xff;
        s = with_payload(stream, header, longer, len, &n);
        neco_status st = neco_decode(ctx, s, n, &dec);
        if (st == NECO_OK)
            neco_decoded_free(&dec);
        else
            CU_ASSERT_EQUAL(st, NECO_ERR_BITSTREAM);
        refused += st != NECO_OK;
        free(s);
    }
    CU_ASSERT(refused > 0);
    free(longer);
    free(stream);
    neco_context_destroy(ctx);
}

/* A stream whose tile is larger than img-swin decodes (2048x1024 padded pixels > 2^20) is
 * refused as a size limit, naming the tile, before any network runs. */
static void test_huge_tile_refused(void)
{
    size_t size;
    uint8_t *stream = read_all(FIXTURES "/swin_q1.neco", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stream);
    put32(stream + 40, 2048); /* width */
    put32(stream + 44, 1024); /* height */
    put32(stream + 52, 2048); /* tile width */
    put32(stream + 56, 1024); /* tile height */
    put32(stream + 60, crc32(stream, 60));
    neco_context *ctx = context(1, NULL);
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, stream, size, &dec), NECO_ERR_LIMIT);
    CU_ASSERT(strstr(neco_context_error(ctx), "tile 0: 2048x1024 pixels") != NULL);
    neco_context_destroy(ctx);
    free(stream);
}

static void test_other_weights_refused(void)
{
    size_t size;
    uint8_t *stream = read_all(FIXTURES "/swin_q1.neco", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stream);
    /* Another weights hash (with a valid header CRC). */
    stream[24] ^= 1;
    put32(stream + 60, crc32(stream, 60));
    neco_context *ctx = context(1, NULL);
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, stream, size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "img-swin") != NULL);
    neco_context_destroy(ctx);
    free(stream);
    /* Other weights under img-swin's name, refused at loading with the reason: img-wave's file
     * (its metadata names img-wave), and img-swin's with the stride in its header changed from
     * 16 to 32 (same length, so the file stays well formed). */
    static const char *const want[2] = {"holds the weights of model 'img-wave'", "stride 16"};
    static const char *const file = "img-swin.safetensors";
    for (int k = 0; k < 2; k++) {
        char dir[32];
        CU_ASSERT_FATAL(neco_test_weights_copy(dir, file,
                                               k == 0 ? WEIGHTS_DIR "/img-wave.safetensors"
                                                      : WEIGHTS_DIR "/img-swin.safetensors",
                                               k == 0 ? NULL : "\"stride\":\"16\"",
                                               "\"stride\":\"32\"") == 0);
        neco_config cfg;
        neco_config_default(&cfg);
        cfg.weights_dir = dir;
        CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
        neco_image img = smooth(8, 8, 3, 8);
        neco_encode_params p;
        neco_encode_params_default(&p);
        p.model = "img-swin";
        uint8_t *coded;
        size_t csize;
        CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &p, &coded, &csize), NECO_ERR_MODEL);
        CU_ASSERT(strstr(neco_context_error(ctx), want[k]) != NULL);
        free(img.data);
        neco_context_destroy(ctx);
        neco_test_weights_remove(dir, file);
    }
    /* Weights missing from the folder. */
    stream = read_all(FIXTURES "/swin_q1.neco", &size);
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = FIXTURES;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    CU_ASSERT_EQUAL(neco_decode(ctx, stream, size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "img-swin.safetensors") != NULL);
    neco_context_destroy(ctx);
    free(stream);
}

void neco_test_register(void)
{
    NECO_SUITE("img-swin", {"agreement with PyTorch (ref)", test_agreement_ref},
               {"agreement with PyTorch (onednn)", test_agreement_onednn},
               {"every quality level", test_quality_levels},
               {"round trips: sizes, gray, 16-bit; alpha refused", test_round_trips},
               {"two tiles, 1 and 2 threads", test_spliced_tiles},
               {"truncated and corrupt payloads", test_bad_payloads},
               {"huge tile refused", test_huge_tile_refused},
               {"other weights refused", test_other_weights_refused});
}
