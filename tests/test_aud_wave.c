/* The aud-wave audio codec with the shipped weights (weights/aud-wave.safetensors): agreement
 * with PyTorch (fixture by train/export_audio.py), round trips through the public API at every
 * quality level, determinism, seamless chunk boundaries, and the refusal of unsupported input,
 * wrong weights and streams made with other weights. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include "codec/aud_wave.h"
#include "codec/crc32.h"
#include "codec/sha256.h"
#include "nets/lifting97_1d.h"
#include "nets/safetensors.h"

#include <neco/neco.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WEIGHTS_DIR
#define WEIGHTS_DIR "../weights"
#endif
#define FIXTURES "data/aud_wave"
#define CHUNK 131072 /* the model's chunk length (BITSTREAM-aud-wave.md) */
#define PI 3.14159265358979323846

static neco_context *context(const char *weights_dir)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = weights_dir;
    cfg.threads = 1;
    neco_context *ctx = NULL;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    return ctx;
}

static neco_status encode(neco_context *ctx, const neco_audio *a, int quality, uint8_t **out,
                          size_t *size)
{
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "aud-wave";
    p.quality = quality;
    return neco_encode_audio(ctx, a, &p, out, size);
}

/* A deterministic music-like S16 signal at `rate` Hz: harmonic tones with vibrato and decaying
 * bursts of low-passed noise (a 32-bit LCG through a one-pole filter: like real recordings, and
 * unlike white noise, little energy in the top octave), interleaved over `channels`. */
static int16_t *synth_at(uint64_t frames, int channels, uint64_t delay, double rate)
{
    int16_t *s = calloc((size_t)(frames + delay) * channels, sizeof *s);
    uint32_t seed = 12345;
    double lp = 0.0;
    for (uint64_t t = 0; t < frames; t++) {
        double tt = (double)t / rate, env = exp(-fmod(tt, 0.25) * 30.0);
        seed = seed * 1664525u + 1013904223u;
        lp = 0.8 * lp + 0.2 * ((double)(seed >> 8) / 16777216.0 - 0.5);
        double noise = lp * env * 1.2;
        for (int c = 0; c < channels; c++) {
            double f0 = 220.0 * (1.0 + 0.26 * c), v = 0.0;
            for (int k = 1; k < 8; k++)
                v += 0.5 / k * sin(2 * PI * f0 * k * tt + 0.3 * sin(2 * PI * 5 * tt));
            v = 0.25 * v + noise * (1.0 - 0.3 * c);
            s[(size_t)(t + delay) * channels + c] = (int16_t)lrint(v * 29000.0);
        }
    }
    return s;
}

static int16_t *synth(uint64_t frames, int channels, uint64_t delay)
{
    return synth_at(frames, channels, delay, 44100.0);
}

static double snr_db(const int16_t *ref, const int16_t *dec, size_t n)
{
    double e = 0, p = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)dec[i] - ref[i];
        e += d * d;
        p += (double)ref[i] * ref[i];
    }
    return 10 * log10(p / (e > 0 ? e : 1e-9));
}

/* PyTorch's encoder symbols and decoded output for a synthetic stereo signal
 * (train/export_audio.py agreement_fixture): the C encoder gives the same symbols (rounding ties
 * may flip a rare one: at most 1 in 2000, by one), and the C decoder, from the C symbols, gives
 * PyTorch's output within 2e-4 (float32 summation order) where the symbols agree. */
