/*
 * apps/avinput: files read through libavformat/libavcodec. The fixtures in data/avinput are
 * made by data/avinput/make_fixtures.sh (Debian's ffmpeg 5.1) from one 64x48 picture (ref.png,
 * read here with libpng as the reference) and a 440 Hz tone of amplitude 1/8 (lavfi's sine),
 * so that each result is checked against what it must be: exact pixels for lossless sources,
 * a PSNR floor for lossy ones, and for audio the rate, channels, length, level and pitch.
 */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include "apps/avinput.h"
#include "apps/imageio.h"

#include <libavutil/log.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DATA "data/avinput/"

static neco_image read_ref(const char *name)
{
    neco_image image = {0};
    char err[256];
    CU_ASSERT_FATAL(imageio_read_png(name, &image, err, sizeof err) == 0);
    return image;
}

/* Reads a fixture that must be an image. */
static neco_image read_image(const char *name, int64_t frame)
{
    avinput_options o = {NECO_MEDIA_IMAGE, frame};
    neco_media media = 0;
    neco_image image;
    neco_audio audio;
    char err[256] = "";
    int rc = avinput_read(name, &o, &media, &image, &audio, err, sizeof err);
    if (rc != 0) fprintf(stderr, "%s: %s\n", name, err);
    CU_ASSERT_FATAL(rc == 0);
    CU_ASSERT_EQUAL(media, NECO_MEDIA_IMAGE);
    return image;
}

static double psnr8(const neco_image *a, const neco_image *b)
{
    size_t n = (size_t)a->width * a->height * a->channels;
    double sse = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)((const uint8_t *)a->data)[i] - ((const uint8_t *)b->data)[i];
        sse += d * d;
    }
    return sse == 0 ? INFINITY : 10 * log10(255.0 * 255.0 * n / sse);
}

static int same_layout(const neco_image *a, const neco_image *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           a->bit_depth == b->bit_depth;
}

/* WebP lossless decodes to ARGB; its alpha is opaque everywhere, so it is dropped and the
 * result is ref.png exactly. */
static void test_webp_lossless_exact(void)
{
    neco_image ref = read_ref(DATA "ref.png");
    neco_image img = read_image(DATA "ref.webp", 0);
    CU_ASSERT_FATAL(same_layout(&img, &ref));
    CU_ASSERT(img.channels == 3 && img.bit_depth == 8);
    CU_ASSERT(memcmp(img.data, ref.data, neco_image_data_size(&ref)) == 0);
    free(img.data);
    free(ref.data);
}

/* 16-bit gray, little-endian TIFF and big-endian PNG: 16 bits kept, host order, exact. */
static void test_gray16_exact(void)
{
    neco_image ref = read_ref(DATA "ref16.png");
    CU_ASSERT_FATAL(ref.channels == 1 && ref.bit_depth == 16);
    const char *names[] = {DATA "ref16.tif", DATA "ref16.png"};
    for (int i = 0; i < 2; i++) {
        neco_image img = read_image(names[i], 0);
        CU_ASSERT_FATAL(same_layout(&img, &ref));
        CU_ASSERT(memcmp(img.data, ref.data, neco_image_data_size(&ref)) == 0);
        free(img.data);
    }
    free(ref.data);
}

/* JPEG (full-range YUV 4:2:0, q 2): RGB close to the reference. Measured with Debian's
 * libavcodec 59: 36.6 dB; the floor catches a wrong matrix (BT.709 instead of the JPEG's
 * BT.601: 34.9 dB) and a wrong range (limited instead of full: 31.1 dB). */
static void test_jpeg_close(void)
{
    neco_image ref = read_ref(DATA "ref.png");
    neco_image img = read_image(DATA "ref.jpg", 0);
    CU_ASSERT_FATAL(same_layout(&img, &ref));
    double p = psnr8(&img, &ref);
    CU_ASSERT(p > 35.5 && p < 60.0);
    free(img.data);
    free(ref.data);
}

