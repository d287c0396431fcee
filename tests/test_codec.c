/* codec/: CRC-32, SHA-256, the container and the raw model through the public API.
 * Linked with -Wl,--wrap=malloc,... (tests/codec.cmake) so that tests can count the library's
 * allocations and prove that hostile headers are refused before anything is allocated. */
#include "test.h"

#include "codec/container.h"
#include "codec/crc32.h"
#include "codec/sha256.h"
#ifdef NECO_HAVE_CUDA
#include "nets/cuda/cuda.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Allocation counting ------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
static size_t allocations;
void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}
void *__wrap_calloc(size_t n, size_t size)
{
    allocations++;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t size)
{
    allocations++;
    return __real_realloc(p, size);
}

/* ---- Helpers ------------------------------------------------------------------------------ */

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    /* xorshift32: deterministic test data */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static neco_context *new_context(void)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.backend = "ref";
    neco_context *ctx = NULL;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    return ctx;
}

static neco_image random_image(uint32_t w, uint32_t h, uint32_t c, uint32_t depth)
{
    neco_image img = {w, h, c, depth, NULL};
    size_t n = (size_t)w * h * c;
    if (depth == 8) {
        uint8_t *d = malloc(n);
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)rng();
        img.data = d;
    } else {
        uint16_t *d = malloc(n * 2);
        for (size_t i = 0; i < n; i++)
            d[i] = (uint16_t)rng();
        img.data = d;
    }
    return img;
}

static const neco_encode_params raw_params = {"raw", 0, 0, 0};

static void encode_small_image(neco_context *ctx, uint8_t **out, size_t *size)
{
    neco_image img = random_image(3, 5, 3, 8);
    CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &raw_params, out, size) == NECO_OK);
    free(img.data);
}

/* ---- CRC-32 and SHA-256 ------------------------------------------------------------------- */

static void test_crc32_check_value(void)
{
    /* The standard check value of CRC-32/ISO-HDLC. */
    CU_ASSERT_EQUAL(crc32_update(0, "123456789", 9), 0xCBF43926u);
    CU_ASSERT_EQUAL(crc32_update(0, "", 0), 0u);
    /* Pieces give the same CRC as the whole. */
    uint32_t c = crc32_update(crc32_update(0, "1234", 4), "56789", 5);
    CU_ASSERT_EQUAL(c, 0xCBF43926u);
}

static void test_crc32_table(void)
{
    /* Recompute a bitwise CRC of random data and compare with the table-driven one. */
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rng();
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < sizeof buf; i++) {
        c ^= buf[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    CU_ASSERT_EQUAL(crc32_update(0, buf, sizeof buf), ~c);
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256_vectors(void)
{
    /* FIPS 180-4 examples. */
    struct {
        const char *msg;
        const char *digest;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sha256_state s;
        uint8_t d[32];
        char h[65];
        sha256_init(&s);
        sha256_update(&s, v[i].msg, strlen(v[i].msg));
        sha256_final(&s, d);
        hex(d, 32, h);
        CU_ASSERT_STRING_EQUAL(h, v[i].digest);
    }
    /* One million 'a', fed in uneven pieces. */
    sha256_state s;
    uint8_t d[32];
    char h[65];
    char a[997];
    memset(a, 'a', sizeof a);
    sha256_init(&s);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : 1 + rng() % sizeof a;
        sha256_update(&s, a, n);
        left -= n;
    }
    sha256_final(&s, d);
    hex(d, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- Images ------------------------------------------------------------------------------- */

static void image_round_trip(uint32_t w, uint32_t h, uint32_t c, uint32_t depth)
{
    neco_context *ctx = new_context();
    neco_image img = random_image(w, h, c, depth);
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &raw_params, &coded, &size) == NECO_OK);
    neco_decoded dec;
    CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
    CU_ASSERT_EQUAL(dec.info.media, NECO_MEDIA_IMAGE);
    CU_ASSERT_STRING_EQUAL(dec.info.model, "raw");
    CU_ASSERT_EQUAL(dec.image.width, w);
    CU_ASSERT_EQUAL(dec.image.height, h);
    CU_ASSERT_EQUAL(dec.image.channels, c);
    CU_ASSERT_EQUAL(dec.image.bit_depth, depth);
    CU_ASSERT(memcmp(dec.image.data, img.data, neco_image_data_size(&img)) == 0);
    neco_decoded_free(&dec);
    neco_free(coded);
    free(img.data);
    neco_context_destroy(ctx);
}

static void test_image_round_trips(void)
{
    uint32_t sizes[][2] = {{1, 1}, {3, 5}, {256, 256}, {257, 3}, {300, 513}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (uint32_t c = 1; c <= 4; c++)
            for (uint32_t depth = 8; depth <= 16; depth += 8)
                image_round_trip(sizes[s][0], sizes[s][1], c, depth);
}

static void test_image_tiles(void)
{
    neco_context *ctx = new_context();
    neco_image img = random_image(600, 300, 3, 8);
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &raw_params, &coded, &size) == NECO_OK);
    neco_info info;
    CU_ASSERT_FATAL(neco_read_info(ctx, coded, size, &info) == NECO_OK);
    CU_ASSERT_EQUAL(info.units, 3u * 2u); /* 256x256 tiles */
    CU_ASSERT_EQUAL(size, 64 + 6 * 8 + 600 * 300 * 3);
    neco_free(coded);
    free(img.data);
    neco_context_destroy(ctx);
}

