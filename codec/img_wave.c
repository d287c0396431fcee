/* img-wave: the fast learned image model (train/ARCH.md "img-wave", the contract with the
 * trained weights). 2-level CDF 9/7 wavelet packet -> light conv encoder g_a -> latent y with a
 * per-quality gain -> hyper-analysis h_a -> z; z coded with a factorized model, y with a
 * Gaussian conditional whose scale indices come from the INTEGER hyper-synthesis h_s (so that
 * encoder and decoder always agree, ARCHITECTURE.md "Determinism"); decoder g_s at the wavelet
 * resolution, then the inverse wavelet. BITSTREAM.md section 3 specifies the tile payload.
 *
 * One tile = one rANS stream: z (C order: channel, row, column; table = channel), then y
 * (C order; table = the scale index of the element). */
#include "models.h"

#include "hyperprior.h"
#include "img_wave.h"

#include "nets/layers.h"
#include "nets/lifting97.h"
#include "nets/safetensors.h"
#include "sha256.h"

#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define WAVE_FILE "img-wave.safetensors"
#define WAVE_TILE 1024   /* tile side; a multiple of the stride */
#define WAVE_STRIDE 16   /* g_a and h_a downsample by 16 in all */
#define WAVE_LEVELS 2    /* wavelet packet levels */
#define WAVE_NW 48       /* 3 colours x 4^2 subbands */
#define WAVE_MAX_BLOCKS 8 /* g_s residual blocks */
#define WAVE_MAX_Q 64
/* The RDOQ weight of the encoder (codec_hp_encode): bits against the squared error of the gained
 * latent. Chosen on the validation images, where 24-32 saved about 3 % of the bits at equal PSNR
 * (2.7 points off the BD-rate against every anchor, README "Images"; 16 and 48 saved less). */
#define WAVE_RDOQ_MU 32.0f

typedef struct wave_conv {
    nn_tensor w;
    const float *b; /* NULL without bias */
} wave_conv;

typedef struct wave_state {
    nn_weights *weights;
    uint8_t hash[NECO_WEIGHTS_HASH_SIZE];
    int C, CZ, Q;
    int EW, HW, DW, blocks; /* widths of g_a, h_a, g_s; g_s residual blocks */
    int has_mean;           /* h_s predicts means too (mean-scale hyperprior) */
    wave_conv ga_lin, ga_b0, ga_b1, ga_b2;
    wave_conv ha0, ha1, ha2;
    wave_conv gs_in, gs_dw[WAVE_MAX_BLOCKS], gs_pw1[WAVE_MAX_BLOCKS], gs_pw2[WAVE_MAX_BLOCKS];
    wave_conv gs_lin, gs_out;
    const float *gain, *inv_gain; /* [Q][C] */
    codec_hyperprior hp; /* integer h_s and entropy tables (hyperprior.h) */
} wave_state;

/* ---- Loading ------------------------------------------------------------------------------ */

static const nn_weight *find(const wave_state *s, const char *name)
{
    return nn_weights_find(s->weights, name);
}

static void bind_conv(wave_state *s, wave_conv *c, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "%s.weight", name);
    const nn_weight *w = find(s, key);
    c->w = nn_tensor_view(w->f32, 4, w->shape);
    snprintf(key, sizeof key, "%s.bias", name);
    const nn_weight *b = find(s, key);
    c->b = b ? b->f32 : NULL;
}

/* The first extent of a tensor, or 0 when it is missing (nn_weights_check then names it). */
static int extent0(const wave_state *s, const char *name)
{
    const nn_weight *w = find(s, name);
    return w && w->ndim >= 1 ? w->shape[0] : 0;
}

/* Names made while listing the tensors of a graph. */
typedef struct name_pool {
    char names[96][40];
    int used;
} name_pool;

static const char *pool_name(name_pool *p, const char *fmt, const char *a, const char *b)
{
    char *out = p->names[p->used < 95 ? p->used++ : 95];
    snprintf(out, sizeof p->names[0], fmt, a, b);
    return out;
}

