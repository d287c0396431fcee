/* The aud-grvq speech codec with the shipped weights (weights/aud-grvq.safetensors): agreement
 * with PyTorch on streams decoded by an independent Python decoder (fixtures by
 * train/make_grvq_fixture.py), round trips through the public API at every level, seamless chunk
 * boundaries, other rates and channel counts, cut and damaged streams, and streams made with
 * other weights. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include "codec/aud_grvq.h"
#include "codec/crc32.h"

#include <neco/neco.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WEIGHTS_DIR
#define WEIGHTS_DIR "../weights"
#endif
#define FIXTURES "data/aud_grvq"
#define CHUNK 131072 /* the model's chunk length (ARCH_AUDIO.md "aud-grvq") */
#define HOP 320      /* samples per latent frame at 16 kHz */
#define PI 3.14159265358979323846

static neco_context *context(const char *weights_dir, int conceal)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = weights_dir;
    cfg.threads = 1;
    cfg.conceal = conceal;
    neco_context *ctx = NULL;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    return ctx;
}

static neco_status encode_with(neco_context *ctx, const char *model, const neco_audio *a,
                               int quality, uint8_t **out, size_t *size)
{
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = model;
    p.quality = quality;
    return neco_encode_audio(ctx, a, &p, out, size);
}

static neco_status encode(neco_context *ctx, const neco_audio *a, int quality, uint8_t **out,
                          size_t *size)
{
    return encode_with(ctx, "aud-grvq", a, quality, out, size);
}

static void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n + 1);
    CU_ASSERT_FATAL(p && fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return p;
}

/* A fixture's speech-like input (a canonical 44-byte-header 16-bit mono WAV at the model's
 * rate). */
static int16_t *fixture_speech_in(const char *dir, uint64_t *frames)
{
    size_t size;
    char path[64];
    snprintf(path, sizeof path, "%s/speech.wav", dir);
    uint8_t *w = read_file(path, &size);
    CU_ASSERT_FATAL(size > 44 && memcmp(w + 36, "data", 4) == 0);
    *frames = (size - 44) / 2;
    int16_t *s = malloc((size_t)*frames * 2);
    for (uint64_t i = 0; i < *frames; i++)
        s[i] = (int16_t)(w[44 + 2 * i] | w[45 + 2 * i] << 8);
    free(w);
    return s;
}

/* A deterministic voiced-speech-like S16 signal at `rate` Hz: harmonics of a gliding pitch under
 * two moving formants, in 4 Hz syllables, interleaved over `channels` (at most 8; channel c has
 * its pitch 1 + c/2 times higher), preceded by `delay` frames of silence. */
static int16_t *voice_at(uint64_t frames, int channels, uint64_t delay, double rate)
{
    int16_t *s = calloc((size_t)(frames + delay) * channels, sizeof *s);
    double phase[8] = {0};
    for (uint64_t t = 0; t < frames; t++) {
        double tt = (double)t / rate;
        double syll = sin(2 * PI * 4 * tt);
        syll = syll > 0 ? pow(syll, 0.7) : 0;
        double f1 = 700 + 200 * sin(2 * PI * 1.3 * tt), f2 = 1200 + 400 * sin(2 * PI * 0.9 * tt);
        for (int c = 0; c < channels; c++) {
            double f0 = (160 + 50 * sin(2 * PI * 0.7 * tt)) * (1 + 0.5 * c), v = 0;
            phase[c] += 2 * PI * f0 / rate;
            for (int k = 1; k < 30 && k * f0 < rate / 2 && k * f0 < 7600; k++) {
                double fk = k * f0;
                double amp =
                    exp(-0.5 * pow((fk - f1) / 90, 2)) + exp(-0.5 * pow((fk - f2) / 110, 2));
                v += amp / sqrt(k) * sin(k * phase[c]);
            }
            s[(size_t)(t + delay) * channels + c] = (int16_t)lrint(0.12 * v * syll * 32767.0);
        }
    }
    return s;
}