static void test_agreement(void)
{
    nn_weights *fx = NULL;
    char err[200];
    CU_ASSERT_FATAL(nn_weights_load_file(FIXTURES "/agreement.safetensors", &fx, err, sizeof err) ==
                    NN_OK);
    const nn_weight *in = nn_weights_find(fx, "input");
    CU_ASSERT_FATAL(in && in->dtype == NN_I16 && in->ndim == 2 && in->shape[1] == 2);
    uint64_t frames = (uint64_t)in->shape[0];
    float *x = malloc(sizeof(float) * frames * 2);
    for (size_t i = 0; i < frames * 2; i++)
        x[i] = (float)((const int16_t *)in->ints)[i] / 32768.0f;
    neco_audio a = {44100, 2, frames, NECO_SAMPLE_F32, x};
    neco_context *ctx = context(WEIGHTS_DIR);
    const char *levels = nn_weights_metadata(fx, "levels");
    CU_ASSERT_PTR_NOT_NULL_FATAL(levels);
    int checked = 0;
    for (const char *p = levels; *p; p += strcspn(p, ","), p += *p == ',') {
        int q = atoi(p);
        char name[32];
        snprintf(name, sizeof name, "symbols_q%d", q);
        const nn_weight *sym = nn_weights_find(fx, name);
        snprintf(name, sizeof name, "decoded_q%d", q);
        const nn_weight *ref = nn_weights_find(fx, name);
        CU_ASSERT_FATAL(sym && ref && sym->dtype == NN_I16 && ref->dtype == NN_F32);
        uint8_t *coded;
        size_t size;
        CU_ASSERT_FATAL(encode(ctx, &a, q + 1, &coded, &size) == NECO_OK);
        int32_t *got;
        size_t n;
        int T;
        CU_ASSERT_FATAL(aud_wave_chunk_symbols(ctx, coded, size, 0, &got, &n, &T) == NECO_OK);
        CU_ASSERT_EQUAL_FATAL(n, (size_t)sym->shape[0] * sym->shape[1] * sym->shape[2]);
        CU_ASSERT_EQUAL(T, sym->shape[2]);
        size_t differ = 0;
        int worst = 0;
        for (size_t i = 0; i < n; i++) {
            int d = abs(got[i] - ((const int16_t *)sym->ints)[i]);
            differ += d != 0;
            worst = d > worst ? d : worst;
        }
        printf("\n    q%d: %zu of %zu symbols differ from PyTorch's (worst by %d)", q, differ, n,
               worst);
        CU_ASSERT(differ * 2000 <= n);
        CU_ASSERT(worst <= 1);
        neco_decoded dec;
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
        CU_ASSERT_EQUAL(dec.audio.format, NECO_SAMPLE_F32);
        double maxdiff = 0;
        if (differ == 0)
            for (size_t i = 0; i < frames * 2; i++) {
                double d = fabs((double)((const float *)dec.audio.data)[i] - ref->f32[i]);
                maxdiff = d > maxdiff ? d : maxdiff;
            }
        printf("; decoded max |C - PyTorch| %.2e", maxdiff);
        CU_ASSERT(maxdiff <= 2e-4);
        neco_decoded_free(&dec);
        free(got);
        neco_free(coded);
        checked++;
    }
    CU_ASSERT(checked == 2);
    neco_context_destroy(ctx);
    free(x);
    nn_weights_free(fx);
}

/* Every quality level round-trips a 2-chunk stereo signal: more bytes and a higher SNR as the
 * level rises, above a floor at the lowest level; encoding and decoding are deterministic. */
static void test_round_trips(void)
{
    const uint64_t frames = CHUNK + 20000;
    int16_t *s = synth(frames, 2, 0);
    neco_audio a = {48000, 2, frames, NECO_SAMPLE_S16, s};
    neco_context *ctx = context(WEIGHTS_DIR);
    size_t last_size = 0;
    double last_snr = -100;
    int q;
    for (q = 1;; q++) {
        uint8_t *coded, *again;
        size_t size, size2;
        neco_status st = encode(ctx, &a, q, &coded, &size);
        if (st == NECO_ERR_INVALID_ARGUMENT) /* past the last level */
            break;
        CU_ASSERT_FATAL(st == NECO_OK);
        CU_ASSERT_FATAL(encode(ctx, &a, q, &again, &size2) == NECO_OK);
        CU_ASSERT(size == size2 && memcmp(coded, again, size) == 0);
        neco_decoded d1, d2;
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &d1) == NECO_OK);
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &d2) == NECO_OK);
        CU_ASSERT_EQUAL(d1.info.units, 2);
        CU_ASSERT_EQUAL(d1.audio.frames, frames);
        CU_ASSERT_EQUAL(d1.audio.sample_rate, 48000);
        CU_ASSERT(memcmp(d1.audio.data, d2.audio.data, frames * 2 * sizeof(int16_t)) == 0);
        double snr = snr_db(s, d1.audio.data, frames * 2);
        double kbps = size * 8.0 / ((double)frames / 48000) / 1000;
        printf("\n    aud-wave q%d: %.1f kbps, SNR %.2f dB", q, kbps, snr);
        CU_ASSERT(size > last_size);
        CU_ASSERT(snr > last_snr);
        CU_ASSERT(snr > 15.0); /* measured 19.7 dB at level 1 with the shipped weights */
        last_size = size;
        last_snr = snr;
        neco_decoded_free(&d1);
        neco_decoded_free(&d2);
        neco_free(coded);
        neco_free(again);
    }
    CU_ASSERT(q - 1 >= 4);      /* several rates in one weights file */
    CU_ASSERT(last_snr > 40.0); /* measured 44.3 dB at the top level */
    neco_context_destroy(ctx);
    free(s);
}

/* Other rates are coded at 44.1 kHz through the resampler of BITSTREAM.md 3.2: a 16 kHz mono and
 * an 8 kHz stereo signal (odd length) come back at their own rate with exactly their length,
 * deterministically, above an SNR floor at levels 1 and 4. The test signal has some energy
 * near the input's Nyquist frequency, which the resampler removes (it is 6 dB down at 0.95 of
 * it): that limits the SNR at level 4 a little (34 dB against 36.5 dB at 44.1 kHz). */