/* The tensors the graph expects (ARCH.md), checked by name, dtype and shape before use. Widths
 * come from the metadata (C, CZ, Q) and from the first layer of each stage (EW, HW, DW, the
 * h_s widths); every other shape must be consistent with them. */
static int wave_spec(const wave_state *s, nn_weight_spec *spec, name_pool *pool)
{
    int n = 0, C = s->C, CZ = s->CZ, Q = s->Q, EW = s->EW, HW = s->HW, DW = s->DW;
    char num[16];
#define F(name, ...) spec[n++] = (nn_weight_spec){name, NN_F32, 0, {__VA_ARGS__}}
#define N(fmt, a, b) pool_name(pool, fmt, a, b)
    F("g_a.lin.weight", C, WAVE_NW, 1, 1);
    F("g_a.branch0.weight", EW, WAVE_NW, 3, 3);
    F("g_a.branch0.bias", EW);
    F("g_a.branch1.weight", EW, EW, 3, 3);
    F("g_a.branch1.bias", EW);
    F("g_a.branch2.weight", C, EW, 3, 3);
    F("g_a.branch2.bias", C);
    F("gain", Q, C);
    F("inv_gain", Q, C);
    F("h_a.conv0.weight", HW, C, 3, 3);
    F("h_a.conv0.bias", HW);
    F("h_a.conv1.weight", HW, HW, 5, 5);
    F("h_a.conv1.bias", HW);
    F("h_a.conv2.weight", CZ, HW, 5, 5);
    F("h_a.conv2.bias", CZ);
    F("g_s.conv_in.weight", DW, C, 3, 3);
    F("g_s.conv_in.bias", DW);
    for (int b = 0; b < s->blocks; b++) {
        snprintf(num, sizeof num, "%d", b);
        F(N("g_s.block%s.%s.weight", num, "dw"), DW, 1, 5, 5);
        F(N("g_s.block%s.%s.bias", num, "dw"), DW);
        F(N("g_s.block%s.%s.weight", num, "pw1"), 2 * DW, DW, 1, 1);
        F(N("g_s.block%s.%s.bias", num, "pw1"), 2 * DW);
        F(N("g_s.block%s.%s.weight", num, "pw2"), DW, 2 * DW, 1, 1);
        F(N("g_s.block%s.%s.bias", num, "pw2"), DW);
    }
    F("g_s.lin.weight", WAVE_NW, C, 1, 1);
    F("g_s.lin.bias", WAVE_NW);
    F("g_s.conv_out.weight", WAVE_NW, DW, 1, 1);
    F("g_s.conv_out.bias", WAVE_NW);
#undef F
#undef N
    for (int i = 0; i < n; i++) {
        spec[i].ndim = 0;
        while (spec[i].ndim < NN_WEIGHT_MAX_DIMS && spec[i].shape[spec[i].ndim])
            spec[i].ndim++;
    }
    return n;
}

static void wave_unload(void *state)
{
    wave_state *s = state;
    if (!s)
        return;
    codec_hp_release(&s->hp);
    nn_weights_free(s->weights);
    free(s);
}

