/* Audio helpers shared by the learned audio models (codec/audio.c). */
#ifndef NECO_CODEC_AUDIO_H
#define NECO_CODEC_AUDIO_H
#include "context.h"

#include <stddef.h>
#include <stdint.h>

#define CODEC_AUDIO_MIN_RATE 8000 /* the rates a model resamples to its own */
#define CODEC_AUDIO_MAX_RATE 384000

/* Sample i of the interleaved audio as a float in the models' range [-1, 1]; F32 input is
 * clamped to it (NaN becomes 0) so that no value can overflow a latent. */
float codec_sample_in(const neco_audio *a, size_t i);
/* Writes v (1.0 = full scale) as sample i in the audio's format, rounded and saturated. */
void codec_sample_out(neco_audio *a, size_t i, float v);

/* Coded channels of frames [start, start + len) of the input into x (channels rows of len
 * floats): mid/side for stereo (m = (l + r) / 2, s = (l - r) / 2), the channels themselves
 * otherwise; zeros outside the signal. */
void codec_window_in(const neco_audio *audio, const neco_info *info, int64_t start, int64_t len,
                     float *x);

/* The coding window [start, start + len) at model_rate of a stream at another rate into
 * x [channels, 1, len] (allocated by the caller): the coded channels over the span the filter
 * reads, resampled. 0, or NN_ERR_NOMEM. */
struct nn_tensor;
int codec_window_resampled(const neco_audio *audio, const neco_info *info, uint32_t model_rate,
                           int64_t start, int len, struct nn_tensor *x);

/* A nets status as a codec error naming the step and the chunk. */
neco_status codec_audio_fail(neco_context *ctx, int rc, uint32_t index, const char *what);

/* floor(a / b) for b > 0. */
int64_t codec_floor_div(int64_t a, int64_t b);

/* A polyphase resampler from rate in to rate out. Output sample n sits at input position
 * n up / down (up = in / g, down = out / g, g = gcd): its input taps are i0 - half + 1 + t,
 * t = 0 .. 2 half - 1, i0 = floor(n up / down), weighted by row (n up mod down) of coef. */
typedef struct codec_resampler {
    int64_t up, down; /* the ratio in lowest terms; down is the number of phases */
    int half;         /* taps on each side */
    float *coef;      /* [down][2 half] */
} codec_resampler;

/* 1 when a model coding at model_rate resamples a stream at rate (BITSTREAM.md 3.2): rate in
 * [CODEC_AUDIO_MIN_RATE, CODEC_AUDIO_MAX_RATE] and both filters have at most 4096 phases. */
int codec_rs_supported(uint32_t rate, uint32_t model_rate);
/* The ratio and taps of the filter from in to out, without coefficients (coef = NULL). */
void codec_rs_geometry(codec_resampler *r, uint32_t in, uint32_t out);
/* The filter from in to out with its coefficients: 0, or NN_ERR_NOMEM. */
int codec_rs_init(codec_resampler *r, uint32_t in, uint32_t out);
void codec_rs_free(codec_resampler *r);
/* The input range [*lo, *hi) that output samples [first, first + n) read. */
void codec_rs_span(const codec_resampler *r, int64_t first, int64_t n, int64_t *lo, int64_t *hi);
/* Output samples [first, first + n) into y from the input samples x[i - x0] (x holds the span
 * of codec_rs_span), in the summation order of BITSTREAM.md 3.2. */
void codec_rs_run(const codec_resampler *r, const float *x, int64_t x0, int64_t first, int64_t n,
                  float *y);
#endif
