/* aud-wave: the high-rate learned audio model (train/ARCH_AUDIO.md "aud-wave", the contract with
 * the trained weights), after WaLLoC (Jacobellis & Yadwadkar 2024): a 4-level CDF 9/7 wavelet
 * packet (16 subbands at 1/16 of the sample rate) -> a LINEAR encoder to C latent channels ->
 * per-quality gain -> uniform quantisation -> factorized entropy model (one static table per
 * latent channel, Ballé et al. 2018) -> small 1-D conv decoder with residual blocks back to
 * wavelet coefficients -> inverse wavelet. Stereo is coded as mid/side with the same mono
 * model; other channel counts channel by channel.
 *
 * Chunks (conformance/BITSTREAM-aud-wave.md): chunk k codes its frames plus AW_MARGIN context
 * samples on each side (zeros outside the signal), so that every chunk decodes on its own and
 * the decoded samples of a chunk are those of the whole signal's transform: the margin covers
 * the support of the wavelet and the decoder's receptive field, so chunk seams are invisible
 * (tests/test_aud_wave.c measures it). One chunk = one rANS stream of the symbols y_hat in the
 * order (coded channel, latent channel, frame); the table of a symbol of latent channel c at
 * quality level q (0-based) is q C + c: each level has its own densities.
 *
 * Other sample rates (8 to 384 kHz) are coded at 44.1 kHz: the encoder resamples each chunk's
 * window up or down with a Kaiser-windowed sinc (a polyphase filter whose coefficients come
 * from a procedure in IEEE double arithmetic specified in BITSTREAM.md 3.2, so that every decoder
 * computes the same table), and the decoder resamples the decoded window back to the header's
 * rate. The header keeps the input's rate, so 44.1 and 48 kHz streams are unchanged. */
#include "models.h"

#include "aud_wave.h"
#include "audio.h"
#include "container.h"

#include "entropy/factorized.h"
#include "entropy/rans.h"
#include "nets/layers.h"
#include "nets/lifting97_1d.h"
#include "nets/safetensors.h"
#include "sha256.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AW_FILE "aud-wave.safetensors"
#define AW_LEVELS 4     /* wavelet packet levels */
#define AW_NW 16        /* 2^AW_LEVELS subbands */
#define AW_STRIDE 16    /* samples per latent frame */
#define AW_HIDDEN 32    /* decoder width */
#define AW_BLOCKS 2     /* decoder residual blocks */
#define AW_CHUNK 131072 /* frames per chunk (~3 s at 44.1 kHz) */
#define AW_MARGIN 512   /* context samples coded on each side of a chunk */
#define AW_MAX_Q 64
#define AW_MAX_CHANNELS 64 /* coded channels per stream */

/* Resampled streams (BITSTREAM.md 3.2 "Other sample rates"). */
#define AW_MODEL_RATE 44100 /* the rate other rates are coded at */

typedef struct aw_conv {
    nn_tensor w;
    const float *b; /* NULL without bias */
} aw_conv;

typedef struct aw_state {
    nn_weights *weights;
    uint8_t hash[NECO_WEIGHTS_HASH_SIZE];
    int C, Q;
    aw_conv enc, dec_lin, dec_in, blk_conv[AW_BLOCKS], blk_pw[AW_BLOCKS], dec_out;
    const float *gain, *inv_gain;  /* [Q][C] */
    const float *res_gain;         /* [Q][16]: per-level scale of the conv path */
    double nominal_kbps[AW_MAX_Q]; /* per level, measured on stereo music (metadata) */
    neco_cdf_tables *tables;       /* one factorized table per level and latent channel */
} aw_state;

/* ---- Loading ------------------------------------------------------------------------------ */

static void bind_conv(const aw_state *s, aw_conv *c, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s.weight", name);
    const nn_weight *w = nn_weights_find(s->weights, key);
    c->w = nn_tensor_view(w->f32, 3, w->shape);
    snprintf(key, sizeof key, "%s.bias", name);
    const nn_weight *b = nn_weights_find(s->weights, key);
    c->b = b ? b->f32 : NULL;
}

