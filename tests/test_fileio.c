/*
 * apps/ file I/O: PNG (imageio), audio (audioio) and file-kind detection (filekind).
 *
 * The fixtures in data/png and data/audio are written by data/make_fileio_fixtures.py with
 * writers independent of libpng/libsndfile; their samples follow formulas repeated here
 * (png_sample, pcm_*), so the reader is checked against exact values, not only against itself.
 */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include "apps/audioio.h"
#include "apps/filekind.h"
#include "apps/imageio.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Helpers ----------------------------------------------------------------------------- */

/* A private temporary directory per process, so that parallel ctest runs do not collide. */
static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char path[256];
    if (tmp_dir[0] == '\0') {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/neco_fileio_XXXXXX");
        if (mkdtemp(tmp_dir) == NULL) {
            CU_FAIL_FATAL("mkdtemp failed");
        }
    }
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static void tmp_cleanup(void)
{
    if (tmp_dir[0] == '\0')
        return;
    static const char *const names[] = {
        "rt.png",  "rt.wav",  "rt.flac", "rt.ogg",   "rt.aiff", "cut.png", "cut.wav",
        "out.png", "out.xyz", "out.mp3", "no_ext",   "x.flac",  "x.wav",   "a.AIFF",
        "s.ogg",   "z.wav",   "z.flac",  "empty.png"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp_dir, names[i]);
        unlink(path);
    }
    rmdir(tmp_dir);
    tmp_dir[0] = '\0';
}

static int write_bytes(const char *path, const void *data, size_t size)
{
    /* A new file rather than a truncated one: ext4 flushes a file truncated and rewritten
     * (auto_da_alloc) on close, which makes the write-every-prefix loops wait on the disk. */
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t put = fwrite(data, 1, size, f);
    return (fclose(f) == 0 && put == size) ? 0 : -1;
}