/* Log-spectral distance (dB) between x and y on 512-sample frames with a Hann window, over the
 * DFT bins 2..255 (the voice band at 16 kHz), with powers floored at 40 dB below the frame's
 * strongest reference bin, on the frames whose energy is within 40 dB of the loudest: a
 * phase-blind measure, as the model is trained on a mel loss. */
static double lsd_db(const int16_t *x, const int16_t *y, size_t n, int stride)
{
    enum { N = 512, K = 256 };
    static double win[N], cs[N], sn[N];
    for (int i = 0; i < N; i++) {
        win[i] = 0.5 - 0.5 * cos(2 * PI * i / N);
        cs[i] = cos(2 * PI * i / N);
        sn[i] = sin(2 * PI * i / N);
    }
    double peak = 0, sum = 0, px[K], py[K];
    int frames = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t f = 0; f + N <= n; f += N) {
            double e = 0;
            for (int i = 0; i < N; i++)
                e += pow(x[(f + i) * stride], 2);
            if (pass == 0) {
                peak = e > peak ? e : peak;
                continue;
            }
            if (e < peak * 1e-4) continue;
            double top = 0;
            for (int k = 2; k < K; k++) {
                double xr = 0, xi = 0, yr = 0, yi = 0;
                for (int i = 0; i < N; i++) {
                    int j = (int)((size_t)k * i % N);
                    double wx = win[i] * x[(f + i) * stride], wy = win[i] * y[(f + i) * stride];
                    xr += wx * cs[j];
                    xi -= wx * sn[j];
                    yr += wy * cs[j];
                    yi -= wy * sn[j];
                }
                px[k] = xr * xr + xi * xi;
                py[k] = yr * yr + yi * yi;
                top = px[k] > top ? px[k] : top;
            }
            double d = 0, fl = top * 1e-4 + 1e-9;
            for (int k = 2; k < K; k++)
                d += pow(10 * log10((px[k] + fl) / (py[k] + fl)), 2);
            sum += sqrt(d / (K - 2));
            frames++;
        }
    return frames ? sum / frames : 0;
}

/* The streams the C encoder made for the fixture, decoded by Python from the specification
 * (BITSTREAM.md 3.4): the C decoder's indices are identical, and its samples are PyTorch's
 * decoding of those indices within 2 LSB (float summation order). The C encoder, rerun on the
 * fixture's input, picks the same indices (its choice is non-normative: at most 1 in 100 may
 * differ on another backend). For both rates: aud-grvq (16 kHz) and aud-grvq-24k. */
static void agreement(const char *dir, const char *model, uint32_t rate)
{
    uint64_t frames;
    int16_t *x = fixture_speech_in(dir, &frames);
    neco_audio a = {rate, 1, frames, NECO_SAMPLE_S16, x};
    neco_context *ctx = context(WEIGHTS_DIR, 0);
    printf("\n    %s:", model);
    for (int q = 1; q <= 7; q += 6) {
        char path[64];
        size_t size, nsym, nref;
        snprintf(path, sizeof path, "%s/q%d.neco", dir, q);
        uint8_t *coded = read_file(path, &size);
        snprintf(path, sizeof path, "%s/q%d.sym", dir, q);
        int32_t *sym = read_file(path, &nsym);
        snprintf(path, sizeof path, "%s/q%d.pt.f32", dir, q);
        float *ref = read_file(path, &nref);
        CU_ASSERT_FATAL(nref == frames * sizeof(float));
        int32_t *got;
        size_t n;
        int T;
        CU_ASSERT_FATAL(aud_grvq_chunk_symbols(ctx, coded, size, 0, &got, &n, &T) == NECO_OK);
        CU_ASSERT_FATAL(n * sizeof(int32_t) == nsym);
        CU_ASSERT(memcmp(got, sym, nsym) == 0);
        neco_decoded dec;
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
        CU_ASSERT_FATAL(dec.audio.frames == frames && dec.audio.format == NECO_SAMPLE_S16);
        double worst = 0;
        for (uint64_t i = 0; i < frames; i++) {
            double d = fabs(((const int16_t *)dec.audio.data)[i] - (double)ref[i] * 32768.0);
            worst = d > worst ? d : worst;
        }
        uint8_t *again;
        size_t size2;
        CU_ASSERT_FATAL(encode_with(ctx, model, &a, q, &again, &size2) == NECO_OK);
        int32_t *mine;
        size_t n2;
        CU_ASSERT_FATAL(aud_grvq_chunk_symbols(ctx, again, size2, 0, &mine, &n2, &T) == NECO_OK);
        CU_ASSERT_FATAL(n2 == n);
        size_t differ = 0;
        for (size_t i = 0; i < n; i++)
            differ += mine[i] != sym[i];
        printf("\n    q%d: %zu indices identical; max |C - PyTorch| %.2f LSB; re-encoding: %zu "
               "differ",
               q, n, worst, differ);
        CU_ASSERT(worst <= 2.0);
        CU_ASSERT(differ * 100 <= n);
        free(mine);
        neco_free(again);
        neco_decoded_free(&dec);
        free(got);
        free(coded);
        free(sym);
        free(ref);
    }
    neco_context_destroy(ctx);
    free(x);
}