/* The metadata list "[r1, r2, ...]" of the nominal rate of each level: q positive numbers. */
static int parse_kbps(const char *v, int q, double *out)
{
    if (!v || *v != '[') return -1;
    v++;
    for (int i = 0; i < q; i++) {
        char *end;
        out[i] = strtod(v, &end);
        if (end == v || !(out[i] > 0 && out[i] < 1e6)) return -1;
        v = end;
        while (*v == ' ')
            v++;
        if (*v != (i + 1 < q ? ',' : ']')) return -1;
        v++;
    }
    return *v ? -1 : 0;
}

/* The tensors the graph expects (ARCH_AUDIO.md), checked by name, dtype and shape before use. */
static int aw_spec(const aw_state *s, nn_weight_spec *spec)
{
    int n = 0, C = s->C, Q = s->Q, H = AW_HIDDEN;
#define F(name, ...)                                                                               \
    spec[n++] = (nn_weight_spec)                                                                   \
    {                                                                                              \
        name, NN_F32, 0,                                                                           \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
    F("enc.weight", C, AW_NW, 1);
    F("gain", Q, C);
    F("inv_gain", Q, C);
    F("res_gain", Q, AW_NW);
    F("dec.lin.weight", AW_NW, C, 1);
    F("dec.lin.bias", AW_NW);
    F("dec.conv_in.weight", H, C, 5);
    F("dec.conv_in.bias", H);
    static const char *const blocks[AW_BLOCKS][4] = {
        {"dec.block0.conv.weight", "dec.block0.conv.bias", "dec.block0.pw.weight",
         "dec.block0.pw.bias"},
        {"dec.block1.conv.weight", "dec.block1.conv.bias", "dec.block1.pw.weight",
         "dec.block1.pw.bias"}};
    for (int b = 0; b < AW_BLOCKS; b++) {
        F(blocks[b][0], H, H, 3);
        F(blocks[b][1], H);
        F(blocks[b][2], H, H, 1);
        F(blocks[b][3], H);
    }
    F("dec.conv_out.weight", AW_NW, H, 1);
    F("dec.conv_out.bias", AW_NW);
#undef F
    spec[n++] = (nn_weight_spec){"y.cdf_length", NN_I32, 1, {Q * C}};
    spec[n++] = (nn_weight_spec){"y.offset", NN_I32, 1, {Q * C}};
    for (int i = 0; i < n; i++) {
        spec[i].ndim = 0;
        while (spec[i].ndim < NN_WEIGHT_MAX_DIMS && spec[i].shape[spec[i].ndim])
            spec[i].ndim++;
    }
    return n;
}

static void aw_unload(void *state)
{
    aw_state *s = state;
    if (!s) return;
    neco_cdf_tables_destroy(s->tables);
    nn_weights_free(s->weights);
    free(s);
}

static neco_status aw_load(neco_context *ctx, const char *path, void **out)
{
    *out = NULL;
    aw_state *s = calloc(1, sizeof *s);
    if (!s) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    neco_status st = codec_load_weights(ctx, "aud-wave", path, &s->weights, s->hash);
    if (st != NECO_OK) {
        free(s);
        return st;
    }
    int levels = 0, subbands = 0;
    if (codec_meta_int(s->weights, "latent_channels", 1, 256, &s->C) ||
        codec_meta_int(s->weights, "quality_levels", 1, AW_MAX_Q, &s->Q) ||
        codec_meta_int(s->weights, "wavelet_levels", 1, 16, &levels) || levels != AW_LEVELS ||
        codec_meta_int(s->weights, "subbands", 1, 65536, &subbands) || subbands != AW_NW) {
        aw_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "model aud-wave: %s: metadata (latent_channels, quality_levels, "
                          "wavelet_levels 4, subbands 16) missing or wrong",
                          path);
    }
    if (parse_kbps(nn_weights_metadata(s->weights, "nominal_kbps"), s->Q, s->nominal_kbps)) {
        int q = s->Q;
        aw_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "model aud-wave: %s: metadata nominal_kbps is not a list of %d "
                          "positive rates",
                          path, q);
    }
    nn_weight_spec spec[32];
    int n = aw_spec(s, spec);
    char err[200];
    if (nn_weights_check(s->weights, spec, (size_t)n, err, sizeof err) != NN_OK) {
        aw_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL, "model aud-wave: %s: %s", path, err);
    }
    bind_conv(s, &s->enc, "enc");
    bind_conv(s, &s->dec_lin, "dec.lin");
    bind_conv(s, &s->dec_in, "dec.conv_in");
    for (int b = 0; b < AW_BLOCKS; b++) {
        char name[32];
        snprintf(name, sizeof name, "dec.block%d.conv", b);
        bind_conv(s, &s->blk_conv[b], name);
        snprintf(name, sizeof name, "dec.block%d.pw", b);
        bind_conv(s, &s->blk_pw[b], name);
    }
    bind_conv(s, &s->dec_out, "dec.conv_out");
    s->gain = nn_weights_find(s->weights, "gain")->f32;
    s->inv_gain = nn_weights_find(s->weights, "inv_gain")->f32;
    s->res_gain = nn_weights_find(s->weights, "res_gain")->f32;
    const nn_weight *cdf = nn_weights_find(s->weights, "y.cdf");
    const int32_t *lengths = nn_weights_find(s->weights, "y.cdf_length")->ints;
    int64_t total = 0;
    for (int c = 0; c < s->Q * s->C; c++)
        total += lengths[c] > 0 ? lengths[c] : 0;
    if (!cdf || cdf->dtype != NN_I32 || cdf->ndim != 1 || total != cdf->shape[0] ||
        neco_factorized_tables_create(&s->tables, NECO_CDF_PRECISION, s->Q * s->C, cdf->ints,
                                      lengths, nn_weights_find(s->weights, "y.offset")->ints) !=
            NECO_ENTROPY_OK) {
        aw_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL, "model aud-wave: %s: entropy tables invalid", path);
    }
    *out = s;
    return NECO_OK;
}