static neco_status wave_load(neco_context *ctx, const char *path, void **out)
{
    *out = NULL;
    wave_state *s = calloc(1, sizeof *s);
    if (!s)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    neco_status st = codec_load_weights(ctx, "img-wave", path, &s->weights, s->hash);
    if (st != NECO_OK) {
        free(s);
        return st;
    }
    char err[200];
    int rc;
    if (codec_meta_int(s->weights, "latent_channels", 1, 256, &s->C) ||
        codec_meta_int(s->weights, "hyper_channels", 1, 256, &s->CZ) ||
        codec_meta_int(s->weights, "quality_levels", 1, WAVE_MAX_Q, &s->Q)) {
        wave_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "model img-wave: %s: metadata (latent_channels, "
                          "hyper_channels, quality_levels) missing or wrong",
                          path);
    }
    /* Widths from the first layer of each stage; blocks and the mean layer by presence. */
    s->EW = extent0(s, "g_a.branch0.weight");
    s->HW = extent0(s, "h_a.conv0.weight");
    s->DW = extent0(s, "g_s.conv_in.weight");
    char name[48];
    for (s->blocks = 0; s->blocks < WAVE_MAX_BLOCKS; s->blocks++) {
        snprintf(name, sizeof name, "g_s.block%d.dw.weight", s->blocks);
        if (!find(s, name))
            break;
    }
    const char *mean = nn_weights_metadata(s->weights, "hs_mean");
    s->has_mean = mean && strcmp(mean, "1") == 0;
    nn_weight_spec spec[120];
    name_pool *pool = malloc(sizeof *pool);
    if (!pool) {
        wave_unload(s);
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    }
    pool->used = 0;
    int n = wave_spec(s, spec, pool);
    rc = nn_weights_check(s->weights, spec, (size_t)n, err, sizeof err);
    free(pool);
    if (rc != NN_OK) {
        wave_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL, "model img-wave: %s: %s", path, err);
    }
    bind_conv(s, &s->ga_lin, "g_a.lin");
    bind_conv(s, &s->ga_b0, "g_a.branch0");
    bind_conv(s, &s->ga_b1, "g_a.branch1");
    bind_conv(s, &s->ga_b2, "g_a.branch2");
    bind_conv(s, &s->ha0, "h_a.conv0");
    bind_conv(s, &s->ha1, "h_a.conv1");
    bind_conv(s, &s->ha2, "h_a.conv2");
    bind_conv(s, &s->gs_in, "g_s.conv_in");
    for (int b = 0; b < s->blocks; b++) {
        snprintf(name, sizeof name, "g_s.block%d.dw", b);
        bind_conv(s, &s->gs_dw[b], name);
        snprintf(name, sizeof name, "g_s.block%d.pw1", b);
        bind_conv(s, &s->gs_pw1[b], name);
        snprintf(name, sizeof name, "g_s.block%d.pw2", b);
        bind_conv(s, &s->gs_pw2[b], name);
    }
    bind_conv(s, &s->gs_lin, "g_s.lin");
    bind_conv(s, &s->gs_out, "g_s.conv_out");
    s->gain = find(s, "gain")->f32;
    s->inv_gain = find(s, "inv_gain")->f32;
    if ((st = codec_hp_load(ctx, "img-wave", path, s->weights, s->C, s->CZ, s->has_mean,
                            &s->hp)) != NECO_OK) {
        wave_unload(s);
        return st;
    }
    s->hp.rdoq_mu = WAVE_RDOQ_MU;
    *out = s;
    return NECO_OK;
}

static const uint8_t *wave_hash(const void *state) { return ((const wave_state *)state)->hash; }

static int wave_levels(const void *state) { return ((const wave_state *)state)->Q; }

/* ---- Network pieces ----------------------------------------------------------------------- */

/* y = conv(x) with kernel k, stride s, zero padding pad, groups g. */
static int conv(nn_context *nn, const wave_conv *c, const nn_tensor *x, int stride, int pad,
                int groups, nn_tensor *y)
{
    nn_conv_params p = nn_conv_default();
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.groups = groups;
    return nn_conv2d(nn, x, &c->w, c->b, &p, y);
}

/* g_a then the gain of quality q (0-based): w [1, 48, h, w] -> y [1, C, h, w]. */
static int analysis(nn_context *nn, const wave_state *s, const nn_tensor *w, int q, nn_tensor *y)
{
    nn_tensor t = {0}, t2 = {0}, lin = {0};
    int rc = conv(nn, &s->ga_b0, w, 1, 1, 1, &t);
    if (!rc)
        rc = nn_activation(nn, NN_ACT_GELU, 0, &t);
    if (!rc)
        rc = conv(nn, &s->ga_b1, &t, 1, 1, 1, &t2);
    if (!rc)
        rc = nn_activation(nn, NN_ACT_GELU, 0, &t2);
    if (!rc)
        rc = conv(nn, &s->ga_b2, &t2, 1, 1, 1, y);
    if (!rc)
        rc = conv(nn, &s->ga_lin, w, 1, 0, 1, &lin);
    if (!rc)
        rc = nn_add(nn, y, &lin, y);
    if (!rc)
        rc = nn_channel_scale(nn, y, s->gain + (size_t)q * s->C, NULL);
    nn_tensor_free(&t);
    nn_tensor_free(&t2);
    nn_tensor_free(&lin);
    return rc;
}