/* The exact bytes of a tiny stream: any change of the container format breaks this test, so
 * that it is made deliberately (and BITSTREAM.md and the version updated with it). */
static void test_golden_stream(void)
{
    static const uint8_t expected[] = {
        'N', 'E', 'C', 'O', 1, 1, 1, 0, 'r', 'a', 'w', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* hash */
        2, 0, 0, 0, 1, 0, 0, 0, 3, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, /* image fields */
        0, 0, 0, 0, /* header CRC, patched below */
        6, 0, 0, 0, 10, 20, 30, 40, 50, 60, 0, 0, 0, 0 /* tile: length, payload, CRC */
    };
    uint8_t want[sizeof expected];
    memcpy(want, expected, sizeof want);
    store_u32(want + 60, crc32_update(0, want, 60));
    store_u32(want + 74, crc32_update(0, want + 64, 10));
    uint8_t px[6] = {10, 20, 30, 40, 50, 60};
    neco_image img = {2, 1, 3, 8, px};
    neco_context *ctx = new_context();
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &raw_params, &coded, &size) == NECO_OK);
    CU_ASSERT_EQUAL_FATAL(size, sizeof want);
    CU_ASSERT(memcmp(coded, want, size) == 0);
    /* The CRC values themselves, so that a change of the CRC is caught as well. */
    CU_ASSERT_EQUAL(load_u32(coded + 60), 0x6C42E789u);
    neco_free(coded);
    neco_context_destroy(ctx);
}

/* ---- Audio -------------------------------------------------------------------------------- */

static void audio_round_trip(neco_sample_format f, uint32_t channels, uint64_t frames)
{
    neco_context *ctx = new_context();
    size_t n = (size_t)frames * channels;
    void *data = malloc(n * neco_sample_size(f) + 1);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rng();
        switch (f) {
        case NECO_SAMPLE_S16: ((int16_t *)data)[i] = (int16_t)r; break;
        case NECO_SAMPLE_S24:
            ((int32_t *)data)[i] = i % 7 == 0 ? -(1 << 23) : (int32_t)(r & 0xFFFFFF) - (1 << 23);
            break;
        case NECO_SAMPLE_S32: ((int32_t *)data)[i] = (int32_t)r; break;
        case NECO_SAMPLE_F32: {
            float v = (float)((int32_t)r) / 2147483648.0f;
            if (i % 11 == 0)
                v = NAN;
            memcpy((float *)data + i, &v, 4);
            break;
        }
        }
    }
    neco_audio au = {48000, channels, frames, f, data};
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_audio(ctx, &au, &raw_params, &coded, &size) == NECO_OK);
    neco_decoded dec;
    CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
    CU_ASSERT_EQUAL(dec.info.media, NECO_MEDIA_AUDIO);
    CU_ASSERT_EQUAL(dec.audio.sample_rate, 48000u);
    CU_ASSERT_EQUAL(dec.audio.channels, channels);
    CU_ASSERT_EQUAL(dec.audio.frames, frames);
    CU_ASSERT_EQUAL(dec.audio.format, f);
    CU_ASSERT(memcmp(dec.audio.data, data, n * neco_sample_size(f)) == 0);
    neco_decoded_free(&dec);
    neco_free(coded);
    free(data);
    neco_context_destroy(ctx);
}