static const uint8_t *aw_hash(const void *state)
{
    return ((const aw_state *)state)->hash;
}

static int aw_levels(const void *state)
{
    return ((const aw_state *)state)->Q;
}

/* ---- Network ------------------------------------------------------------------------------ */

static int conv(nn_context *nn, const aw_conv *c, const nn_tensor *x, int pad, nn_tensor *y)
{
    nn_conv1d_params p = nn_conv1d_default();
    p.pad = pad;
    return nn_conv1d(nn, x, &c->w, c->b, &p, y);
}

/* Wavelet coefficients w [A, 16, T] -> gained latents y [A, C, T] (quality q, 0-based). */
static int analysis(nn_context *nn, const aw_state *s, const nn_tensor *w, int q, nn_tensor *y)
{
    int rc = conv(nn, &s->enc, w, 0, y);
    if (!rc) rc = nn_channel_scale(nn, y, s->gain + (size_t)q * s->C, NULL);
    return rc;
}

/* y_hat [A, C, T] (float, scaled in place by the inverse gain) -> wavelet coefficients
 * [A, 16, T]: u = y_hat inv_gain; h = conv_in(u); h += pw(gelu(conv(h))) per block;
 * out = lin(u) + res_gain[q] conv_out(h). */
static int synthesis(nn_context *nn, const aw_state *s, nn_tensor *u, int q, nn_tensor *out)
{
    nn_tensor h = {0}, t = {0}, r = {0};
    int rc = nn_channel_scale(nn, u, s->inv_gain + (size_t)q * s->C, NULL);
    if (!rc) rc = conv(nn, &s->dec_in, u, 2, &h);
    for (int b = 0; b < AW_BLOCKS && !rc; b++) {
        rc = conv(nn, &s->blk_conv[b], &h, 1, &t);
        if (!rc) rc = nn_activation(nn, NN_ACT_GELU, 0, &t);
        if (!rc) rc = conv(nn, &s->blk_pw[b], &t, 0, &r);
        if (!rc) rc = nn_add(nn, &h, &r, &h);
    }
    if (!rc) rc = conv(nn, &s->dec_lin, u, 0, out);
    if (!rc) rc = conv(nn, &s->dec_out, &h, 0, &r);
    if (!rc) rc = nn_channel_scale(nn, &r, s->res_gain + (size_t)q * AW_NW, NULL);
    if (!rc) rc = nn_add(nn, out, &r, out);
    nn_tensor_free(&h);
    nn_tensor_free(&t);
    nn_tensor_free(&r);
    return rc;
}