/* GIF: a palette (whose entries all have alpha) comes out as RGB without alpha. */
static void test_gif_palette(void)
{
    neco_image ref = read_ref(DATA "ref.png");
    neco_image img = read_image(DATA "ref.gif", 0);
    CU_ASSERT_FATAL(same_layout(&img, &ref));
    CU_ASSERT(psnr8(&img, &ref) > 25.0);
    free(img.data);
    free(ref.data);
}

static double mean8(const neco_image *img)
{
    size_t n = neco_image_data_size(img);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((const uint8_t *)img->data)[i];
    return s / n;
}

/* A video: frame 0 is black (the fade starts there), frame 4 is the picture; frame 5 does
 * not exist. */
static void test_video_frames(void)
{
    neco_image ref = read_ref(DATA "ref.png");
    neco_image first = read_image(DATA "clip.mp4", 0);
    CU_ASSERT(mean8(&first) < 20.0);
    neco_image last = read_image(DATA "clip.mp4", 4);
    CU_ASSERT_FATAL(same_layout(&last, &ref));
    CU_ASSERT(psnr8(&last, &ref) > 25.0);
    free(first.data);
    free(last.data);
    free(ref.data);

    avinput_options o = {NECO_MEDIA_IMAGE, 5};
    neco_media media;
    neco_image image;
    neco_audio audio;
    char err[256] = "";
    CU_ASSERT(avinput_read(DATA "clip.mp4", &o, &media, &image, &audio, err, sizeof err) == -1);
    CU_ASSERT(strstr(err, "has 5 frames") != NULL);
    CU_ASSERT(image.data == NULL && audio.data == NULL);
}

static double audio_sample(const neco_audio *a, size_t i)
{
    switch (a->format) {
    case NECO_SAMPLE_S16:
        return ((const int16_t *)a->data)[i] / 32768.0;
    case NECO_SAMPLE_S24:
        return ((const int32_t *)a->data)[i] / 8388608.0;
    case NECO_SAMPLE_S32:
        return ((const int32_t *)a->data)[i] / 2147483648.0;
    case NECO_SAMPLE_F32:
        return ((const float *)a->data)[i];
    }
    return 0;
}

/* RMS of lavfi's sine (amplitude 1/8), and of each channel of its mono-to-stereo upmix. */
#define TONE_RMS (0.125 / 1.4142135623730951)
#define TONE_RMS_UPMIX (TONE_RMS / 1.4142135623730951)

/* Reads a fixture that must be audio, and checks it is the tone: the expected layout, the RMS
 * within 10 % and, by zero crossings, 440 Hz within 2 %, on every channel. */
static void check_tone(const char *name, uint32_t rate, uint32_t channels, uint64_t frames,
                       neco_sample_format format, double want_rms)
{
    neco_media media = 0;
    neco_image image;
    neco_audio a;
    char err[256] = "";
    int rc = avinput_read(name, NULL, &media, &image, &a, err, sizeof err);
    if (rc != 0) fprintf(stderr, "%s: %s\n", name, err);
    CU_ASSERT_FATAL(rc == 0);
    CU_ASSERT_FATAL(media == NECO_MEDIA_AUDIO);
    CU_ASSERT_EQUAL(a.sample_rate, rate);
    CU_ASSERT_EQUAL(a.channels, channels);
    CU_ASSERT_EQUAL(a.frames, frames);
    CU_ASSERT_EQUAL(a.format, format);
    for (uint32_t c = 0; c < a.channels; c++) {
        double sum = 0;
        int crossings = 0;
        for (uint64_t i = 0; i < a.frames; i++) {
            double x = audio_sample(&a, i * a.channels + c);
            sum += x * x;
            if (i > 0 && (x >= 0) != (audio_sample(&a, (i - 1) * a.channels + c) >= 0)) crossings++;
        }
        double rms = sqrt(sum / a.frames);
        double hz = crossings / 2.0 / ((double)a.frames / a.sample_rate);
        CU_ASSERT(fabs(rms - want_rms) < 0.1 * want_rms);
        CU_ASSERT(fabs(hz - 440.0) < 0.02 * 440.0);
    }
    free(a.data);
}