static void test_agreement(void)
{
    agreement(FIXTURES, "aud-grvq", 16000);
    agreement(FIXTURES "_24k", "aud-grvq-24k", 24000);
}

/* Every level round-trips the fixture's speech: more bytes and no worse spectrum as the level
 * rises, within the model's nominal rates (8 bits per index: kbps_per_stage per stage of both
 * groups), deterministically; for aud-grvq and aud-grvq-24k. */
static void round_trips(const char *dir, const char *model, uint32_t rate, double kbps_per_stage,
                        double lsd_max)
{
    uint64_t frames;
    int16_t *x = fixture_speech_in(dir, &frames);
    neco_audio a = {rate, 1, frames, NECO_SAMPLE_S16, x};
    neco_context *ctx = context(WEIGHTS_DIR, 0);
    size_t last_size = 0;
    double first_lsd = 0, last_lsd = 0;
    int q;
    for (q = 1;; q++) {
        uint8_t *coded, *again;
        size_t size, size2;
        neco_status st = encode_with(ctx, model, &a, q, &coded, &size);
        if (st == NECO_ERR_INVALID_ARGUMENT) break; /* past the last level */
        CU_ASSERT_FATAL(st == NECO_OK);
        CU_ASSERT_FATAL(encode_with(ctx, model, &a, q, &again, &size2) == NECO_OK);
        CU_ASSERT(size == size2 && memcmp(coded, again, size) == 0);
        neco_decoded d1, d2;
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &d1) == NECO_OK);
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &d2) == NECO_OK);
        CU_ASSERT_EQUAL_FATAL(d1.audio.frames, frames);
        CU_ASSERT(memcmp(d1.audio.data, d2.audio.data, frames * sizeof(int16_t)) == 0);
        double kbps = (size - 64) * 8.0 / ((double)frames / rate) / 1000;
        double lsd = lsd_db(x, d1.audio.data, frames, 1);
        printf("\n    %s q%d: %.2f kbps, log-spectral distance %.2f dB", model, q, kbps, lsd);
        CU_ASSERT(size > last_size);
        CU_ASSERT(kbps < kbps_per_stage * (q + 1) * 1.1); /* nominal 8 bits per index + margins */
        if (q == 1) first_lsd = lsd;
        last_lsd = lsd;
        last_size = size;
        neco_decoded_free(&d1);
        neco_decoded_free(&d2);
        neco_free(coded);
        neco_free(again);
    }
    CU_ASSERT(q - 1 == 7);
    CU_ASSERT(last_lsd < first_lsd);
    CU_ASSERT(last_lsd < lsd_max);
    neco_context_destroy(ctx);
    free(x);
}

static void test_round_trips(void)
{
    round_trips(FIXTURES, "aud-grvq", 16000, 1.6, 10.0);           /* measured 8.2 dB at level 7 */
    round_trips(FIXTURES "_24k", "aud-grvq-24k", 24000, 2.4, 9.0); /* measured 6.9 dB */
}