static void test_audio_round_trips(void)
{
    neco_sample_format formats[] = {NECO_SAMPLE_S16, NECO_SAMPLE_S24, NECO_SAMPLE_S32,
                                    NECO_SAMPLE_F32};
    uint64_t lengths[] = {0, 1, 16384, 16385, 40000};
    uint32_t channels[] = {1, 2, 6};
    for (int f = 0; f < 4; f++)
        for (int l = 0; l < 5; l++)
            for (int c = 0; c < 3; c++)
                audio_round_trip(formats[f], channels[c], lengths[l]);
}

/* ---- Bad input ---------------------------------------------------------------------------- */

static void test_truncation_every_offset(void)
{
    neco_context *ctx = new_context();
    uint8_t *coded;
    size_t size;
    encode_small_image(ctx, &coded, &size);
    for (size_t n = 0; n < size; n++) {
        /* A copy of exactly n bytes, so that ASan sees any read past the end. */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, coded, n);
        neco_decoded dec;
        neco_status st = neco_decode(ctx, cut, n, &dec);
        CU_ASSERT(st == NECO_ERR_TRUNCATED || st == NECO_ERR_BITSTREAM || st == NECO_ERR_CRC);
        CU_ASSERT(strlen(neco_context_error(ctx)) > 0);
        CU_ASSERT_PTR_NULL(dec.image.data);
        free(cut);
    }
    neco_free(coded);
    neco_context_destroy(ctx);
}