int aud_wave_resample(uint32_t in_rate, uint32_t out_rate, const float *x, size_t nx, float *y,
                      size_t ny)
{
    codec_resampler r;
    uint32_t other = in_rate == AW_MODEL_RATE ? out_rate : in_rate;
    if ((in_rate != AW_MODEL_RATE && out_rate != AW_MODEL_RATE) ||
        !codec_rs_supported(other, AW_MODEL_RATE))
        return -1;
    if (!ny) return 0;
    if (codec_rs_init(&r, in_rate, out_rate)) return -1;
    int64_t lo, hi;
    codec_rs_span(&r, 0, (int64_t)ny, &lo, &hi);
    float *in = calloc((size_t)(hi - lo), sizeof *in);
    if (!in) {
        codec_rs_free(&r);
        return -1;
    }
    for (int64_t i = lo < 0 ? 0 : lo; i < hi && (uint64_t)i < nx; i++)
        in[i - lo] = x[i];
    codec_rs_run(&r, in, lo, 0, (int64_t)ny, y);
    free(in);
    codec_rs_free(&r);
    return 0;
}

/* ---- Chunks ------------------------------------------------------------------------------- */

static void aw_layout(neco_info *info)
{
    info->tile_width = 0;
    info->tile_height = 0;
    info->chunk_frames = AW_CHUNK;
}

/* Whether a stream at this rate is coded as it is (the model was trained at 44.1 kHz; its
 * wavelet subbands scale with the rate, and 48 kHz is close enough to share the weights) rather
 * than resampled to AW_MODEL_RATE. */
static int aw_native(uint32_t rate)
{
    return rate == 44100 || rate == 48000;
}

static neco_status aw_check(neco_context *ctx, const neco_info *info)
{
    if (!aw_native(info->sample_rate) && !codec_rs_supported(info->sample_rate, AW_MODEL_RATE))
        return codec_fail(ctx, NECO_ERR_UNSUPPORTED,
                          "model aud-wave codes 44100 or 48000 Hz audio and resamples %d to %d Hz "
                          "whose ratio to 44100 reduces to terms of at most %d, not %u Hz: "
                          "resample the input first (e.g. sox in.wav -r 48000 out.wav) or use "
                          "--model raw",
                          CODEC_AUDIO_MIN_RATE, CODEC_AUDIO_MAX_RATE, 4096, info->sample_rate);
    /* Positions at 44.1 kHz are frames x up to 4096: keep them far from int64 overflow. */
    if (!aw_native(info->sample_rate) && info->frames > (UINT64_C(1) << 40))
        return codec_fail(ctx, NECO_ERR_LIMIT, "model aud-wave resamples at most 2^40 frames");
    if (info->audio_channels < 1 || info->audio_channels > AW_MAX_CHANNELS)
        return codec_fail(ctx, NECO_ERR_UNSUPPORTED,
                          "model aud-wave codes 1 to %d channels, not %u", AW_MAX_CHANNELS,
                          info->audio_channels);
    if (info->chunk_frames != AW_CHUNK)
        return codec_fail(ctx, NECO_ERR_BITSTREAM,
                          "model aud-wave uses chunks of %d frames, the stream says %u", AW_CHUNK,
                          info->chunk_frames);
    return NECO_OK;
}