static void test_resampled_round_trips(void)
{
    static const struct {
        unsigned rate;
        int channels;
        uint64_t frames;
        double floor[2]; /* SNR floors at levels 1 and 4: measured 24.0 and 34.1 dB at 16 kHz,
                            23.0 and 35.1 dB at 8 kHz, less about 3 dB */
    } cases[] = {{16000, 1, 40000, {21.0, 31.0}}, {8000, 2, 20001, {20.0, 32.0}}};
    neco_context *ctx = context(WEIGHTS_DIR);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int16_t *s = synth_at(cases[c].frames, cases[c].channels, 0, cases[c].rate);
        neco_audio a = {cases[c].rate, (unsigned)cases[c].channels, cases[c].frames,
                        NECO_SAMPLE_S16, s};
        size_t n = (size_t)cases[c].frames * cases[c].channels;
        for (int k = 0; k < 2; k++) {
            int q = k ? 4 : 1;
            uint8_t *coded, *again;
            size_t size, size2;
            CU_ASSERT_FATAL(encode(ctx, &a, q, &coded, &size) == NECO_OK);
            CU_ASSERT_FATAL(encode(ctx, &a, q, &again, &size2) == NECO_OK);
            CU_ASSERT(size == size2 && memcmp(coded, again, size) == 0);
            neco_decoded d1, d2;
            CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &d1) == NECO_OK);
            CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &d2) == NECO_OK);
            CU_ASSERT_EQUAL(d1.info.sample_rate, cases[c].rate);
            CU_ASSERT_EQUAL(d1.audio.sample_rate, cases[c].rate);
            CU_ASSERT_EQUAL(d1.audio.channels, (unsigned)cases[c].channels);
            CU_ASSERT_EQUAL_FATAL(d1.audio.frames, cases[c].frames);
            CU_ASSERT_EQUAL(d1.audio.format, NECO_SAMPLE_S16);
            CU_ASSERT(memcmp(d1.audio.data, d2.audio.data, n * sizeof(int16_t)) == 0);
            double snr = snr_db(s, d1.audio.data, n);
            printf("\n    %u Hz, %d ch, q%d: %.1f kbps, SNR %.2f dB", cases[c].rate,
                   cases[c].channels, q,
                   size * 8.0 / ((double)cases[c].frames / cases[c].rate) / 1000, snr);
            CU_ASSERT(snr > cases[c].floor[k]);
            neco_decoded_free(&d1);
            neco_decoded_free(&d2);
            neco_free(coded);
            neco_free(again);
        }
        free(s);
    }
    neco_context_destroy(ctx);
}

/* Sum of x^2 and of (x - y)^2 over [from, to): the SNR of y against x in dB. */
static double snr_f(const float *x, const float *y, size_t from, size_t to)
{
    double e = 0, p = 0;
    for (size_t i = from; i < to; i++) {
        double d = (double)y[i] - x[i];
        e += d * d;
        p += (double)x[i] * x[i];
    }
    return 10 * log10(p / (e > 0 ? e : 1e-30));
}

/* The resampler alone (BITSTREAM.md 3.2): tones up to 3/4 of the input's Nyquist frequency go up
 * to 44.1 kHz and back almost unchanged (measured SNR 108 dB away from the ends); a tone
 * above the lower rate's Nyquist frequency is removed (no aliasing); a constant keeps its level
 * (each phase of the filter sums to 1); and a rate aud-wave does not resample is refused. */