/* Chunk seams are invisible: the same signal coded as it is and delayed by 10 latent frames
 * (3200 samples: the frame grid stays on the same samples) decodes to the same samples to one
 * LSB everywhere, across the seam too. */
static void test_seamless_chunks(void)
{
    const uint64_t frames = CHUNK + 6000, delay = 10 * HOP;
    int16_t *s = voice_at(frames, 1, 0, 16000.0), *sd = voice_at(frames, 1, delay, 16000.0);
    neco_audio a = {16000, 1, frames, NECO_SAMPLE_S16, s};
    neco_audio ad = {16000, 1, frames + delay, NECO_SAMPLE_S16, sd};
    neco_context *ctx = context(WEIGHTS_DIR, 0);
    uint8_t *c1, *c2;
    size_t n1, n2;
    CU_ASSERT_FATAL(encode(ctx, &a, 3, &c1, &n1) == NECO_OK);
    CU_ASSERT_FATAL(encode(ctx, &ad, 3, &c2, &n2) == NECO_OK);
    neco_decoded d1, d2;
    CU_ASSERT_FATAL(neco_decode(ctx, c1, n1, &d1) == NECO_OK);
    CU_ASSERT_FATAL(neco_decode(ctx, c2, n2, &d2) == NECO_OK);
    CU_ASSERT_EQUAL_FATAL(d1.info.units, 2);
    const int16_t *x1 = d1.audio.data, *x2 = d2.audio.data;
    int worst = 0;
    for (uint64_t t = 0; t < frames; t++) {
        int d = abs(x1[t] - x2[t + delay]);
        worst = d > worst ? d : worst;
    }
    int max_step = 0;
    for (uint64_t t = 1; t < frames; t++)
        if (t != CHUNK) {
            int d = abs(x1[t] - x1[t - 1]);
            max_step = d > max_step ? d : max_step;
        }
    int seam_step = abs(x1[CHUNK] - x1[CHUNK - 1]);
    printf("\n    seam: max |delayed - plain| %d LSB; step at seam %d, max step elsewhere %d",
           worst, seam_step, max_step);
    CU_ASSERT(worst <= 1);
    CU_ASSERT(seam_step <= max_step);
    neco_decoded_free(&d1);
    neco_decoded_free(&d2);
    neco_free(c1);
    neco_free(c2);
    neco_context_destroy(ctx);
    free(s);
    free(sd);
}

/* Other rates and channel counts: 8 kHz mono, 48 kHz stereo (mid/side) and 44.1 kHz with three
 * channels come back at their own rate, channel count and length, with the voice's spectrum. */
static void test_other_rates(void)
{
    static const struct {
        unsigned rate;
        int channels;
        uint64_t frames;
    } cases[] = {{8000, 1, 12001}, {48000, 2, 40000}, {44100, 3, 30000}};
    neco_context *ctx = context(WEIGHTS_DIR, 0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int16_t *s = voice_at(cases[c].frames, cases[c].channels, 0, cases[c].rate);
        neco_audio a = {cases[c].rate, (unsigned)cases[c].channels, cases[c].frames,
                        NECO_SAMPLE_S16, s};
        uint8_t *coded;
        size_t size;
        CU_ASSERT_FATAL(encode(ctx, &a, 7, &coded, &size) == NECO_OK);
        neco_decoded d;
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &d) == NECO_OK);
        CU_ASSERT_EQUAL(d.audio.sample_rate, cases[c].rate);
        CU_ASSERT_EQUAL(d.audio.channels, (unsigned)cases[c].channels);
        CU_ASSERT_EQUAL_FATAL(d.audio.frames, cases[c].frames);
        double lsd = cases[c].rate == 8000
                         ? 0
                         : lsd_db(s, d.audio.data, cases[c].frames / 3, cases[c].channels);
        printf("\n    %u Hz, %d ch: %.2f kbps, log-spectral distance (channel 0) %.2f dB",
               cases[c].rate, cases[c].channels,
               size * 8.0 / ((double)cases[c].frames / cases[c].rate) / 1000, lsd);
        CU_ASSERT(lsd < 5.0); /* measured 2.1 and 2.8 dB with the shipped weights */
        neco_decoded_free(&d);
        neco_free(coded);
        free(s);
    }
    neco_context_destroy(ctx);
}