/* The coded window of chunk `index` (frames [*first, *first + *count)): samples
 * [*start, *start + *len) of each coded channel at the coding rate, whose *len / 16 latent
 * frames the payload codes. At 44.1 and 48 kHz, *start = first - AW_MARGIN and
 * *len = round_up(count, 16) + 2 AW_MARGIN. At other rates (coded at 44.1 kHz), the span of
 * 44.1 kHz samples [a, b) that the output filter reads for the chunk's frames, widened to
 * multiples of 16 and by AW_MARGIN on each side: the wavelet's frames stay on one grid for
 * the whole signal, and the margin keeps the decoded samples of [a, b) those of the whole
 * signal's transform, as at the native rates (seamless chunks). */
static void aw_window(const neco_info *info, uint32_t index, uint64_t *first, uint32_t *count,
                      int64_t *start, int *len)
{
    codec_chunk_span(info, index, first, count);
    if (aw_native(info->sample_rate)) {
        *start = (int64_t)*first - AW_MARGIN;
        *len = (int)((*count + AW_STRIDE - 1) / AW_STRIDE * AW_STRIDE) + 2 * AW_MARGIN;
        return;
    }
    codec_resampler r;
    codec_rs_geometry(&r, AW_MODEL_RATE, info->sample_rate);
    int64_t a, b;
    codec_rs_span(&r, (int64_t)*first, *count, &a, &b);
    *start = codec_floor_div(a, AW_STRIDE) * AW_STRIDE - AW_MARGIN;
    *len = (int)(codec_floor_div(b + AW_STRIDE - 1, AW_STRIDE) * AW_STRIDE + AW_MARGIN - *start);
}

static neco_status aw_encode_chunk(neco_context *ctx, void *state, const neco_audio *audio,
                                   const neco_info *info, uint32_t index, bytebuf *out)
{
    const aw_state *s = state;
    neco_status st = aw_check(ctx, info);
    if (st != NECO_OK) return st;
    uint64_t first;
    uint32_t count;
    int64_t start;
    int len;
    aw_window(info, index, &first, &count, &start, &len);
    int A = (int)info->audio_channels, q = (int)info->quality - 1;
    nn_tensor x = {0}, w = {0}, y = {0};
    int32_t *yq = NULL, *idx = NULL;
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    int rc = nn_tensor_alloc3(&x, A, 1, len);
    if (!rc && aw_native(info->sample_rate))
        codec_window_in(audio, info, start, len, x.data);
    else if (!rc)
        rc = codec_window_resampled(audio, info, AW_MODEL_RATE, start, len, &x);
    if (!rc) rc = nn_lifting97_1d(ctx->nn, &x, AW_LEVELS, 0, &w);
    if (!rc) rc = analysis(ctx->nn, s, &w, q, &y);
    if (!rc) rc = nn_context_sync(ctx->nn); /* y is quantised on the host next */
    if (rc) {
        st = codec_audio_fail(ctx, rc, index, "analysis");
        goto done;
    }
    size_t n = nn_tensor_numel(&y), T = (size_t)y.shape[2];
    yq = malloc(sizeof(int32_t) * n);
    idx = malloc(sizeof(int32_t) * n);
    if (!yq || !idx) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    /* Rounding is the encoder's choice (ties to even, as torch.round); the symbols are in
     * the tensor's order (coded channel, latent channel, frame). */
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(y.data[i]);
        yq[i] = v > 1e9f ? 1000000000 : v < -1e9f ? -1000000000 : (int32_t)v;
        idx[i] = (int32_t)((size_t)q * s->C + i / T % (size_t)s->C);
    }
    if (neco_rans_encode_with_indexes(&enc, s->tables, yq, idx, n) != NECO_ENTROPY_OK) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "entropy coding failed in chunk %u", index);
        goto done;
    }
    st = codec_flush_rans(ctx, &enc, out);