static void test_bit_flips(void)
{
    neco_context *ctx = new_context();
    uint8_t *coded;
    size_t size;
    encode_small_image(ctx, &coded, &size);
    for (size_t bit = 0; bit < size * 8; bit++) {
        coded[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        neco_decoded dec;
        neco_status st = neco_decode(ctx, coded, size, &dec);
        /* CRC-32 detects every single-bit error; the rest is caught by field checks. */
        CU_ASSERT(st != NECO_OK);
        if (st == NECO_OK)
            neco_decoded_free(&dec);
        coded[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    neco_decoded dec;
    CU_ASSERT(neco_decode(ctx, coded, size, &dec) == NECO_OK);
    neco_decoded_free(&dec);
    neco_free(coded);
    neco_context_destroy(ctx);
}

/* Writes a header with a valid CRC for info, followed by extra bytes of zeros. */
static uint8_t *forge(neco_context *ctx, neco_info *info, size_t extra, size_t *size)
{
    (void)ctx;
    bytebuf b;
    bytebuf_init(&b);
    container_write_header(&b, info);
    uint8_t *z = bytebuf_extend(&b, extra);
    if (extra)
        memset(z, 0, extra);
    *size = b.size;
    return b.data;
}

static neco_info image_info(uint32_t w, uint32_t h)
{
    neco_info info;
    memset(&info, 0, sizeof info);
    info.media = NECO_MEDIA_IMAGE;
    strcpy(info.model, "raw");
    info.quality = 1;
    info.width = w;
    info.height = h;
    info.channels = 3;
    info.bit_depth = 8;
    info.tile_width = 256;
    info.tile_height = 256;
    return info;
}

static void test_hostile_headers(void)
{
    neco_context *ctx = new_context();
    neco_decoded dec;
    size_t size;
    /* 10^6 x 10^6 pixels: refused by the dimension limit, nothing allocated. */
    neco_info info = image_info(1000000, 1000000);
    uint8_t *f = forge(ctx, &info, 0, &size);
    allocations = 0;
    CU_ASSERT_EQUAL(neco_decode(ctx, f, size, &dec), NECO_ERR_LIMIT);
    CU_ASSERT_EQUAL(allocations, 0u);
    CU_ASSERT(strstr(neco_context_error(ctx), "1000000x1000000") != NULL);
    free(f);
    /* 16384 x 16384 is within limits, but 4096 tiles cannot fit in 64 + 8 bytes. */
    info = image_info(16384, 16384);
    f = forge(ctx, &info, 8, &size);
    allocations = 0;
    CU_ASSERT_EQUAL(neco_decode(ctx, f, size, &dec), NECO_ERR_TRUNCATED);
    CU_ASSERT_EQUAL(allocations, 0u);
    free(f);
    /* A 16384 x 16384 header whose first tile claims 4 GB: truncated, no allocation. */
    info = image_info(16384, 16384);
    f = forge(ctx, &info, 4096 * 8, &size);
    memset(f + 64, 0xFF, 4);
    allocations = 0;
    CU_ASSERT_EQUAL(neco_decode(ctx, f, size, &dec), NECO_ERR_TRUNCATED);
    CU_ASSERT_EQUAL(allocations, 0u);
    CU_ASSERT(strstr(neco_context_error(ctx), "tile 0") != NULL);
    free(f);
    /* The context's pixel cap. */
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.max_pixels = 100;
    neco_context *small;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &small) == NECO_OK);
    info = image_info(11, 10);
    f = forge(ctx, &info, 8, &size);
    CU_ASSERT_EQUAL(neco_decode(small, f, size, &dec), NECO_ERR_LIMIT);
    free(f);
    neco_context_destroy(small);
    /* Audio: 2^40 frames. */
    memset(&info, 0, sizeof info);
    info.media = NECO_MEDIA_AUDIO;
    strcpy(info.model, "raw");
    info.quality = 1;
    info.sample_rate = 48000;
    info.audio_channels = 2;
    info.sample_format = NECO_SAMPLE_S16;
    info.frames = UINT64_C(1) << 40;
    info.chunk_frames = 16384;
    f = forge(ctx, &info, 0, &size);
    allocations = 0;
    CU_ASSERT_EQUAL(neco_decode(ctx, f, size, &dec), NECO_ERR_LIMIT);
    CU_ASSERT_EQUAL(allocations, 0u);
    free(f);
    neco_context_destroy(ctx);
}

static void test_wrong_model_and_fields(void)
{
    neco_context *ctx = new_context();
    neco_decoded dec;
    size_t size;
    neco_info info = image_info(1, 1);
    strcpy(info.model, "img-wave");
    info.tile_width = info.tile_height = 256;
    uint8_t *f = forge(ctx, &info, 0, &size);
    bytebuf b = {f, size, size, 0};
    uint8_t px[3] = {1, 2, 3};
    container_write_unit(&b, px, 3);
    CU_ASSERT_EQUAL(neco_decode(ctx, b.data, b.size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "img-wave") != NULL);
    bytebuf_free(&b);
    /* raw with a weights hash */
    info = image_info(1, 1);
    info.weights_hash[3] = 7;
    f = forge(ctx, &info, 0, &size);
    b = (bytebuf){f, size, size, 0};
    container_write_unit(&b, px, 3);
    CU_ASSERT_EQUAL(neco_decode(ctx, b.data, b.size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "00000007") != NULL);
    bytebuf_free(&b);
    /* a payload of the wrong size for raw */
    info = image_info(1, 1);
    f = forge(ctx, &info, 0, &size);
    b = (bytebuf){f, size, size, 0};
    container_write_unit(&b, px, 2);
    CU_ASSERT_EQUAL(neco_decode(ctx, b.data, b.size, &dec), NECO_ERR_BITSTREAM);
    CU_ASSERT(strstr(neco_context_error(ctx), "tile 0") != NULL);
    bytebuf_free(&b);
    /* trailing data */
    info = image_info(1, 1);
    f = forge(ctx, &info, 0, &size);
    b = (bytebuf){f, size, size, 0};
    container_write_unit(&b, px, 3);
    bytebuf_put(&b, px, 1);
    CU_ASSERT_EQUAL(neco_decode(ctx, b.data, b.size, &dec), NECO_ERR_BITSTREAM);
    bytebuf_free(&b);
    /* a newer version: refused as unsupported, even before the CRC */
    info = image_info(1, 1);
    f = forge(ctx, &info, 0, &size);
    f[4] = 2;
    CU_ASSERT_EQUAL(neco_read_info(ctx, f, size, &info), NECO_ERR_UNSUPPORTED);
    free(f);
    /* not a neco file */
    CU_ASSERT_EQUAL(neco_read_info(ctx, (const uint8_t *)"\x89PNG", 4, &info), NECO_ERR_BITSTREAM);
    neco_context_destroy(ctx);
}

static void test_encode_errors(void)
{
    neco_context *ctx = new_context();
    uint8_t px[16] = {0};
    uint8_t *out = (uint8_t *)1;
    size_t size;
    neco_encode_params p;
    neco_encode_params_default(&p);
    neco_image img = {2, 2, 3, 8, px};
    p.model = "raw";
    p.quality = 2;
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &p, &out, &size), NECO_ERR_INVALID_ARGUMENT);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT(strstr(neco_context_error(ctx), "1..1") != NULL);
    p.quality = 0;
    p.model = "no-such-model";
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &p, &out, &size), NECO_ERR_MODEL);
    img.width = 0;
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &raw_params, &out, &size), NECO_ERR_INVALID_ARGUMENT);
    img = (neco_image){2, 2, 5, 8, px};
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &raw_params, &out, &size), NECO_ERR_INVALID_ARGUMENT);
    img = (neco_image){2, 2, 1, 12, px};
    CU_ASSERT_EQUAL(neco_encode_image(ctx, &img, &raw_params, &out, &size), NECO_ERR_INVALID_ARGUMENT);
    int32_t s24[2] = {1 << 23, 0};
    neco_audio au = {44100, 1, 2, NECO_SAMPLE_S24, s24};
    CU_ASSERT_EQUAL(neco_encode_audio(ctx, &au, &raw_params, &out, &size), NECO_ERR_INVALID_ARGUMENT);
    au = (neco_audio){0, 1, 2, NECO_SAMPLE_S16, s24};
    CU_ASSERT_EQUAL(neco_encode_audio(ctx, &au, &raw_params, &out, &size), NECO_ERR_INVALID_ARGUMENT);
    neco_context_destroy(ctx);
    /* contexts */
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.backend = "tpu";
    neco_context *c2;
    CU_ASSERT_EQUAL(neco_context_create(&cfg, &c2), NECO_ERR_INVALID_ARGUMENT);
    /* cuda: a context where the backend is built and a device is present; otherwise refused,
     * and neco_backend_check says why */
    int gpu = 0;