static void test_audio_lossy(void)
{
    /* MP3 with LAME's gapless header and Opus with its pre-skip: exactly 0.5 s. */
    check_tone(DATA "tone.mp3", 44100, 1, 22050, NECO_SAMPLE_F32, TONE_RMS);
    check_tone(DATA "tone.opus", 48000, 2, 24000, NECO_SAMPLE_F32, TONE_RMS_UPMIX);
    /* AAC in MP4: the priming is removed, the padding to a whole 1024-sample frame is not; FFmpeg
     * 5.1's own ffmpeg decodes the same 22528 samples. */
    check_tone(DATA "tone.m4a", 44100, 1, 22528, NECO_SAMPLE_F32, TONE_RMS);
}

/* 24-bit PCM (here in Matroska, which libsndfile does not read) is S24, not S32: the values are
 * the 16-bit tone scaled by 256, in 24-bit range. */
static void test_audio_s24(void)
{
    check_tone(DATA "tone24.mka", 48000, 1, 4800, NECO_SAMPLE_S24, TONE_RMS);
    neco_media media;
    neco_image image;
    neco_audio a;
    char err[256];
    CU_ASSERT_FATAL(avinput_read(DATA "tone24.mka", NULL, &media, &image, &a, err, sizeof err) ==
                    0);
    int ok = 1;
    for (uint64_t i = 0; i < a.frames; i++) {
        int32_t v = ((const int32_t *)a.data)[i];
        ok &= v % 256 == 0 && v >= -8388608 && v < 8388608;
    }
    CU_ASSERT(ok);
    free(a.data);
}

/* An MP3 with cover art is audio unless the picture is asked for. */
static void test_cover_art(void)
{
    check_tone(DATA "cover.mp3", 44100, 1, 22050, NECO_SAMPLE_F32, TONE_RMS);
    neco_image img = read_image(DATA "cover.mp3", 0);
    CU_ASSERT(img.width == 64 && img.height == 48 && img.channels == 3 && img.bit_depth == 8);
    free(img.data);
}

static void expect_error(const char *name, int media, int64_t frame, const char *words)
{
    avinput_options o = {media, frame};
    neco_media m;
    neco_image image;
    neco_audio audio;
    char err[256] = "";
    CU_ASSERT(avinput_read(name, &o, &m, &image, &audio, err, sizeof err) == -1);
    CU_ASSERT(strstr(err, words) != NULL);
    CU_ASSERT(strchr(err, '\n') == NULL);
    CU_ASSERT(image.data == NULL && audio.data == NULL);
}

/* Failures: one line each, nothing allocated, and the libraries' log level as it was (they are
 * silenced only while a file is read). */
static void test_errors(void)
{
    av_log_set_level(AV_LOG_WARNING);
    expect_error(DATA "not-media.txt", 0, 0, "not a file FFmpeg reads");
    expect_error(DATA "no-such-file.png", 0, 0, "not a file FFmpeg reads");
    expect_error(DATA "ref.png", NECO_MEDIA_AUDIO, 0, "has no audio");
    expect_error(DATA "tone.mp3", NECO_MEDIA_IMAGE, 0, "has no picture or video");
    expect_error(DATA "ref.png", 0, -1, "invalid");
    expect_error(DATA "ref.png", 0, 1, "has 1 frames");
    CU_ASSERT_EQUAL(av_log_get_level(), AV_LOG_WARNING);
}

void neco_test_register(void)
{
    NECO_SUITE("avinput", {"webp lossless exact", test_webp_lossless_exact},
               {"gray16 tiff/png exact", test_gray16_exact}, {"jpeg close", test_jpeg_close},
               {"gif palette", test_gif_palette}, {"video frames", test_video_frames},
               {"audio lossy", test_audio_lossy}, {"audio s24", test_audio_s24},
               {"cover art", test_cover_art}, {"errors", test_errors});
}