static int hyper_analysis(nn_context *nn, const wave_state *s, const nn_tensor *y, nn_tensor *z)
{
    nn_tensor u = {0}, u2 = {0};
    int rc = conv(nn, &s->ha0, y, 1, 1, 1, &u);
    if (!rc)
        rc = nn_activation(nn, NN_ACT_LEAKY_RELU, 0.1f, &u);
    if (!rc)
        rc = conv(nn, &s->ha1, &u, 2, 2, 1, &u2);
    if (!rc)
        rc = nn_activation(nn, NN_ACT_LEAKY_RELU, 0.1f, &u2);
    if (!rc)
        rc = conv(nn, &s->ha2, &u2, 2, 2, 1, z);
    nn_tensor_free(&u);
    nn_tensor_free(&u2);
    return rc;
}

/* A 1x1 conv without its bias, which the caller adds with the op after it (nn_bias_act,
 * nn_bias_residual: one pass over the output for both). */
static int pointwise_nobias(nn_context *nn, const wave_conv *c, const nn_tensor *x, nn_tensor *y)
{
    nn_conv_params p = nn_conv_default();
    return nn_conv2d(nn, x, &c->w, NULL, &p, y);
}

/* g_s for quality q: y_hat [1, C, h, w] (float) -> wavelet coefficients [1, 48, h, w]. */
static int synthesis(nn_context *nn, const wave_state *s, nn_tensor *u, int q, nn_tensor *out)
{
    nn_tensor h = {0}, t = {0}, t2 = {0}, r = {0};
    int rc = nn_channel_scale(nn, u, s->inv_gain + (size_t)q * s->C, NULL);
    if (!rc)
        rc = conv(nn, &s->gs_in, u, 1, 1, 1, &h);
    for (int b = 0; b < s->blocks && !rc; b++) {
        rc = conv(nn, &s->gs_dw[b], &h, 1, 2, s->DW, &t);
        if (!rc)
            rc = pointwise_nobias(nn, &s->gs_pw1[b], &t, &t2);
        if (!rc)
            rc = nn_bias_act(nn, &t2, s->gs_pw1[b].b, NN_ACT_GELU, 0);
        if (!rc)
            rc = pointwise_nobias(nn, &s->gs_pw2[b], &t2, &r);
        if (!rc)
            rc = nn_bias_residual(nn, &r, s->gs_pw2[b].b, &h);
    }
    if (!rc)
        rc = conv(nn, &s->gs_lin, u, 1, 0, 1, out);
    if (!rc)
        rc = pointwise_nobias(nn, &s->gs_out, &h, &r);
    if (!rc)
        rc = nn_bias_residual(nn, &r, s->gs_out.b, out);
    nn_tensor_free(&h);
    nn_tensor_free(&t);
    nn_tensor_free(&t2);
    nn_tensor_free(&r);
    return rc;
}

/* ---- Tiles -------------------------------------------------------------------------------- */

static uint32_t round_up(uint32_t v, uint32_t m) { return (v + m - 1) / m * m; }

static void wave_layout(neco_info *info)
{
    info->tile_width = WAVE_TILE;
    info->tile_height = WAVE_TILE;
    info->chunk_frames = 0;
}