#ifdef NECO_HAVE_CUDA
    gpu = nn_cuda_devices(NULL, 0) > 0;
#endif
    cfg.backend = "cuda";
    neco_status st = neco_context_create(&cfg, &c2);
    CU_ASSERT_EQUAL(st, gpu ? NECO_OK : NECO_ERR_BACKEND);
    if (st == NECO_OK) neco_context_destroy(c2);
    char why[256];
    CU_ASSERT_EQUAL(neco_backend_check("cuda", why, sizeof why), gpu ? NECO_OK : NECO_ERR_BACKEND);
    if (!gpu) CU_ASSERT_EQUAL(strncmp(why, "backend 'cuda'", 14), 0);
    CU_ASSERT_EQUAL(neco_backend_check("tpu", why, sizeof why), NECO_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(neco_backend_check("ref", why, sizeof why), NECO_OK);
    CU_ASSERT_EQUAL(neco_backend_check(NULL, why, sizeof why), NECO_OK);
}

static void test_conceal(void)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.conceal = 1;
    cfg.threads = 2;
    neco_context *ctx;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    neco_image img = random_image(600, 300, 4, 8); /* 3 x 2 tiles of 256 */
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &raw_params, &coded, &size) == NECO_OK);
    /* Corrupt a byte of tile 1's payload: that tile is gray, opaque; the others are exact. */
    size_t tile0 = 4 + 256 * 256 * 4 + 4;
    coded[64 + tile0 + 4 + 100] ^= 0x40;
    neco_decoded dec;
    CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
    CU_ASSERT_EQUAL(dec.concealed, 1u);
    CU_ASSERT(strstr(neco_context_error(ctx), "tile 1") != NULL);
    const uint8_t *a = img.data, *b = dec.image.data;
    size_t diff_in = 0, diff_out = 0;
    for (uint32_t y = 0; y < 300; y++)
        for (uint32_t x = 0; x < 600; x++)
            for (int c = 0; c < 4; c++) {
                size_t i = ((size_t)y * 600 + x) * 4 + c;
                int in_tile1 = y < 256 && x >= 256 && x < 512;
                if (in_tile1)
                    diff_in += b[i] != (c == 3 ? 255 : 128);
                else
                    diff_out += a[i] != b[i];
            }
    CU_ASSERT_EQUAL(diff_in, 0u);
    CU_ASSERT_EQUAL(diff_out, 0u);
    neco_decoded_free(&dec);
    /* Cut after tile 3: tiles 4 and 5 are missing and concealed. */
    size_t cut = 64 + 2 * tile0 + (4 + 88 * 256 * 4 + 4) + (4 + 256 * 44 * 4 + 4);
    CU_ASSERT_FATAL(neco_decode(ctx, coded, cut, &dec) == NECO_OK);
    CU_ASSERT_EQUAL(dec.concealed, 3u); /* tile 1 (corrupt), 4 and 5 (missing) */
    neco_decoded_free(&dec);
    /* Without conceal, the same streams fail. */
    neco_context *strict = new_context();
    CU_ASSERT_EQUAL(neco_decode(strict, coded, size, &dec), NECO_ERR_CRC);
    CU_ASSERT_EQUAL(neco_decode(strict, coded, cut, &dec), NECO_ERR_CRC);
    neco_context_destroy(strict);
    neco_free(coded);
    free(img.data);
    neco_context_destroy(ctx);
}