static unsigned char *read_bytes(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *bigger = realloc(buf, cap);
            if (bigger == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *size = n;
    return buf;
}

/* ---- PNG: expected samples ---------------------------------------------------------------- */

/* make_fileio_fixtures.py: png_sample. */
static uint32_t png_sample(uint32_t x, uint32_t y, uint32_t c, uint32_t depth)
{
    if (depth == 16)
        return (x * 7919u + y * 104729u + c * 1299709u + x * y * 31u) % 65536u;
    return (x * 37u + y * 101u + c * 53u + x * y * 7u) % (1u << depth);
}

static void palette_entry(uint32_t i, uint32_t rgb[3])
{
    rgb[0] = (i * 50 + 7) % 256;
    rgb[1] = (i * 90 + 3) % 256;
    rgb[2] = (i * 130 + 1) % 256;
}

static uint32_t image_at(const neco_image *im, uint32_t x, uint32_t y, uint32_t c)
{
    size_t i = ((size_t)y * im->width + x) * im->channels + c;
    if (im->bit_depth == 16)
        return ((const uint16_t *)im->data)[i];
    return ((const uint8_t *)im->data)[i];
}

/* The sample we expect from reading fixture `kind` at (x, y, c). */
typedef uint32_t (*expect_fn)(uint32_t x, uint32_t y, uint32_t c);

static uint32_t expect_plain8(uint32_t x, uint32_t y, uint32_t c) { return png_sample(x, y, c, 8); }
static uint32_t expect_plain16(uint32_t x, uint32_t y, uint32_t c)
{
    return png_sample(x, y, c, 16);
}
static uint32_t expect_gray1(uint32_t x, uint32_t y, uint32_t c)
{
    return png_sample(x, y, c, 1) * 255; /* PNG 13.12: scale to the full 8-bit range */
}
static uint32_t expect_gray2(uint32_t x, uint32_t y, uint32_t c)
{
    return png_sample(x, y, c, 2) * 85;
}
static uint32_t expect_gray4(uint32_t x, uint32_t y, uint32_t c)
{
    return png_sample(x, y, c, 4) * 17;
}
static uint32_t expect_pal8_trns(uint32_t x, uint32_t y, uint32_t c)
{
    uint32_t index = png_sample(x, y, 0, 8) % 16, rgb[3];
    if (c == 3)
        return index < 5 ? (index * 60) % 256 : 255; /* entries past the tRNS list are opaque */
    palette_entry(index, rgb);
    return rgb[c];
}
static uint32_t expect_pal2(uint32_t x, uint32_t y, uint32_t c)
{
    uint32_t rgb[3];
    palette_entry(png_sample(x, y, 0, 2), rgb);
    return rgb[c];
}
static uint32_t expect_gray8_trns(uint32_t x, uint32_t y, uint32_t c)
{
    uint32_t v = png_sample(x, y, 0, 8);
    if (c == 1)
        return v == png_sample(0, 1, 0, 8) ? 0 : 255;
    return v;
}
static uint32_t expect_rgb16_trns(uint32_t x, uint32_t y, uint32_t c)
{
    if (c < 3)
        return png_sample(x, y, c, 16);
    int key = 1;
    for (uint32_t k = 0; k < 3; k++)
        key &= png_sample(x, y, k, 16) == png_sample(1, 1, k, 16);
    return key ? 0 : 65535;
}

typedef struct png_case {
    const char *name;
    uint32_t width, height, channels, bit_depth;
    expect_fn expect;
} png_case;

static const png_case png_cases[] = {
    {"gray1.png", 13, 7, 1, 8, expect_gray1},
    {"gray2.png", 13, 7, 1, 8, expect_gray2},
    {"gray4.png", 13, 7, 1, 8, expect_gray4},
    {"gray8.png", 13, 7, 1, 8, expect_plain8},
    {"gray16.png", 13, 7, 1, 16, expect_plain16},
    {"ga8.png", 5, 3, 2, 8, expect_plain8},
    {"ga16.png", 5, 3, 2, 16, expect_plain16},
    {"rgb8.png", 9, 6, 3, 8, expect_plain8},
    {"rgb16.png", 9, 6, 3, 16, expect_plain16},
    {"rgba8.png", 7, 5, 4, 8, expect_plain8},
    {"rgba16.png", 7, 5, 4, 16, expect_plain16},
    {"pal8_trns.png", 11, 4, 4, 8, expect_pal8_trns},
    {"pal2.png", 10, 3, 3, 8, expect_pal2},
    {"gray8_trns.png", 13, 7, 2, 8, expect_gray8_trns},
    {"rgb16_trns.png", 9, 6, 4, 16, expect_rgb16_trns},
    {"rgb8_adam7.png", 11, 9, 3, 8, expect_plain8},
    {"gray1_adam7.png", 13, 7, 1, 8, expect_gray1},
    {"rgba16_adam7.png", 5, 3, 4, 16, expect_plain16},
    {"gray8_adam7_1x1.png", 1, 1, 1, 8, expect_plain8},
    {"actl_after_idat.png", 4, 4, 3, 8, expect_plain8},
};

static int png_matches(const png_case *pc, const neco_image *im)
{
    if (im->width != pc->width || im->height != pc->height || im->channels != pc->channels ||
        im->bit_depth != pc->bit_depth || im->data == NULL)
        return 0;
    for (uint32_t y = 0; y < im->height; y++)
        for (uint32_t x = 0; x < im->width; x++)
            for (uint32_t c = 0; c < im->channels; c++)
                if (image_at(im, x, y, c) != pc->expect(x, y, c))
                    return 0;
    return 1;
}

static size_t image_bytes(const neco_image *im)
{
    return (size_t)im->width * im->height * im->channels * (im->bit_depth / 8);
}

/* ---- PNG tests ----------------------------------------------------------------------------- */

static void test_png_read_exact(void)
{
    for (size_t i = 0; i < sizeof png_cases / sizeof png_cases[0]; i++) {
        char path[128], err[256];
        snprintf(path, sizeof path, "data/png/%s", png_cases[i].name);
        neco_image im;
        int rc = imageio_read_png(path, &im, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\n%s: %s\n", png_cases[i].name, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        int ok = png_matches(&png_cases[i], &im);
        if (!ok)
            fprintf(stderr, "\n%s: wrong samples or layout\n", png_cases[i].name);
        CU_ASSERT(ok);
        free(im.data);
    }
}

/* Every fixture survives read -> write -> read, and the written file is a 1-4 channel PNG of
 * the same bit depth (palette and low depths come back expanded). */
static void test_png_round_trip_fixtures(void)
{
    for (size_t i = 0; i < sizeof png_cases / sizeof png_cases[0]; i++) {
        char path[128], err[256];
        snprintf(path, sizeof path, "data/png/%s", png_cases[i].name);
        neco_image a, b;
        CU_ASSERT_EQUAL_FATAL(imageio_read_png(path, &a, err, sizeof err), 0);
        int rc = imageio_write_png(tmp_path("rt.png"), &a, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\nwrite %s: %s\n", png_cases[i].name, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL_FATAL(imageio_read_png(tmp_path("rt.png"), &b, err, sizeof err), 0);
        CU_ASSERT(png_matches(&png_cases[i], &b));
        CU_ASSERT(memcmp(a.data, b.data, image_bytes(&a)) == 0);
        free(a.data);
        free(b.data);
    }
}

/* Synthetic images of every writable layout, including 1x1 and a long thin one. */
static void test_png_write_layouts(void)
{
    static const uint32_t sizes[][2] = {{1, 1}, {3, 17}, {70, 2}};
    for (uint32_t depth = 8; depth <= 16; depth += 8)
        for (uint32_t ch = 1; ch <= 4; ch++)
            for (size_t s = 0; s < 3; s++) {
                neco_image im = {sizes[s][0], sizes[s][1], ch, depth, NULL};
                size_t n = (size_t)im.width * im.height * ch;
                im.data = malloc(n * (depth / 8));
                CU_ASSERT_PTR_NOT_NULL_FATAL(im.data);
                for (size_t i = 0; i < n; i++) {
                    uint32_t v = (uint32_t)(i * 2654435761u >> 7);
                    if (depth == 16)
                        ((uint16_t *)im.data)[i] = (uint16_t)v;
                    else
                        ((uint8_t *)im.data)[i] = (uint8_t)v;
                }
                char err[256];
                CU_ASSERT_EQUAL_FATAL(imageio_write_png(tmp_path("out.png"), &im, err, sizeof err),
                                      0);
                neco_image back;
                CU_ASSERT_EQUAL_FATAL(imageio_read_png(tmp_path("out.png"), &back, err, sizeof err),
                                      0);
                CU_ASSERT_EQUAL(back.width, im.width);
                CU_ASSERT_EQUAL(back.height, im.height);
                CU_ASSERT_EQUAL(back.channels, ch);
                CU_ASSERT_EQUAL(back.bit_depth, depth);
                CU_ASSERT(memcmp(back.data, im.data, n * (depth / 8)) == 0);
                free(back.data);
                free(im.data);
            }
}

/* 16-bit samples are big-endian in the file (PNG 7.1) and host-order in memory. */
static void test_png_16bit_byte_order(void)
{
    uint16_t px[2] = {0x1234, 0xabcd};
    neco_image im = {2, 1, 1, 16, px};
    char err[256];
    CU_ASSERT_EQUAL_FATAL(imageio_write_png(tmp_path("out.png"), &im, err, sizeof err), 0);
    neco_image back;
    CU_ASSERT_EQUAL_FATAL(imageio_read_png(tmp_path("out.png"), &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(((uint16_t *)back.data)[0], 0x1234);
    CU_ASSERT_EQUAL(((uint16_t *)back.data)[1], 0xabcd);
    free(back.data);
    /* And a sample of gray16.png whose two bytes differ. */
    CU_ASSERT_EQUAL_FATAL(imageio_read_png("data/png/gray16.png", &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(((uint16_t *)back.data)[1], png_sample(1, 0, 0, 16));
    CU_ASSERT(png_sample(1, 0, 0, 16) > 255); /* the check above sees both bytes */
    free(back.data);
}

static void expect_png_error(const char *path, const char *reason)
{
    char err[256] = "unset";
    neco_image im = {1, 1, 1, 8, (void *)&im};
    int rc = imageio_read_png(path, &im, err, sizeof err);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_PTR_NULL(im.data);
    if (reason != NULL && strstr(err, reason) == NULL) {
        fprintf(stderr, "\n%s: got \"%s\", want \"%s\"\n", path, err, reason);
        CU_FAIL("wrong error message");
    }
    CU_ASSERT(strchr(err, '\n') == NULL);
    CU_ASSERT(strstr(err, path) == NULL); /* the CLI adds the name */
    CU_ASSERT(err[0] != '\0');
    if (rc == 0)
        free(im.data);
}

static void test_png_errors(void)
{
    expect_png_error("data/png/apng.png", "animated PNG (APNG) is not supported");
    expect_png_error("data/png/truncated.png", "truncated PNG data");
    expect_png_error("data/png/bad_crc.png", "CRC");
    expect_png_error("data/png/bad_zlib.png", "invalid PNG data");
    expect_png_error("data/png/huge.png", "image too large (70000x70000");
    expect_png_error("data/png/not_png.png", "not a PNG file");
    expect_png_error("data/audio/s16_stereo.wav", "not a PNG file");
    expect_png_error("data/png/does_not_exist.png", "file not found");
    expect_png_error("data/png", "is a directory");
    CU_ASSERT_EQUAL_FATAL(write_bytes(tmp_path("empty.png"), "", 0), 0);
    expect_png_error(tmp_path("empty.png"), "empty file");
}

/* A PNG cut at every byte offset is an error, never a crash or a partial image. */
static void test_png_truncated_everywhere(void)
{
    const char *sources[] = {"data/png/rgb8_adam7.png", "data/png/pal8_trns.png"};
    for (size_t s = 0; s < 2; s++) {
        size_t size;
        unsigned char *file = read_bytes(sources[s], &size);
        CU_ASSERT_PTR_NOT_NULL_FATAL(file);
        for (size_t cut = 0; cut < size; cut++) {
            CU_ASSERT_EQUAL_FATAL(write_bytes(tmp_path("cut.png"), file, cut), 0);
            char err[256];
            neco_image im;
            int rc = imageio_read_png(tmp_path("cut.png"), &im, err, sizeof err);
            CU_ASSERT_EQUAL(rc, -1);
            if (rc == 0) {
                fprintf(stderr, "\n%s cut at %zu read fine\n", sources[s], cut);
                free(im.data);
            }
        }
        free(file);
    }
}

/* Single bit flips: each either reads (the flip hit a byte that no check covers, which for a
 * PNG with CRCs on every chunk means none) or fails cleanly; never a crash under ASan. */
static void test_png_bit_flips(void)
{
    size_t size;
    unsigned char *file = read_bytes("data/png/rgba16_adam7.png", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(file);
    int failures = 0;
    for (size_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            file[i] ^= (unsigned char)(1u << bit);
            CU_ASSERT_EQUAL_FATAL(write_bytes(tmp_path("cut.png"), file, size), 0);
            file[i] ^= (unsigned char)(1u << bit);
            char err[256];
            neco_image im;
            if (imageio_read_png(tmp_path("cut.png"), &im, err, sizeof err) == 0)
                free(im.data);
            else
                failures++;
        }
    }
    free(file);
    /* Chunk CRCs (PNG 5.3) catch nearly every flip: at least 90% must fail. */
    CU_ASSERT(failures * 10 >= (int)(size * 3) * 9);
}

static void test_png_write_errors(void)
{
    uint8_t px[4] = {0};
    char err[256];
    neco_image five = {1, 1, 5, 8, px};
    CU_ASSERT_EQUAL(imageio_write_png(tmp_path("out.png"), &five, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "channels") != NULL);
    neco_image twelve = {1, 1, 1, 12, px};
    CU_ASSERT_EQUAL(imageio_write_png(tmp_path("out.png"), &twelve, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "bits") != NULL);
    neco_image empty = {0, 1, 1, 8, px};
    CU_ASSERT_EQUAL(imageio_write_png(tmp_path("out.png"), &empty, err, sizeof err), -1);
    neco_image ok = {1, 1, 1, 8, px};
    CU_ASSERT_EQUAL(imageio_write_png("/nonexistent_dir/x.png", &ok, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "file not found") != NULL);
}

/* ---- Audio: expected samples ---------------------------------------------------------------- */

static int32_t pcm_s16(uint64_t f, uint32_t c)
{
    if (f == 0 && c == 0)
        return -32768;
    if (f == 1 && c == 0)
        return 32767;
    return (int32_t)((f * 7919 + c * 104729 + f * c * 31) % 65536) - 32768;
}

static int32_t pcm_s24(uint64_t f, uint32_t c)
{
    if (f == 0 && c == 0)
        return -8388608;
    if (f == 1 && c == 0)
        return 8388607;
    return (int32_t)((f * 7919 * 13 + c * 104729 + f * c * 31) % 16777216) - 8388608;
}

static int32_t pcm_s32(uint64_t f, uint32_t c)
{
    if (f == 0 && c == 0)
        return INT32_MIN;
    if (f == 1 && c == 0)
        return INT32_MAX;
    uint32_t u = (uint32_t)((f * 2654435761u + c * 40503u + 12345u) & 0xffffffffu);
    return u >= 0x80000000u ? -(int32_t)(~u) - 1 : (int32_t)u;
}

static float pcm_f32(uint64_t f, uint32_t c)
{
    return (float)((double)((int64_t)((f * 37 + c * 11) % 2001) - 1000) / 1024.0);
}

static int32_t pcm_u8_as_s16(uint64_t f, uint32_t c)
{
    return ((int32_t)((f * 37 + c * 11) % 256) - 128) * 256;
}

static int32_t audio_int(const neco_audio *a, uint64_t f, uint32_t c)
{
    size_t i = (size_t)f * a->channels + c;
    if (a->format == NECO_SAMPLE_S16)
        return ((const int16_t *)a->data)[i];
    return ((const int32_t *)a->data)[i];
}

typedef int32_t (*pcm_fn)(uint64_t f, uint32_t c);

typedef struct audio_case {
    const char *name;
    uint32_t rate, channels;
    uint64_t frames;
    neco_sample_format format;
    pcm_fn expect; /* NULL for F32 */
} audio_case;

static const audio_case audio_cases[] = {
    {"s16_stereo.wav", 44100, 2, 300, NECO_SAMPLE_S16, pcm_s16},
    {"s16_mono.wav", 8000, 1, 123, NECO_SAMPLE_S16, pcm_s16},
    {"s24_mono.wav", 48000, 1, 257, NECO_SAMPLE_S24, pcm_s24},
    {"s24_stereo.wav", 96000, 2, 100, NECO_SAMPLE_S24, pcm_s24},
    {"s32_stereo.wav", 44100, 2, 150, NECO_SAMPLE_S32, pcm_s32},
    {"f32_stereo.wav", 22050, 2, 200, NECO_SAMPLE_F32, NULL},
    {"u8_mono.wav", 11025, 1, 99, NECO_SAMPLE_S16, pcm_u8_as_s16},
    {"s16_6ch.wav", 48000, 6, 100, NECO_SAMPLE_S16, pcm_s16},
    {"s16_stereo.flac", 44100, 2, 300, NECO_SAMPLE_S16, pcm_s16},
    {"s24_mono.flac", 48000, 1, 257, NECO_SAMPLE_S24, pcm_s24},
    {"s16_6ch.flac", 48000, 6, 100, NECO_SAMPLE_S16, pcm_s16},
    {"empty.wav", 16000, 1, 0, NECO_SAMPLE_S16, pcm_s16},
};

static int audio_matches(const audio_case *ac, const neco_audio *a)
{
    if (a->sample_rate != ac->rate || a->channels != ac->channels || a->frames != ac->frames ||
        a->format != ac->format || (a->frames > 0 && a->data == NULL))
        return 0;
    for (uint64_t f = 0; f < a->frames; f++)
        for (uint32_t c = 0; c < a->channels; c++) {
            if (ac->format == NECO_SAMPLE_F32) {
                float v = ((const float *)a->data)[f * a->channels + c];
                if (memcmp(&v, &(float){pcm_f32(f, c)}, sizeof v) != 0)
                    return 0;
            } else if (audio_int(a, f, c) != ac->expect(f, c)) {
                return 0;
            }
        }
    return 1;
}

static size_t audio_bytes(const neco_audio *a)
{
    return (size_t)a->frames * a->channels * (a->format == NECO_SAMPLE_S16 ? 2 : 4);
}

/* ---- Audio tests ---------------------------------------------------------------------------- */

static void test_audio_read_exact(void)
{
    for (size_t i = 0; i < sizeof audio_cases / sizeof audio_cases[0]; i++) {
        char path[128], err[256];
        snprintf(path, sizeof path, "data/audio/%s", audio_cases[i].name);
        neco_audio a;
        int rc = audioio_read(path, &a, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\n%s: %s\n", audio_cases[i].name, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        int ok = audio_matches(&audio_cases[i], &a);
        if (!ok)
            fprintf(stderr, "\n%s: wrong samples or layout (%u Hz, %u ch, %llu frames, fmt %d)\n",
                    audio_cases[i].name, a.sample_rate, a.channels, (unsigned long long)a.frames,
                    (int)a.format);
        CU_ASSERT(ok);
        free(a.data);
    }
}

/* Lossless containers give back exactly what was written, for every format they store. */
static void test_audio_round_trip(void)
{
    static const struct {
        const char *fixture;
        const char *out;
    } trips[] = {
        {"s16_stereo.wav", "rt.wav"},  {"s24_mono.wav", "rt.wav"},   {"s32_stereo.wav", "rt.wav"},
        {"f32_stereo.wav", "rt.wav"},  {"s16_6ch.wav", "rt.wav"},    {"empty.wav", "rt.wav"},
        {"s16_stereo.wav", "rt.flac"}, {"s24_stereo.wav", "rt.flac"}, {"s16_6ch.wav", "rt.flac"},
        {"empty.wav", "rt.flac"},      {"s16_mono.wav", "rt.aiff"},  {"s24_mono.wav", "rt.aiff"},
        {"s32_stereo.wav", "rt.aiff"}, {"f32_stereo.wav", "rt.aiff"}, {"s16_6ch.wav", "a.AIFF"},
    };
    for (size_t i = 0; i < sizeof trips / sizeof trips[0]; i++) {
        char path[128], err[256];
        snprintf(path, sizeof path, "data/audio/%s", trips[i].fixture);
        neco_audio a, b;
        CU_ASSERT_EQUAL_FATAL(audioio_read(path, &a, err, sizeof err), 0);
        int rc = audioio_write(tmp_path(trips[i].out), &a, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\n%s -> %s: %s\n", trips[i].fixture, trips[i].out, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        if (filekind_detect(tmp_path(trips[i].out)) != FILE_KIND_AUDIO)
            fprintf(stderr, "\nkind of %s from %s wrong\n", trips[i].out, trips[i].fixture);
        CU_ASSERT_EQUAL(filekind_detect(tmp_path(trips[i].out)), FILE_KIND_AUDIO);
        rc = audioio_read(tmp_path(trips[i].out), &b, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\nread back %s from %s: %s\n", trips[i].out, trips[i].fixture, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(b.sample_rate, a.sample_rate);
        CU_ASSERT_EQUAL(b.channels, a.channels);
        CU_ASSERT_EQUAL(b.frames, a.frames);
        CU_ASSERT_EQUAL(b.format, a.format);
        if (b.frames == a.frames && b.format == a.format && b.channels == a.channels &&
            a.frames > 0)
            CU_ASSERT(memcmp(a.data, b.data, audio_bytes(&a)) == 0);
        free(a.data);
        free(b.data);
    }
}

/* Synthetic audio of several channel counts and formats through each lossless container. */
static void test_audio_round_trip_synthetic(void)
{
    static const struct {
        uint32_t channels;
        neco_sample_format format;
        const char *out;
    } cases[] = {
        {3, NECO_SAMPLE_S24, "rt.wav"},  {6, NECO_SAMPLE_F32, "rt.wav"},
        {8, NECO_SAMPLE_S32, "rt.wav"},  {8, NECO_SAMPLE_S24, "rt.flac"},
        {5, NECO_SAMPLE_S16, "rt.flac"}, {3, NECO_SAMPLE_F32, "rt.aiff"},
        {1, NECO_SAMPLE_S24, "rt.aiff"},
    };
    enum { FRAMES = 777 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t ch = cases[i].channels;
        neco_audio a = {48000, ch, FRAMES, cases[i].format, NULL};
        a.data = malloc((size_t)FRAMES * ch * 4);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a.data);
        for (uint64_t f = 0; f < FRAMES; f++)
            for (uint32_t c = 0; c < ch; c++) {
                size_t k = (size_t)f * ch + c;
                switch (a.format) {
                case NECO_SAMPLE_S16:
                    ((int16_t *)a.data)[k] = (int16_t)pcm_s16(f, c);
                    break;
                case NECO_SAMPLE_S24:
                    ((int32_t *)a.data)[k] = pcm_s24(f, c);
                    break;
                case NECO_SAMPLE_S32:
                    ((int32_t *)a.data)[k] = pcm_s32(f, c);
                    break;
                case NECO_SAMPLE_F32:
                    ((float *)a.data)[k] = pcm_f32(f, c);
                    break;
                }
            }
        char err[256];
        int rc = audioio_write(tmp_path(cases[i].out), &a, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\n%u ch -> %s: %s\n", ch, cases[i].out, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        neco_audio b;
        CU_ASSERT_EQUAL_FATAL(audioio_read(tmp_path(cases[i].out), &b, err, sizeof err), 0);
        CU_ASSERT_EQUAL(b.channels, ch);
        CU_ASSERT_EQUAL(b.format, a.format);
        CU_ASSERT_EQUAL(b.sample_rate, 48000);
        CU_ASSERT_EQUAL_FATAL(b.frames, FRAMES);
        CU_ASSERT(memcmp(a.data, b.data, audio_bytes(&a)) == 0);
        free(a.data);
        free(b.data);
    }
}

/* More than two channels in .wav are written as WAVE_FORMAT_EXTENSIBLE (tag 0xFFFE). */
static void test_audio_wavex(void)
{
    char err[256];
    neco_audio a;
    CU_ASSERT_EQUAL_FATAL(audioio_read("data/audio/s16_6ch.wav", &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(audioio_write(tmp_path("x.wav"), &a, err, sizeof err), 0);
    free(a.data);
    size_t size;
    unsigned char *file = read_bytes(tmp_path("x.wav"), &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(file);
    CU_ASSERT(size > 22 && memcmp(file + 12, "fmt ", 4) == 0 && file[20] == 0xfe &&
              file[21] == 0xff);
    free(file);
}

/* Mean square, zero crossings: enough to tell a 440 Hz sine at half scale from anything else. */
static void sine_stats(const float *x, size_t n, size_t stride, double *rms, int *crossings)
{
    double sum = 0;
    *crossings = 0;
    for (size_t i = 0; i < n; i++) {
        sum += (double)x[i * stride] * x[i * stride];
        if (i > 0 && (x[(i - 1) * stride] < 0) != (x[i * stride] < 0))
            (*crossings)++;
    }
    *rms = n ? sqrt(sum / (double)n) : 0;
}

static void test_audio_ogg_fixture(void)
{
    char err[256];
    neco_audio a;
    CU_ASSERT_EQUAL_FATAL(audioio_read("data/audio/sine440.ogg", &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL(a.format, NECO_SAMPLE_F32);
    CU_ASSERT_EQUAL(a.channels, 2);
    CU_ASSERT_EQUAL(a.sample_rate, 44100);
    CU_ASSERT_EQUAL(a.frames, 11025);
    for (uint32_t c = 0; c < a.channels; c++) {
        double rms;
        int crossings;
        sine_stats((const float *)a.data + c, (size_t)a.frames, a.channels, &rms, &crossings);
        CU_ASSERT(fabs(rms - 0.5 / sqrt(2.0)) < 0.02);
        CU_ASSERT(crossings >= 216 && crossings <= 224); /* 2 * 440 * 0.25 */
    }
    free(a.data);
}

/* Vorbis is lossy: the length, rate and channels come back exactly, the samples closely. */
static void test_audio_ogg_write(void)
{
    enum { FRAMES = 12000, CH = 3 };
    float *x = malloc(sizeof(float) * FRAMES * CH);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    const double pi = 3.14159265358979323846;
    for (int f = 0; f < FRAMES; f++)
        for (int c = 0; c < CH; c++)
            x[f * CH + c] = (float)(0.4 * sin(2 * pi * (300.0 + 200.0 * c) * f / 32000.0));
    neco_audio a = {32000, CH, FRAMES, NECO_SAMPLE_F32, x};
    char err[256];
    CU_ASSERT_EQUAL_FATAL(audioio_write(tmp_path("s.ogg"), &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL(filekind_detect(tmp_path("s.ogg")), FILE_KIND_AUDIO);
    neco_audio b;
    CU_ASSERT_EQUAL_FATAL(audioio_read(tmp_path("s.ogg"), &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(b.format, NECO_SAMPLE_F32);
    CU_ASSERT_EQUAL(b.channels, CH);
    CU_ASSERT_EQUAL(b.sample_rate, 32000);
    CU_ASSERT_EQUAL_FATAL(b.frames, FRAMES);
    double signal = 0, noise = 0;
    const float *y = b.data;
    for (size_t i = 0; i < (size_t)FRAMES * CH; i++) {
        signal += (double)x[i] * x[i];
        noise += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    }
    double snr = 10 * log10(signal / (noise + 1e-30));
    CU_ASSERT(snr > 20.0);
    free(b.data);
    /* S16 input is accepted too (converted by libsndfile). */
    int16_t s[2 * 100];
    for (int i = 0; i < 200; i++)
        s[i] = (int16_t)(i * 97);
    neco_audio c = {8000, 2, 100, NECO_SAMPLE_S16, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("s.ogg"), &c, err, sizeof err), 0);
    /* No frames: a stream of headers only, read back as 0 frames. */
    neco_audio none = {8000, 1, 0, NECO_SAMPLE_S16, NULL};
    CU_ASSERT_EQUAL_FATAL(audioio_write(tmp_path("s.ogg"), &none, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(audioio_read(tmp_path("s.ogg"), &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(b.frames, 0);
    CU_ASSERT_EQUAL(b.channels, 1);
    CU_ASSERT_EQUAL(b.sample_rate, 8000);
    CU_ASSERT_EQUAL(b.format, NECO_SAMPLE_F32);
    CU_ASSERT_PTR_NULL(b.data);
    free(x);
}

static void expect_audio_error(const char *path, const char *reason)
{
    char err[256] = "unset";
    neco_audio a = {1, 1, 1, NECO_SAMPLE_S16, (void *)&a};
    int rc = audioio_read(path, &a, err, sizeof err);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_PTR_NULL(a.data);
    if (reason != NULL && strstr(err, reason) == NULL) {
        fprintf(stderr, "\n%s: got \"%s\", want \"%s\"\n", path, err, reason);
        CU_FAIL("wrong error message");
    }
    CU_ASSERT(err[0] != '\0');
    CU_ASSERT(strchr(err, '\n') == NULL);
    if (rc == 0)
        free(a.data);
}

static void test_audio_read_errors(void)
{
    expect_audio_error("data/audio/not_audio.wav", "unsupported audio format");
    expect_audio_error("data/audio/unknown_codec.wav", NULL);
    expect_audio_error("data/audio/truncated.flac", NULL);
    expect_audio_error("data/png/rgb8.png", "unsupported audio format");
    expect_audio_error("data/audio/missing.wav", "file not found");
    expect_audio_error("data/audio", "is a directory");
    CU_ASSERT_EQUAL_FATAL(write_bytes(tmp_path("z.wav"), "", 0), 0);
    expect_audio_error(tmp_path("z.wav"), "empty file");
}

/* A WAV cut anywhere in its header fails; cut in its data it reads as a shorter file (the
 * RIFF size fields do not protect the payload) but never crashes or reads past the end. */
static void test_audio_truncated_everywhere(void)
{
    size_t size;
    unsigned char *file = read_bytes("data/audio/s24_stereo.wav", &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(file);
    for (size_t cut = 0; cut < size; cut++) {
        CU_ASSERT_EQUAL_FATAL(write_bytes(tmp_path("cut.wav"), file, cut), 0);
        char err[256];
        neco_audio a;
        int rc = audioio_read(tmp_path("cut.wav"), &a, err, sizeof err);
        if (cut <= 40) /* up to the "data" tag; a partial size field reads as 0 frames */
            CU_ASSERT_EQUAL(rc, -1);
        if (rc == 0) {
            CU_ASSERT(a.frames == 0 || 44 + a.frames * 6 <= cut);
            for (uint64_t f = 0; f < a.frames; f++)
                for (uint32_t c = 0; c < 2; c++)
                    CU_ASSERT_EQUAL(audio_int(&a, f, c), pcm_s24(f, c));
            free(a.data);
        }
    }
    free(file);
}

static void test_audio_write_errors(void)
{
    int32_t s[16] = {0};
    char err[256];
    neco_audio s32 = {44100, 1, 4, NECO_SAMPLE_S32, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("x.flac"), &s32, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "FLAC") != NULL && strstr(err, "32-bit") != NULL);
    neco_audio f32 = {44100, 1, 4, NECO_SAMPLE_F32, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("x.flac"), &f32, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "FLAC") != NULL && strstr(err, "float") != NULL);
    neco_audio nine = {44100, 9, 1, NECO_SAMPLE_S16, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("x.flac"), &nine, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "8 channels") != NULL);
    neco_audio ok = {44100, 1, 4, NECO_SAMPLE_S16, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("out.xyz"), &ok, err, sizeof err), -1);
    CU_ASSERT(strstr(err, ".wav") != NULL && strstr(err, ".flac") != NULL &&
              strstr(err, ".ogg") != NULL);
    CU_ASSERT_EQUAL(audioio_write(tmp_path("out.mp3"), &ok, err, sizeof err), -1);
    CU_ASSERT_EQUAL(audioio_write(tmp_path("no_ext"), &ok, err, sizeof err), -1);
    CU_ASSERT_EQUAL(audioio_write("/nonexistent_dir/x.wav", &ok, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "file not found") != NULL);
    neco_audio bad24 = {44100, 1, 1, NECO_SAMPLE_S24, (int32_t[]){8388608}};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("x.wav"), &bad24, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "out of range") != NULL);
    /* 2^31 stereo frames: refused from the size alone, before the data is touched. */
    neco_audio long_wav = {44100, 2, (uint64_t)1 << 31, NECO_SAMPLE_S16, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("x.wav"), &long_wav, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "4 GiB") != NULL);
    CU_ASSERT_EQUAL(audioio_write(tmp_path("rt.aiff"), &long_wav, err, sizeof err), -1);
    neco_audio zero_ch = {44100, 0, 1, NECO_SAMPLE_S16, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("x.wav"), &zero_ch, err, sizeof err), -1);
    neco_audio bad_fmt = {44100, 1, 1, (neco_sample_format)9, s};
    CU_ASSERT_EQUAL(audioio_write(tmp_path("x.wav"), &bad_fmt, err, sizeof err), -1);
}

/* ---- File kinds ------------------------------------------------------------------------------ */

static void test_filekind(void)
{
    CU_ASSERT_EQUAL(filekind_detect("data/png/rgb8.png"), FILE_KIND_PNG);
    CU_ASSERT_EQUAL(filekind_detect("data/png/apng.png"), FILE_KIND_PNG);
    CU_ASSERT_EQUAL(filekind_detect("data/audio/s16_stereo.wav"), FILE_KIND_AUDIO);
    CU_ASSERT_EQUAL(filekind_detect("data/audio/s16_6ch.wav"), FILE_KIND_AUDIO);
    CU_ASSERT_EQUAL(filekind_detect("data/audio/s16_stereo.flac"), FILE_KIND_AUDIO);
    CU_ASSERT_EQUAL(filekind_detect("data/audio/sine440.ogg"), FILE_KIND_AUDIO);
    CU_ASSERT_EQUAL(filekind_detect("data/audio/not_audio.wav"), FILE_KIND_UNKNOWN);
    CU_ASSERT_EQUAL(filekind_detect("data/png/not_png.png"), FILE_KIND_UNKNOWN);
    CU_ASSERT_EQUAL(filekind_detect("data/nothing_here"), FILE_KIND_UNKNOWN);
    CU_ASSERT_EQUAL(filekind_detect(NULL), FILE_KIND_UNKNOWN);

    static const struct {
        const char *bytes;
        size_t size;
        file_kind kind;
    } heads[] = {
        {"NECO\0\1", 6, FILE_KIND_NECO},
        {"NEC", 3, FILE_KIND_UNKNOWN},
        {"\x89PNG\r\n\x1a\n", 8, FILE_KIND_PNG},
        {"\x89PNG\r\n\x1a", 7, FILE_KIND_UNKNOWN},
        {"RF64\xff\xff\xff\xffWAVEds64", 16, FILE_KIND_AUDIO},
        {"RIFF\0\0\0\0AVI LIST", 16, FILE_KIND_UNKNOWN},
        {"FORM\0\0\0\0AIFFCOMM", 16, FILE_KIND_AUDIO},
        {"FORM\0\0\0\0AIFCFVER", 16, FILE_KIND_AUDIO},
        {"FORM\0\0\0\0ILBMBMHD", 16, FILE_KIND_UNKNOWN},
        {"caff\0\1\0\0", 8, FILE_KIND_AUDIO},
        {".snd\0\0\0\x18", 8, FILE_KIND_AUDIO},
        {"ID3\4\0\0", 6, FILE_KIND_AUDIO},
        {"\xff\xfb\x90\x64", 4, FILE_KIND_AUDIO},
        {"\xff\xff\xff\xff", 4, FILE_KIND_UNKNOWN},
        {"", 0, FILE_KIND_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(write_bytes(tmp_path("x.wav"), heads[i].bytes, heads[i].size), 0);
        file_kind k = filekind_detect(tmp_path("x.wav"));
        if (k != heads[i].kind)
            fprintf(stderr, "\nhead %zu: kind %d, want %d\n", i, (int)k, (int)heads[i].kind);
        CU_ASSERT_EQUAL(k, heads[i].kind);
    }
}

static void test_cleanup(void) { tmp_cleanup(); }

void neco_test_register(void)
{
    NECO_SUITE("fileio_png", {"read exact samples", test_png_read_exact},
               {"round trip fixtures", test_png_round_trip_fixtures},
               {"write every layout", test_png_write_layouts},
               {"16-bit byte order", test_png_16bit_byte_order}, {"errors", test_png_errors},
               {"truncated at every byte", test_png_truncated_everywhere},
               {"bit flips", test_png_bit_flips}, {"write errors", test_png_write_errors});
    NECO_SUITE("fileio_audio", {"read exact samples", test_audio_read_exact},
               {"round trip", test_audio_round_trip},
               {"round trip synthetic", test_audio_round_trip_synthetic},
               {"wavex", test_audio_wavex},
               {"ogg fixture", test_audio_ogg_fixture}, {"ogg write", test_audio_ogg_write},
               {"read errors", test_audio_read_errors},
               {"truncated wav", test_audio_truncated_everywhere},
               {"write errors", test_audio_write_errors});
    NECO_SUITE("fileio_kind", {"detect", test_filekind}, {"cleanup", test_cleanup});
}
