/* Audio helpers shared by the learned audio models (aud-wave, aud-grvq): samples to and from the
 * models' float range, the coded channels of a window (mid/side for stereo), and the specified
 * polyphase resampler of BITSTREAM.md 3.2 that codes other sample rates at a model's rate. */
#include "audio.h"

#include "nets/tensor.h"

#include <math.h>
#include <stdlib.h>

/* ---- Samples ------------------------------------------------------------------------------ */

/* Sample i of the interleaved audio as a float in the model's range [-1, 1]. F32 input is
 * clamped to it (NaN becomes 0) so that no value can overflow the latents. */
float codec_sample_in(const neco_audio *a, size_t i)
{
    switch (a->format) {
    case NECO_SAMPLE_S16:
        return (float)((const int16_t *)a->data)[i] * (1.0f / 32768.0f);
    case NECO_SAMPLE_S24:
        return (float)((const int32_t *)a->data)[i] * (1.0f / 8388608.0f);
    case NECO_SAMPLE_S32:
        return (float)((double)((const int32_t *)a->data)[i] * (1.0 / 2147483648.0));
    case NECO_SAMPLE_F32: {
        float v = ((const float *)a->data)[i];
        return v >= -1.0f && v <= 1.0f ? v : v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : 0.0f;
    }
    }
    return 0.0f;
}

/* round(v) clamped to [lo, hi]; NaN (possible only from a corrupt payload whose escaped
 * values overflow the decoder to infinities) becomes 0 rather than an undefined conversion. */