static void test_resampler(void)
{
    static const unsigned rates[] = {8000, 16000, 22050, 32000, 96000};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        unsigned fs = rates[r];
        size_t n = fs / 4, n44 = (size_t)((uint64_t)n * 44100 / fs);
        float *x = malloc(sizeof(float) * n), *up = malloc(sizeof(float) * n44),
              *back = malloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i++) {
            double t = (double)i / fs, top = fs < 44100 ? fs : 44100;
            x[i] = (float)(0.3 * sin(2 * PI * 0.02 * top * t) + 0.2 * sin(2 * PI * 0.2 * top * t) +
                           0.1 * sin(2 * PI * 0.375 * top * t + 1.0));
        }
        CU_ASSERT_FATAL(aud_wave_resample(fs, 44100, x, n, up, n44) == 0);
        CU_ASSERT_FATAL(aud_wave_resample(44100, fs, up, n44, back, n) == 0);
        /* Away from the ends, where the signal starts and stops abruptly. */
        size_t edge = fs / 100;
        double snr = snr_f(x, back, edge, n - edge);
        /* A tone at 0.55 of the rate (above the lower rate's Nyquist) down to the lower rate. */
        unsigned lo = fs < 44100 ? fs : 44100, hi = fs < 44100 ? 44100 : fs;
        size_t nh = hi / 4, nl = (size_t)((uint64_t)nh * lo / hi);
        float *h = malloc(sizeof(float) * nh), *l = malloc(sizeof(float) * nl);
        for (size_t i = 0; i < nh; i++)
            h[i] = (float)(0.5 * sin(2 * PI * 0.55 * lo * (double)i / hi));
        CU_ASSERT_FATAL(aud_wave_resample(hi, lo, h, nh, l, nl) == 0);
        double alias = 0;
        for (size_t i = lo / 100; i < nl - lo / 100; i++)
            alias = fabs(l[i]) > alias ? fabs(l[i]) : alias;
        /* A constant. */
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f;
        CU_ASSERT_FATAL(aud_wave_resample(fs, 44100, x, n, up, n44) == 0);
        double dc = 0;
        for (size_t i = 44100 / 100; i < n44 - 44100 / 100; i++)
            dc = fabs(up[i] - 0.5) > dc ? fabs(up[i] - 0.5) : dc;
        printf("\n    %u Hz -> 44100 -> %u Hz: SNR %.1f dB; alias of a tone at 0.55 x %u Hz: "
               "%.1f dB; DC error %.1e",
               fs, fs, snr, lo, 20 * log10(alias / 0.5 + 1e-30), dc);
        CU_ASSERT(snr > 100.0);
        CU_ASSERT(alias < 0.5e-5); /* -100 dB; measured -111.6 dB or less */
        CU_ASSERT(dc < 1e-6);
        free(x);
        free(up);
        free(back);
        free(h);
        free(l);
    }
    float v = 0;
    CU_ASSERT_EQUAL(aud_wave_resample(44099, 44100, &v, 1, &v, 1), -1);
    CU_ASSERT_EQUAL(aud_wave_resample(16000, 8000, &v, 1, &v, 1), -1);
}

/* The resampler against the specification: the SHA-256 of its output (float32 little-endian) for
 * three conversions of an LCG signal equals the digest that an independent implementation of
 * BITSTREAM.md 3.2, in Python from the text (tests/data/aud_wave/resampler_spec.py), computes:
 * the coefficient procedure and the filter are specified exactly enough to reproduce. */
static void test_resampler_spec(void)
{
    static const struct {
        unsigned in, out;
        size_t nx, ny;
        const char *sha256;
    } cases[] = {
        {16000, 44100, 900, 2480, "4e47ef2c4feb4ea9d0c350dbddddab430c9eed9f609832feaba0a9f803311e51"},
        {44100, 8000, 4000, 725, "ba3ba1bf5b566f8a11bc04155a496248274772b9fdc8ac3d3115e325fcf5e6d9"},
        {96000, 44100, 1500, 689, "dba6eab4eb01e44de80fa6a92424e40cc9c4b4caa66dc05dbb2a2bd1eb854d2a"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float *x = malloc(sizeof(float) * cases[c].nx), *y = malloc(sizeof(float) * cases[c].ny);
        uint32_t seed = cases[c].in;
        for (size_t i = 0; i < cases[c].nx; i++) {
            seed = seed * 1664525u + 1013904223u;
            x[i] = (float)((double)(seed >> 8) / 16777216.0 - 0.5);
        }
        CU_ASSERT_FATAL(aud_wave_resample(cases[c].in, cases[c].out, x, cases[c].nx, y,
                                          cases[c].ny) == 0);
        sha256_state h;
        sha256_init(&h);
        for (size_t i = 0; i < cases[c].ny; i++) {
            uint32_t bits;
            memcpy(&bits, &y[i], 4);
            uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                             (uint8_t)(bits >> 24)};
            sha256_update(&h, le, 4);
        }
        uint8_t digest[32];
        sha256_final(&h, digest);
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        CU_ASSERT_STRING_EQUAL(hex, cases[c].sha256);
        free(x);
        free(y);
    }
}

/* The chunk geometry of BITSTREAM.md 3.2, worked out by hand: a 44.1 kHz chunk of 20000 frames
 * codes 16 ceil(20000 / 16) + 2 x 512 samples (1314 latent frames), as before resampling
 * existed; a 16 kHz chunk of 40000 frames codes the 44.1 kHz samples [-704, 110960): the output
 * filter (186 taps a side) reads [-185, 110434), widened to multiples of 16 and by 512: 6979
 * latent frames. */