done:
    neco_rans_encoder_release(&enc);
    free(yq);
    free(idx);
    nn_tensor_free(&x);
    nn_tensor_free(&w);
    nn_tensor_free(&y);
    return st;
}

/* Entropy-decodes a chunk payload of level q into yq [A C T] (allocated by the caller). */
static neco_status aw_decode_symbols(neco_context *ctx, const aw_state *s, int q, uint32_t index,
                                     const uint8_t *payload, size_t size, size_t n, size_t T,
                                     int32_t *yq)
{
    int32_t *idx = malloc(sizeof(int32_t) * n);
    if (!idx) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        idx[i] = (int32_t)((size_t)q * s->C + i / T % (size_t)s->C);
    neco_rans_decoder dec;
    neco_status st = NECO_OK;
    if (neco_rans_decoder_init(&dec, payload, size) != NECO_ENTROPY_OK ||
        neco_rans_decode_with_indexes(&dec, s->tables, idx, n, yq) != NECO_ENTROPY_OK ||
        neco_rans_decoder_finish(&dec) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "chunk %u: corrupt entropy-coded data", index);
    free(idx);
    return st;
}

static neco_status aw_decode_chunk(neco_context *ctx, void *state, const neco_info *info,
                                   uint32_t index, const uint8_t *payload, size_t size,
                                   neco_audio *audio)
{
    const aw_state *s = state;
    neco_status st = aw_check(ctx, info);
    if (st != NECO_OK) return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    uint64_t first;
    uint32_t count;
    int64_t start;
    int len;
    aw_window(info, index, &first, &count, &start, &len);
    int A = (int)info->audio_channels, q = (int)info->quality - 1;
    size_t T = (size_t)len / AW_STRIDE, n = (size_t)A * s->C * T;
    nn_tensor u = {0}, w = {0}, x = {0};
    float *resampled = NULL;
    int32_t *yq = malloc(sizeof(int32_t) * n);
    int rc;
    if (!yq) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    if ((st = aw_decode_symbols(ctx, s, q, index, payload, size, n, T, yq)) != NECO_OK) goto done;
    if ((rc = nn_tensor_alloc3(&u, A, s->C, (int)T)) != NN_OK) {
        st = codec_audio_fail(ctx, rc, index, "synthesis");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        u.data[i] = (float)yq[i];
    rc = synthesis(ctx->nn, s, &u, q, &w);
    if (!rc) rc = nn_lifting97_1d(ctx->nn, &w, AW_LEVELS, 1, &x);
    if (!rc) rc = nn_context_sync(ctx->nn); /* x is read on the host next */
    if (rc) {
        st = codec_audio_fail(ctx, rc, index, "synthesis");
        goto done;
    }
    /* The chunk's frames: samples [AW_MARGIN, AW_MARGIN + count) of the window, or at other
     * rates the window resampled to the stream's rate. */
    const float *out = x.data + AW_MARGIN;
    size_t stride = (size_t)len;
    if (!aw_native(info->sample_rate)) {
        codec_resampler r;
        resampled = malloc(sizeof(float) * (size_t)A * count);
        rc = resampled ? codec_rs_init(&r, AW_MODEL_RATE, info->sample_rate) : NN_ERR_NOMEM;
        if (rc) {
            st = codec_audio_fail(ctx, rc, index, "resampling");
            goto done;
        }
        for (int a = 0; a < A; a++)
            codec_rs_run(&r, x.data + (size_t)a * len, start, (int64_t)first, count,
                         resampled + (size_t)a * count);
        codec_rs_free(&r);
        out = resampled;
        stride = count;
    }
    for (uint32_t i = 0; i < count; i++) {
        size_t base = (size_t)i * A; /* the chunk's frames start the buffer (models.h) */
        if (A == 2) {
            float m = out[i], sd = out[stride + i];
            codec_sample_out(audio, base, m + sd);
            codec_sample_out(audio, base + 1, m - sd);
        } else {
            for (int a = 0; a < A; a++)
                codec_sample_out(audio, base + a, out[(size_t)a * stride + i]);
        }
    }
done:
    free(resampled);
    free(yq);
    nn_tensor_free(&u);
    nn_tensor_free(&w);
    nn_tensor_free(&x);
    return st;
}

neco_status aud_wave_quality_for_kbps(neco_context *ctx, double kbps, int *quality)
{
    void *state;
    neco_status st = codec_model_state(ctx, &codec_model_aud_wave, &state);
    if (st != NECO_OK) return st;
    if (!(kbps > 0)) return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "bitrate must be positive");
    const aw_state *s = state;
    /* Closest on a log scale: rates are compared by ratio, as listeners and RD curves do. */
    int best = 0;
    for (int i = 1; i < s->Q; i++)
        if (fabs(log(s->nominal_kbps[i] / kbps)) < fabs(log(s->nominal_kbps[best] / kbps)))
            best = i;
    *quality = best + 1;
    return NECO_OK;
}