static int32_t to_int(double v, double lo, double hi)
{
    if (isnan(v)) return 0;
    v = nearbyint(v);
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

void codec_sample_out(neco_audio *a, size_t i, float v)
{
    switch (a->format) {
    case NECO_SAMPLE_S16:
        ((int16_t *)a->data)[i] = (int16_t)to_int((double)v * 32768.0, -32768.0, 32767.0);
        break;
    case NECO_SAMPLE_S24:
        ((int32_t *)a->data)[i] = to_int((double)v * 8388608.0, -8388608.0, 8388607.0);
        break;
    case NECO_SAMPLE_S32:
        ((int32_t *)a->data)[i] = to_int((double)v * 2147483648.0, -2147483648.0, 2147483647.0);
        break;
    case NECO_SAMPLE_F32:
        ((float *)a->data)[i] = v;
        break;
    }
}

/* ---- Resampling (BITSTREAM.md 3.2 "Other sample rates") ------------------------------------ */

#define RS_ZEROS 64   /* zero crossings of the sinc on each side of the centre */
#define RS_RHO_NUM 19 /* cutoff (-6 dB): 19/20 of the lower rate's Nyquist frequency */
#define RS_RHO_DEN 20
#define RS_BETA 9.5        /* Kaiser window: flat to 0.9 Nyquist, -95 dB beyond Nyquist */
#define RS_MAX_PHASES 4096 /* rates whose ratio to the model's rate needs more are refused */

/* Resampling is part of the normative decoder, so its coefficients must be the same bits
 * everywhere: they are computed with IEEE-754 double operations (+ - * / and sqrt, all correctly
 * rounded, no contraction into FMA: -ffp-contract=off) in a fixed order, and sin and the Bessel
 * function I0 are fixed-length series rather than calls to libm, whose results differ between
 * C libraries. */

/* sin(pi x) as BITSTREAM.md 3.2 defines it: x = n + r with n = floor(x + 1/2), |r| <= 1/2
 * (r exact), then the Taylor series of sin(pi r) to the term of degree 23, sign-flipped for
 * odd n. The truncation error is below 2e-18. */
static double rs_sin_pi(double x)
{
    double n = floor(x + 0.5), y = (x - n) * 3.141592653589793, y2 = y * y, term = y, sum = y;
    for (int k = 1; k <= 11; k++) {
        term = term * y2 / (double)(2 * k * (2 * k + 1));
        sum = k % 2 ? sum - term : sum + term;
    }
    return fmod(n, 2.0) != 0.0 ? -sum : sum;
}

/* The modified Bessel function I0(z) = sum_k ((z/2)^k / k!)^2, 32 terms (for z <= 9.5 the
 * remainder is below 1e-28 of the sum). */
static double rs_bessel_i0(double z)
{
    double h = z * 0.5, q = h * h, term = 1.0, sum = 1.0;
    for (int k = 1; k < 32; k++) {
        term = term * q / (double)(k * k);
        sum = sum + term;
    }
    return sum;
}

static uint64_t rs_gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* floor(a / b) for b > 0 (C's division truncates toward zero). */
int64_t codec_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - (a % b != 0 && a < 0);
}

/* 1 when rate is in [CODEC_AUDIO_MIN_RATE, CODEC_AUDIO_MAX_RATE] and both filters (to and
 * from model_rate) have at most RS_MAX_PHASES phases, which bounds their tables. */
int codec_rs_supported(uint32_t rate, uint32_t model_rate)
{
    if (rate < CODEC_AUDIO_MIN_RATE || rate > CODEC_AUDIO_MAX_RATE) return 0;
    uint64_t g = rs_gcd(rate, model_rate);
    return rate / g <= RS_MAX_PHASES && model_rate / g <= RS_MAX_PHASES;
}

/* The ratio and the taps of the filter from in to out, without its coefficients:
 * half = ceil(64 / c) input samples on each side (64 zero crossings of the sinc), where
 * c = 19/20 min(in, out) / in is the cutoff as a fraction of the input's Nyquist frequency. */
void codec_rs_geometry(codec_resampler *r, uint32_t in, uint32_t out)
{
    uint64_t g = rs_gcd(in, out), lo = in < out ? in : out;
    r->up = (int64_t)(in / g);
    r->down = (int64_t)(out / g);
    r->half =
        (int)((RS_ZEROS * RS_RHO_DEN * (uint64_t)in + RS_RHO_NUM * lo - 1) / (RS_RHO_NUM * lo));
    r->coef = NULL;
}

/* Builds the filter from in to out (BITSTREAM.md 3.2): the sinc of cutoff c (rs_geometry) under
 * a Kaiser window with beta 9.5 over [-half, half], each phase divided by its sum (exact DC
 * gain), rounded to float. */
int codec_rs_init(codec_resampler *r, uint32_t in, uint32_t out)
{
    codec_rs_geometry(r, in, out);
    uint64_t lo = in < out ? in : out;
    int taps = 2 * r->half;
    r->coef = malloc(sizeof(float) * (size_t)r->down * (size_t)taps);
    double *h = malloc(sizeof(double) * (size_t)taps);
    if (!r->coef || !h) {
        free(r->coef);
        free(h);
        r->coef = NULL;
        return NN_ERR_NOMEM;
    }
    double c = (double)(RS_RHO_NUM * lo) / (double)(RS_RHO_DEN * (uint64_t)in);
    double i0_beta = rs_bessel_i0(RS_BETA);
    for (int64_t p = 0; p < r->down; p++) {
        double phi = (double)p / (double)r->down, sum = 0.0;
        for (int t = 0; t < taps; t++) {
            double tau = phi - (double)(t - (r->half - 1)); /* in [-half, half) */
            double x = c * tau, u = tau / (double)r->half;
            double sinc = x == 0.0 ? 1.0 : rs_sin_pi(x) / (3.141592653589793 * x);
            double w = rs_bessel_i0(RS_BETA * sqrt(1.0 - u * u)) / i0_beta;
            h[t] = c * sinc * w;
            sum = sum + h[t];
        }
        for (int t = 0; t < taps; t++)
            r->coef[(size_t)p * taps + t] = (float)(h[t] / sum);
    }
    free(h);
    return NN_OK;
}

void codec_rs_free(codec_resampler *r)
{
    free(r->coef);
    r->coef = NULL;
}

/* The input range [*lo, *hi) that output samples [first, first + n) read. */
void codec_rs_span(const codec_resampler *r, int64_t first, int64_t n, int64_t *lo, int64_t *hi)
{
    *lo = codec_floor_div(first * r->up, r->down) - r->half + 1;
    *hi = codec_floor_div((first + n - 1) * r->up, r->down) + r->half + 1;
}

/* Output samples [first, first + n) into y, from the input samples x[i - x0] (x holds the
 * span of rs_span). The products coef * x are exact in double; tap t is added to partial sum
 * t mod 8, and the 8 sums are added pairwise, then rounded to float once (BITSTREAM.md 3.2):
 * a fixed order, so every decoder gets the same bits, and 8 independent additions in flight
 * rather than one chain of a few hundred (3x faster here). */
void codec_rs_run(const codec_resampler *r, const float *x, int64_t x0, int64_t first, int64_t n,
                  float *y)
{
    int taps = 2 * r->half;
    for (int64_t k = 0; k < n; k++) {
        int64_t pos = (first + k) * r->up, i0 = codec_floor_div(pos, r->down);
        const float *c = r->coef + (size_t)(pos - i0 * r->down) * taps;
        const float *in = x + (i0 - r->half + 1 - x0);
        double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        int t = 0;
        for (; t + 8 <= taps; t += 8)
            for (int l = 0; l < 8; l++)
                acc[l] = acc[l] + (double)c[t + l] * (double)in[t + l];
        for (int l = 0; t < taps; t++, l++)
            acc[l] = acc[l] + (double)c[t] * (double)in[t];
        y[k] = (float)(((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                       ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    }
}

neco_status codec_audio_fail(neco_context *ctx, int rc, uint32_t index, const char *what)
{
    if (rc == NN_ERR_NOMEM)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory (%s, chunk %u)", what, index);
    return codec_fail(ctx, NECO_ERR_BACKEND, "%s failed in chunk %u (nets error %d)", what, index,
                      rc);
}

/* Coded channels of frames [start, start + len) of the input into x (A rows of len floats):
 * mid/side for stereo (m = (l + r) / 2, s = (l - r) / 2), the channels themselves otherwise;
 * zeros outside the signal. */
void codec_window_in(const neco_audio *audio, const neco_info *info, int64_t start, int64_t len,
                     float *x)
{
    int A = (int)info->audio_channels;
    for (int64_t i = 0; i < len; i++) {
        int64_t t = start + i;
        int inside = t >= 0 && (uint64_t)t < info->frames;
        size_t base = inside ? (size_t)t * A : 0;
        if (A == 2) {
            float l = inside ? codec_sample_in(audio, base) : 0.0f;
            float r = inside ? codec_sample_in(audio, base + 1) : 0.0f;
            x[i] = (l + r) * 0.5f;
            x[len + i] = (l - r) * 0.5f;
        } else {
            for (int a = 0; a < A; a++)
                x[(size_t)a * len + i] = inside ? codec_sample_in(audio, base + a) : 0.0f;
        }
    }
}

/* The coding window [start, start + len) at model_rate of a resampled stream into x [A, 1, len]:
 * the coded channels at the input's rate over the span the filter reads (zeros outside the
 * signal), resampled up or down. The encoder's choice (BITSTREAM.md 3.2 specifies only the
 * decoder); neco uses the same filter design as the decoder. */
int codec_window_resampled(const neco_audio *audio, const neco_info *info, uint32_t model_rate,
                           int64_t start, int len, nn_tensor *x)
{
    codec_resampler r;
    int rc = codec_rs_init(&r, info->sample_rate, model_rate);
    if (rc) return rc;
    int64_t lo, hi;
    codec_rs_span(&r, start, len, &lo, &hi);
    int A = (int)info->audio_channels;
    float *src = malloc(sizeof(float) * (size_t)A * (size_t)(hi - lo));
    if (!src) {
        codec_rs_free(&r);
        return NN_ERR_NOMEM;
    }
    codec_window_in(audio, info, lo, hi - lo, src);
    for (int a = 0; a < A; a++)
        codec_rs_run(&r, src + (size_t)a * (size_t)(hi - lo), lo, start, len,
                     x->data + (size_t)a * len);
    free(src);
    codec_rs_free(&r);
    return NN_OK;
}