static neco_status wave_encode_tile(neco_context *ctx, void *state, const neco_image *image,
                                    const neco_info *info, uint32_t index, bytebuf *out)
{
    const wave_state *s = state;
    neco_status st = codec_check_no_alpha(ctx, "img-wave", info);
    if (st != NECO_OK)
        return st;
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int hp = (int)round_up(h, WAVE_STRIDE), wp = (int)round_up(w, WAVE_STRIDE);
    int q = (int)info->quality - 1;
    nn_tensor p = {0}, wav = {0}, y = {0}, z = {0};
    int rc = nn_tensor_alloc4(&p, 1, 3, hp, wp);
    if (!rc) {
        codec_tile_to_tensor(image, x0, y0, w, h, &p);
        rc = nn_lifting97(ctx->nn, &p, WAVE_LEVELS, 0, &wav);
    }
    if (!rc)
        rc = analysis(ctx->nn, s, &wav, q, &y);
    if (!rc)
        rc = hyper_analysis(ctx->nn, s, &y, &z);
    if (!rc)
        rc = nn_context_sync(ctx->nn); /* y and z are read on the host next */
    st = rc ? codec_nn_fail(ctx, rc, index, "analysis")
            : codec_hp_encode(ctx, &s->hp, &y, &z, index, out);
    nn_tensor_free(&p);
    nn_tensor_free(&wav);
    nn_tensor_free(&y);
    nn_tensor_free(&z);
    return st;
}

static neco_status wave_decode_tile(neco_context *ctx, void *state, const neco_info *info,
                                    uint32_t index, const uint8_t *payload, size_t size,
                                    neco_image *image)
{
    const wave_state *s = state;
    if (codec_check_no_alpha(ctx, "img-wave", info) != NECO_OK)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int hz = (int)round_up(h, WAVE_STRIDE) / WAVE_STRIDE;
    int wz = (int)round_up(w, WAVE_STRIDE) / WAVE_STRIDE;
    int q = (int)info->quality - 1;
    nn_tensor u = {0}, wav = {0}, p = {0};
    neco_status st = codec_hp_decode_latent(ctx, &s->hp, index, payload, size, hz, wz, &u);
    if (st == NECO_OK) {
        int rc = synthesis(ctx->nn, s, &u, q, &wav);
        if (!rc)
            rc = nn_lifting97(ctx->nn, &wav, WAVE_LEVELS, 1, &p);
        if (!rc)
            rc = nn_context_sync(ctx->nn); /* p is read on the host next */
        if (rc)
            st = codec_nn_fail(ctx, rc, index, "synthesis");
        else
            codec_tensor_to_tile(&p, x0, y0, w, h, image);
    }
    nn_tensor_free(&u);
    nn_tensor_free(&wav);
    nn_tensor_free(&p);
    return st;
}

static neco_status wave_unit_symbols(neco_context *ctx, void *state, const neco_info *info,
                                     uint32_t index, const uint8_t *payload, size_t size,
                                     sha256_state *hash)
{
    const wave_state *s = state;
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int hz = (int)round_up(h, WAVE_STRIDE) / WAVE_STRIDE;
    int wz = (int)round_up(w, WAVE_STRIDE) / WAVE_STRIDE;
    return codec_hp_hash_symbols(ctx, &s->hp, index, payload, size, hz, wz, hash);
}

neco_status img_wave_tile_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y,
                                  size_t *ny)
{
    return codec_hp_tile_symbols(ctx, &codec_model_img_wave, offsetof(wave_state, hp), WAVE_STRIDE, data, size,
                                 index, z, nz, y, ny);
}

const codec_model codec_model_img_wave = {
    .id = "img-wave",
    .description = "fast learned image codec: wavelet + light conv autoencoder + hyperprior",
    .media = 1u << NECO_MEDIA_IMAGE,
    .weights_file = WAVE_FILE,
    .default_quality = 6,
    .load = wave_load,
    .unload = wave_unload,
    .hash = wave_hash,
    .levels = wave_levels,
    .layout = wave_layout,
    .encode_tile = wave_encode_tile,
    .decode_tile = wave_decode_tile,
    .unit_symbols = wave_unit_symbols,
};