/* The chunk's symbols, as int32 little-endian in payload order, for the conformance symbols
 * digest (BITSTREAM.md section 4). */
static neco_status aw_unit_symbols(neco_context *ctx, void *state, const neco_info *info,
                                   uint32_t index, const uint8_t *payload, size_t size,
                                   sha256_state *hash)
{
    const aw_state *s = state;
    neco_status st = aw_check(ctx, info);
    if (st != NECO_OK) return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    uint64_t first;
    uint32_t count;
    int64_t start;
    int len;
    aw_window(info, index, &first, &count, &start, &len);
    size_t T = (size_t)len / AW_STRIDE;
    size_t n = (size_t)info->audio_channels * s->C * T;
    int32_t *yq = malloc(sizeof(int32_t) * n);
    st = !yq ? codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory")
             : aw_decode_symbols(ctx, s, (int)info->quality - 1, index, payload, size, n, T, yq);
    if (st == NECO_OK) codec_hash_symbols(hash, yq, n);
    free(yq);
    return st;
}

neco_status aud_wave_chunk_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                   uint32_t index, int32_t **symbols, size_t *n, int *frames)
{
    *symbols = NULL;
    neco_info info;
    const uint8_t *payload = NULL;
    size_t len = 0;
    void *state;
    neco_status st = codec_stream_unit(ctx, &codec_model_aud_wave, data, size, index, &info,
                                       &payload, &len, &state);
    if (st == NECO_OK) st = aw_check(ctx, &info);
    if (st != NECO_OK) return st;
    const aw_state *s = state;
    uint64_t first;
    uint32_t count;
    int64_t start;
    int window;
    aw_window(&info, index, &first, &count, &start, &window);
    size_t T = (size_t)window / AW_STRIDE;
    *n = (size_t)info.audio_channels * s->C * T;
    *frames = (int)T;
    *symbols = malloc(sizeof(int32_t) * *n);
    if (!*symbols) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    st = aw_decode_symbols(ctx, s, (int)info.quality - 1, index, payload, len, *n, T, *symbols);
    if (st != NECO_OK) {
        free(*symbols);
        *symbols = NULL;
    }
    return st;
}

const codec_model codec_model_aud_wave = {
    .id = "aud-wave",
    .description = "high-rate learned audio codec: wavelet packet + linear encoder + factorized "
                   "prior + conv decoder (44.1/48 kHz; 8-384 kHz resampled)",
    .media = 1u << NECO_MEDIA_AUDIO,
    .weights_file = AW_FILE,
    .default_quality = 3,
    .load = aw_load,
    .unload = aw_unload,
    .hash = aw_hash,
    .levels = aw_levels,
    .layout = aw_layout,
    .unit_symbols = aw_unit_symbols,
    .encode_chunk = aw_encode_chunk,
    .decode_chunk = aw_decode_chunk,
};