static int progress_calls;
static double progress_last;
static void on_progress(void *user, double fraction)
{
    (void)user;
    progress_calls++;
    CU_ASSERT(fraction >= progress_last);
    progress_last = fraction;
}

static void test_progress(void)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.progress = on_progress;
    neco_context *ctx;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    neco_image img = random_image(600, 300, 1, 8);
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &raw_params, &coded, &size) == NECO_OK);
    CU_ASSERT_EQUAL(progress_calls, 6);
    CU_ASSERT_DOUBLE_EQUAL(progress_last, 1.0, 1e-12);
    neco_free(coded);
    free(img.data);
    neco_context_destroy(ctx);
}

static void test_strings(void)
{
    CU_ASSERT_STRING_EQUAL(neco_status_string(NECO_ERR_CRC), "CRC mismatch");
    CU_ASSERT_STRING_EQUAL(neco_version_string(), "0.1.0");
    int found_raw = 0, found_wave = 0;
    for (int i = 0; i < neco_model_count(); i++) {
        CU_ASSERT_PTR_NOT_NULL(neco_model_description(i));
        found_raw += strcmp(neco_model_id(i), "raw") == 0;
        found_wave += strcmp(neco_model_id(i), "img-wave") == 0;
    }
    CU_ASSERT_EQUAL(found_raw, 1);
    CU_ASSERT_EQUAL(found_wave, 1);
    CU_ASSERT_STRING_EQUAL(neco_model_id(0), "img-wave"); /* the default image model comes first */
    CU_ASSERT_PTR_NULL(neco_model_id(neco_model_count()));
}

void neco_test_register(void)
{
    NECO_SUITE("checksums", {"crc32 check value", test_crc32_check_value},
               {"crc32 table", test_crc32_table}, {"sha256 vectors", test_sha256_vectors});
    NECO_SUITE("container", {"image round trips", test_image_round_trips},
               {"image tiles", test_image_tiles}, {"golden stream", test_golden_stream},
               {"audio round trips", test_audio_round_trips},
               {"truncation at every offset", test_truncation_every_offset},
               {"single bit flips", test_bit_flips}, {"hostile headers", test_hostile_headers},
               {"wrong model and fields", test_wrong_model_and_fields},
               {"encode errors", test_encode_errors}, {"conceal", test_conceal},
               {"progress", test_progress},
               {"strings", test_strings});
}