static void test_resampled_geometry(void)
{
    neco_context *ctx = context(WEIGHTS_DIR);
    static const struct {
        unsigned rate;
        uint64_t frames;
        int latent_frames;
    } cases[] = {{44100, 20000, 1314}, {16000, 40000, 6979}};
    for (int c = 0; c < 2; c++) {
        int16_t *s = calloc(cases[c].frames, sizeof *s);
        neco_audio a = {cases[c].rate, 1, cases[c].frames, NECO_SAMPLE_S16, s};
        uint8_t *coded;
        size_t size, n;
        int32_t *sym;
        int T;
        CU_ASSERT_FATAL(encode(ctx, &a, 1, &coded, &size) == NECO_OK);
        CU_ASSERT_FATAL(aud_wave_chunk_symbols(ctx, coded, size, 0, &sym, &n, &T) == NECO_OK);
        CU_ASSERT_EQUAL(T, cases[c].latent_frames);
        CU_ASSERT_EQUAL(n % (size_t)T, 0);
        neco_info info;
        CU_ASSERT_FATAL(neco_read_info(ctx, coded, size, &info) == NECO_OK);
        CU_ASSERT_EQUAL(info.sample_rate, cases[c].rate);
        CU_ASSERT_EQUAL(info.chunk_frames, CHUNK);
        free(sym);
        neco_free(coded);
        free(s);
    }
    neco_context_destroy(ctx);
}

/* Chunk seams stay invisible when resampling: a 16 kHz signal coded as it is and delayed by 2560
 * frames (7056 = 441 x 16 samples at 44.1 kHz, so the wavelet's frames fall on the same samples)
 * decodes to the same samples to one LSB, across the seam too. */
static void test_resampled_seams(void)
{
    const uint64_t frames = CHUNK + 9000, delay = 2560;
    int16_t *s = synth_at(frames, 1, 0, 16000.0), *sd = synth_at(frames, 1, delay, 16000.0);
    neco_audio a = {16000, 1, frames, NECO_SAMPLE_S16, s};
    neco_audio ad = {16000, 1, frames + delay, NECO_SAMPLE_S16, sd};
    neco_context *ctx = context(WEIGHTS_DIR);
    uint8_t *c1, *c2;
    size_t n1, n2;
    CU_ASSERT_FATAL(encode(ctx, &a, 2, &c1, &n1) == NECO_OK);
    CU_ASSERT_FATAL(encode(ctx, &ad, 2, &c2, &n2) == NECO_OK);
    neco_decoded d1, d2;
    CU_ASSERT_FATAL(neco_decode(ctx, c1, n1, &d1) == NECO_OK);
    CU_ASSERT_FATAL(neco_decode(ctx, c2, n2, &d2) == NECO_OK);
    CU_ASSERT_EQUAL_FATAL(d1.info.units, 2);
    const int16_t *x1 = d1.audio.data, *x2 = d2.audio.data;
    int worst = 0, seam_worst = 0, max_step = 0;
    for (uint64_t t = 0; t < frames; t++) {
        int d = abs(x1[t] - x2[t + delay]);
        worst = d > worst ? d : worst;
        if (t + 64 >= CHUNK && t < CHUNK + 64) seam_worst = d > seam_worst ? d : seam_worst;
        if (t > 0 && t != CHUNK) {
            int step = abs(x1[t] - x1[t - 1]);
            max_step = step > max_step ? step : max_step;
        }
    }
    int seam_step = abs(x1[CHUNK] - x1[CHUNK - 1]);
    printf("\n    16 kHz seam: max |delayed - plain| %d LSB (%d within 64 of a seam); step at "
           "seam %d, max step elsewhere %d; SNR %.2f dB",
           worst, seam_worst, seam_step, max_step, snr_db(s, x1, frames));
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

/* Chunk seams are invisible: the same mono signal coded once as it is and once delayed by
 * 4096 frames (so the seam falls elsewhere in the music) decodes to the same samples, to one
 * LSB, everywhere, the seam included. The step across the seam is also no larger than the
 * largest step of the decoded signal elsewhere. */
static void test_seamless_chunks(void)
{
    const uint64_t frames = CHUNK + 9000, delay = 4096;
    int16_t *s = synth(frames, 1, 0), *sd = synth(frames, 1, delay);
    neco_audio a = {44100, 1, frames, NECO_SAMPLE_S16, s};
    neco_audio ad = {44100, 1, frames + delay, NECO_SAMPLE_S16, sd};
    neco_context *ctx = context(WEIGHTS_DIR);
    uint8_t *c1, *c2;
    size_t n1, n2;
    CU_ASSERT_FATAL(encode(ctx, &a, 2, &c1, &n1) == NECO_OK);
    CU_ASSERT_FATAL(encode(ctx, &ad, 2, &c2, &n2) == NECO_OK);
    neco_decoded d1, d2;
    CU_ASSERT_FATAL(neco_decode(ctx, c1, n1, &d1) == NECO_OK);
    CU_ASSERT_FATAL(neco_decode(ctx, c2, n2, &d2) == NECO_OK);
    const int16_t *x1 = d1.audio.data, *x2 = d2.audio.data;
    int worst = 0, seam_worst = 0;
    for (uint64_t t = 0; t < frames; t++) {
        int d = abs(x1[t] - x2[t + delay]);
        worst = d > worst ? d : worst;
        if (t + 64 >= CHUNK && t < CHUNK + 64) seam_worst = d > seam_worst ? d : seam_worst;
    }
    int max_step = 0;
    for (uint64_t t = 1; t < frames; t++)
        if (t != CHUNK) {
            int d = abs(x1[t] - x1[t - 1]);
            max_step = d > max_step ? d : max_step;
        }
    int seam_step = abs(x1[CHUNK] - x1[CHUNK - 1]);
    printf("\n    seam: max |delayed - plain| %d LSB (%d within 64 of a seam); step at seam %d, "
           "max step elsewhere %d",
           worst, seam_worst, seam_step, max_step);
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

/* A stream cut at a chunk boundary: without concealment it is refused as truncated; with it the
 * chunks before the cut decode to exactly the samples of the whole stream and the rest is
 * silence (chunks are independent). */
static void test_cut_stream(void)
{
    const uint64_t frames = CHUNK + 30000;
    int16_t *s = synth(frames, 2, 0);
    neco_audio a = {44100, 2, frames, NECO_SAMPLE_S16, s};
    neco_context *ctx = context(WEIGHTS_DIR);
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(encode(ctx, &a, 2, &coded, &size) == NECO_OK);
    neco_decoded whole, cut;
    CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &whole) == NECO_OK);
    neco_info info;
    CU_ASSERT_FATAL(neco_read_info(ctx, coded, size, &info) == NECO_OK);
    size_t p = (size_t)info.header_size;
    uint32_t len = (uint32_t)coded[p] | (uint32_t)coded[p + 1] << 8 | (uint32_t)coded[p + 2] << 16 |
                   (uint32_t)coded[p + 3] << 24;
    size_t cut_at = p + 8 + len; /* just after chunk 0 */
    CU_ASSERT_FATAL(cut_at < size);
    CU_ASSERT_EQUAL(neco_decode(ctx, coded, cut_at, &cut), NECO_ERR_TRUNCATED);
    neco_context_destroy(ctx);
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = WEIGHTS_DIR;
    cfg.threads = 1;
    cfg.conceal = 1;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    CU_ASSERT_FATAL(neco_decode(ctx, coded, cut_at, &cut) == NECO_OK);
    CU_ASSERT_EQUAL(cut.concealed, 1);
    CU_ASSERT(memcmp(cut.audio.data, whole.audio.data, (size_t)CHUNK * 2 * sizeof(int16_t)) == 0);
    const int16_t *rest = (const int16_t *)cut.audio.data + (size_t)CHUNK * 2;
    int silent = 1;
    for (size_t i = 0; i < (size_t)(frames - CHUNK) * 2; i++)
        silent &= rest[i] == 0;
    CU_ASSERT(silent);
    neco_decoded_free(&cut);
    neco_decoded_free(&whole);
    neco_free(coded);
    neco_context_destroy(ctx);
    free(s);
}