/* A stream cut at a chunk boundary is refused as truncated; with concealment the chunk before
 * the cut decodes to exactly the samples of the whole stream and the rest is silence. */
static void test_cut_stream(void)
{
    const uint64_t frames = CHUNK + 3000;
    int16_t *s = voice_at(frames, 1, 0, 16000.0);
    neco_audio a = {16000, 1, frames, NECO_SAMPLE_S16, s};
    neco_context *ctx = context(WEIGHTS_DIR, 0);
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(encode(ctx, &a, 1, &coded, &size) == NECO_OK);
    neco_decoded whole, cut;
    CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &whole) == NECO_OK);
    neco_info info;
    CU_ASSERT_FATAL(neco_read_info(ctx, coded, size, &info) == NECO_OK);
    size_t p = (size_t)info.header_size;
    uint32_t len = (uint32_t)coded[p] | (uint32_t)coded[p + 1] << 8 | (uint32_t)coded[p + 2] << 16 |
                   (uint32_t)coded[p + 3] << 24;
    size_t cut_at = p + 8 + len;
    CU_ASSERT_FATAL(cut_at < size);
    CU_ASSERT_EQUAL(neco_decode(ctx, coded, cut_at, &cut), NECO_ERR_TRUNCATED);
    neco_context_destroy(ctx);
    ctx = context(WEIGHTS_DIR, 1);
    CU_ASSERT_FATAL(neco_decode(ctx, coded, cut_at, &cut) == NECO_OK);
    CU_ASSERT_EQUAL(cut.concealed, 1);
    CU_ASSERT(memcmp(cut.audio.data, whole.audio.data, (size_t)CHUNK * sizeof(int16_t)) == 0);
    int silent = 1;
    for (size_t i = CHUNK; i < frames; i++)
        silent &= ((const int16_t *)cut.audio.data)[i] == 0;
    CU_ASSERT(silent);
    neco_decoded_free(&cut);
    neco_decoded_free(&whole);
    neco_free(coded);
    neco_context_destroy(ctx);
    free(s);
}

/* Weights that do not fit are refused at loading with the reason: aud-grvq's file as
 * aud-grvq-24k's (its metadata names aud-grvq); aud-grvq-24k's with its sample rate changed to
 * 16000; with a margin of 3 frames, short of the decoder's receptive field (3.9 frames); and
 * aud-grvq's with its postfilter's tilt out of range (each patch keeps the length, so the file
 * stays well formed). */