static void test_unsupported_refused(void)
{
    int16_t s[64] = {0};
    neco_context *ctx = context(WEIGHTS_DIR);
    uint8_t *coded;
    size_t size;
    /* Rates outside 8..384 kHz, or whose ratio to 44100 does not reduce to terms of at most
     * 4096 (44099 / 44100 is irreducible), are refused, naming what is accepted. */
    static const unsigned refused[] = {4000, 7999, 44099, 384001, 768000};
    neco_audio a = {0, 1, 64, NECO_SAMPLE_S16, s};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        a.sample_rate = refused[i];
        CU_ASSERT_EQUAL(encode(ctx, &a, 1, &coded, &size), NECO_ERR_UNSUPPORTED);
        CU_ASSERT(strstr(neco_context_error(ctx), "44100 or 48000") != NULL);
    }
    /* The common rates are accepted, and a 64-frame signal at each decodes to 64 frames. */
    static const unsigned accepted[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000,
                                        37800, 64000, 88200, 96000, 192000, 384000};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        a.sample_rate = accepted[i];
        CU_ASSERT_FATAL(encode(ctx, &a, 1, &coded, &size) == NECO_OK);
        neco_decoded dec;
        CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &dec) == NECO_OK);
        CU_ASSERT(dec.audio.frames == 64 && dec.audio.sample_rate == accepted[i]);
        neco_decoded_free(&dec);
        neco_free(coded);
    }
    a.sample_rate = 44100;
    CU_ASSERT_EQUAL(encode(ctx, &a, 99, &coded, &size), NECO_ERR_INVALID_ARGUMENT);
    /* A 64-frame mono signal is fine (one short chunk). */
    CU_ASSERT_EQUAL_FATAL(encode(ctx, &a, 1, &coded, &size), NECO_OK);
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, coded, size, &dec), NECO_OK);
    CU_ASSERT_EQUAL(dec.audio.frames, 64);
    neco_decoded_free(&dec);
    /* A truncated payload is refused as corrupt (or truncated), never decoded to garbage. */
    CU_ASSERT(neco_decode(ctx, coded, size - 1, &dec) < 0);
    neco_free(coded);
    neco_context_destroy(ctx);
}

/* A damaged payload with a valid CRC (as a fuzzer makes) is refused as corrupt or decodes to
 * some samples; never a crash or undefined behaviour (the sanitizer build runs this too). */
static void test_damaged_payload(void)
{
    const uint64_t frames = 20000;
    int16_t *s = synth(frames, 2, 0);
    neco_audio a = {44100, 2, frames, NECO_SAMPLE_S16, s};
    neco_context *ctx = context(WEIGHTS_DIR);
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(encode(ctx, &a, 3, &coded, &size) == NECO_OK);
    neco_info info;
    CU_ASSERT_FATAL(neco_read_info(ctx, coded, size, &info) == NECO_OK);
    size_t p = (size_t)info.header_size;
    uint32_t len = (uint32_t)coded[p] | (uint32_t)coded[p + 1] << 8 | (uint32_t)coded[p + 2] << 16 |
                   (uint32_t)coded[p + 3] << 24;
    CU_ASSERT_FATAL(len > 16 && p + 8 + len == size);
    uint8_t *bad = malloc(size);
    int refused = 0;
    for (int k = 0; k < 24; k++) {
        memcpy(bad, coded, size);
        size_t at = p + 4 + (size_t)k * (len - 1) / 23;
        if (k == 23)
            memset(bad + p + 4, 0xFF, len / 2); /* escapes everywhere: huge values */
        else
            bad[at] ^= 0x5A;
        uint32_t crc = crc32_update(0, bad + p, 4 + (size_t)len);
        for (int i = 0; i < 4; i++)
            bad[p + 4 + len + i] = (uint8_t)(crc >> (8 * i));
        neco_decoded dec;
        neco_status st = neco_decode(ctx, bad, size, &dec);
        CU_ASSERT(st == NECO_OK || st == NECO_ERR_BITSTREAM);
        refused += st == NECO_ERR_BITSTREAM;
        if (st == NECO_OK) neco_decoded_free(&dec);
    }
    CU_ASSERT(refused > 0); /* the end-of-stream check catches most damage */
    free(bad);
    neco_free(coded);
    neco_context_destroy(ctx);
    free(s);
}

/* Wrong weights: a file whose tensor has another shape is refused with the tensor's name; a
 * stream made with other weights (another hash in its header) is refused. */
static void test_wrong_weights_refused(void)
{
    int16_t s[256] = {0};
    neco_audio a = {44100, 1, 256, NECO_SAMPLE_S16, s};
    uint8_t *coded;
    size_t size;
    neco_context *ctx = context(FIXTURES "/bad_shape");
    CU_ASSERT_EQUAL(encode(ctx, &a, 1, &coded, &size), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "enc.weight") != NULL);
    neco_context_destroy(ctx);

    ctx = context(WEIGHTS_DIR);
    CU_ASSERT_FATAL(encode(ctx, &a, 1, &coded, &size) == NECO_OK);
    CU_ASSERT_FATAL(size > 64);
    coded[24] ^= 1; /* the weights hash (BITSTREAM.md 1.2); then re-seal the header CRC */
    uint32_t crc = 0xFFFFFFFFu;
    for (int i = 0; i < 60; i++) {
        crc ^= coded[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    crc = ~crc;
    for (int i = 0; i < 4; i++)
        coded[60 + i] = (uint8_t)(crc >> (8 * i));
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, coded, size, &dec), NECO_ERR_MODEL);
    CU_ASSERT(strstr(neco_context_error(ctx), "aud-wave") != NULL);
    neco_free(coded);
    neco_context_destroy(ctx);
}

/* nets/lifting97_1d: perfect reconstruction at every level count, the packet layout (a constant
 * signal has all its energy in channel 0 away from the ends: the low band of every level), the
 * non-expansive size, and refusal of lengths not divisible by 2^levels. */