static void test_wrong_weights(void)
{
    static const struct {
        const char *src, *file, *model, *key, *patched, *want;
    } cases[] = {
        {"aud-grvq", "aud-grvq-24k", "aud-grvq-24k", NULL, "\"sample_rate\":\"16000\"",
         "holds the weights of model 'aud-grvq'"},
        {"aud-grvq-24k", "aud-grvq-24k", "aud-grvq-24k", "\"sample_rate\":\"24000\"",
         "\"sample_rate\":\"16000\"", "sample_rate 24000"},
        {"aud-grvq-24k", "aud-grvq-24k", "aud-grvq-24k", "\"margin_frames\":\"4\"",
         "\"margin_frames\":\"3\"", "margin_frames"},
        {"aud-grvq", "aud-grvq", "aud-grvq", "\"postfilter\":\"0.65,0.75,-0.3\"",
         "\"postfilter\":\"0.65,0.75,-1.3\"", "postfilter"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char dir[32], src[256], file[64];
        snprintf(src, sizeof src, "%s/%s.safetensors", WEIGHTS_DIR, cases[k].src);
        snprintf(file, sizeof file, "%s.safetensors", cases[k].file);
        CU_ASSERT_FATAL(neco_test_weights_copy(dir, file, src, cases[k].key, cases[k].patched) ==
                        0);
        neco_context *ctx = context(dir, 0);
        double rate = strcmp(cases[k].model, "aud-grvq") ? 24000.0 : 16000.0;
        int16_t *x = voice_at(2400, 1, 0, rate);
        neco_audio a = {(uint32_t)rate, 1, 2400, NECO_SAMPLE_S16, x};
        uint8_t *coded;
        size_t size;
        CU_ASSERT_EQUAL(encode_with(ctx, cases[k].model, &a, 1, &coded, &size), NECO_ERR_MODEL);
        printf("\n    %s", neco_context_error(ctx));
        CU_ASSERT(strstr(neco_context_error(ctx), cases[k].want) != NULL);
        free(x);
        neco_context_destroy(ctx);
        neco_test_weights_remove(dir, file);
    }
}

/* Refused input: rates the resampler does not take, a level past the last; a damaged payload
 * with a valid CRC is refused or decodes, never crashes; a stream made with other weights is
 * refused naming the model. */
static void test_bad_input(void)
{
    int16_t s[4000];
    for (int i = 0; i < 4000; i++)
        s[i] = (int16_t)(8000 * sin(i * 0.05) * sin(i * 0.0013));
    neco_context *ctx = context(WEIGHTS_DIR, 0);
    uint8_t *coded;
    size_t size;
    static const unsigned refused[] = {4000, 44099, 384001};
    neco_audio a = {0, 1, 4000, NECO_SAMPLE_S16, s};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        a.sample_rate = refused[i];
        CU_ASSERT_EQUAL(encode(ctx, &a, 1, &coded, &size), NECO_ERR_UNSUPPORTED);
        CU_ASSERT(strstr(neco_context_error(ctx), "16000") != NULL);
    }
    a.sample_rate = 16000;
    CU_ASSERT_EQUAL(encode(ctx, &a, 8, &coded, &size), NECO_ERR_INVALID_ARGUMENT);
    CU_ASSERT_FATAL(encode(ctx, &a, 4, &coded, &size) == NECO_OK);
    neco_info info;
    CU_ASSERT_FATAL(neco_read_info(ctx, coded, size, &info) == NECO_OK);
    size_t p = (size_t)info.header_size;
    uint32_t len = (uint32_t)coded[p] | (uint32_t)coded[p + 1] << 8 | (uint32_t)coded[p + 2] << 16 |
                   (uint32_t)coded[p + 3] << 24;
    CU_ASSERT_FATAL(len > 16 && p + 8 + len == size);
    uint8_t *bad = malloc(size);
    int refused_n = 0;
    for (int k = 0; k < 16; k++) {
        memcpy(bad, coded, size);
        bad[p + 4 + (size_t)k * (len - 1) / 15] ^= 0x5A;
        uint32_t crc = crc32_update(0, bad + p, 4 + (size_t)len);
        for (int i = 0; i < 4; i++)
            bad[p + 4 + len + i] = (uint8_t)(crc >> (8 * i));
        neco_decoded dec;
        neco_status st = neco_decode(ctx, bad, size, &dec);
        CU_ASSERT(st == NECO_OK || st == NECO_ERR_BITSTREAM);
        refused_n += st == NECO_ERR_BITSTREAM;
        if (st == NECO_OK) neco_decoded_free(&dec);
    }
    CU_ASSERT(refused_n > 0);
    memcpy(bad, coded, size);
    bad[24] ^= 1; /* the weights hash (BITSTREAM.md 1.2); then re-seal the header CRC */
    uint32_t crc = crc32_update(0, bad, 60);
    for (int i = 0; i < 4; i++)
        bad[60 + i] = (uint8_t)(crc >> (8 * i));
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, bad, size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "aud-grvq") != NULL);
    free(bad);
    neco_free(coded);
    neco_context_destroy(ctx);
}

void neco_test_register(void)
{
    NECO_SUITE("aud-grvq", {"agreement with PyTorch", test_agreement},
               {"round trips at every level", test_round_trips},
               {"seamless chunks", test_seamless_chunks},
               {"other rates and channel counts", test_other_rates},
               {"stream cut at a chunk boundary", test_cut_stream}, {"bad input", test_bad_input},
               {"the other model's weights", test_wrong_weights});
}