static void test_lifting97_1d(void)
{
    const int len = 256;
    nn_tensor x = {0}, y = {0}, z = {0};
    CU_ASSERT_FATAL(nn_tensor_alloc3(&x, 2, 3, len) == NN_OK);
    uint32_t seed = 7;
    for (size_t i = 0; i < (size_t)2 * 3 * len; i++) {
        seed = seed * 1664525u + 1013904223u;
        x.data[i] = (float)((double)(seed >> 8) / 16777216.0 - 0.5);
    }
    for (int levels = 0; levels <= 5; levels++) {
        CU_ASSERT_FATAL(nn_lifting97_1d_forward(&x, levels, &y) == NN_OK);
        CU_ASSERT(y.shape[0] == 2 && y.shape[1] == 3 << levels && y.shape[2] == len >> levels);
        CU_ASSERT_FATAL(nn_lifting97_1d_inverse(&y, levels, &z) == NN_OK);
        CU_ASSERT(nn_tensor_same_shape(&x, &z));
        double worst = 0;
        for (size_t i = 0; i < (size_t)2 * 3 * len; i++) {
            double d = fabs((double)x.data[i] - z.data[i]);
            worst = d > worst ? d : worst;
        }
        CU_ASSERT(worst < 1e-5);
    }
    for (size_t i = 0; i < (size_t)2 * 3 * len; i++)
        x.data[i] = 0.5f;
    CU_ASSERT_FATAL(nn_lifting97_1d_forward(&x, 4, &y) == NN_OK);
    double other = 0;
    for (int c = 1; c < 16; c++)
        for (int t = 0; t < len / 16; t++)
            other += fabs(y.data[(size_t)c * (len / 16) + t]);
    CU_ASSERT(other < 1e-4);
    CU_ASSERT(fabs(y.data[3] - 0.5 * 4) < 1e-4); /* the DC gain of 4 levels: sqrt(2)^4 */
    nn_tensor odd = {0};
    CU_ASSERT_FATAL(nn_tensor_alloc3(&odd, 1, 1, 24) == NN_OK);
    CU_ASSERT_EQUAL(nn_lifting97_1d_forward(&odd, 4, &y), NN_ERR_ARG);
    CU_ASSERT_EQUAL(nn_lifting97_1d_forward(&odd, 3, &y), NN_OK);
    CU_ASSERT_EQUAL(nn_lifting97_1d_inverse(&odd, 1, &z), NN_ERR_ARG); /* 1 channel: no pair */
    nn_tensor_free(&odd);
    nn_tensor_free(&x);
    nn_tensor_free(&y);
    nn_tensor_free(&z);
}

/* --kbps K picks the level whose nominal rate is closest (log scale) to K. */
static void test_kbps_mapping(void)
{
    nn_weights *w = NULL;
    char err[200];
    CU_ASSERT_FATAL(
        nn_weights_load_file(WEIGHTS_DIR "/aud-wave.safetensors", &w, err, sizeof err) == NN_OK);
    const char *v = nn_weights_metadata(w, "nominal_kbps");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    double r[64];
    int n = 0;
    for (const char *p = v + 1; n < 64 && *p && *p != ']'; n++) {
        char *end;
        r[n] = strtod(p, &end);
        p = end + (*end == ',');
    }
    CU_ASSERT_FATAL(n >= 2);
    neco_context *ctx = context(WEIGHTS_DIR);
    int q = 0;
    for (int i = 0; i < n; i++) {
        CU_ASSERT(aud_wave_quality_for_kbps(ctx, r[i], &q) == NECO_OK && q == i + 1);
        CU_ASSERT(aud_wave_quality_for_kbps(ctx, r[i] * 1.001, &q) == NECO_OK && q == i + 1);
    }
    CU_ASSERT(aud_wave_quality_for_kbps(ctx, 1.0, &q) == NECO_OK && q == 1);
    CU_ASSERT(aud_wave_quality_for_kbps(ctx, 1e5, &q) == NECO_OK && q == n);
    CU_ASSERT_EQUAL(aud_wave_quality_for_kbps(ctx, 0.0, &q), NECO_ERR_INVALID_ARGUMENT);
    neco_context_destroy(ctx);
    nn_weights_free(w);
}

void neco_test_register(void)
{
    NECO_SUITE("aud-wave", {"agreement with PyTorch", test_agreement},
               {"round trips at every level", test_round_trips},
               {"seamless chunks", test_seamless_chunks},
               {"other rates: the resampler", test_resampler},
               {"other rates: the resampler against the specification", test_resampler_spec},
               {"other rates: round trips", test_resampled_round_trips},
               {"other rates: chunk geometry", test_resampled_geometry},
               {"other rates: seamless chunks", test_resampled_seams},
               {"stream cut at a chunk boundary", test_cut_stream},
               {"unsupported input refused", test_unsupported_refused},
               {"wrong weights refused", test_wrong_weights_refused},
               {"damaged payload", test_damaged_payload}, {"--kbps mapping", test_kbps_mapping},
               {"1-D wavelet packet (nets/lifting97_1d)", test_lifting97_1d});
}
