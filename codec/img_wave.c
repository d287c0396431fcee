/* img-wave and img-swin, the two learned image models (train/ARCH.md "img-wave" and
 * "img-swin", the contract with the trained weights).
 *
 * img-wave (fast): 2-level CDF 9/7 wavelet packet -> light conv encoder g_a -> latent y with a
 * per-quality gain -> hyper-analysis h_a -> z; z coded with a factorized model, y with a
 * Gaussian conditional whose scale indices come from the INTEGER hyper-synthesis h_s (so that
 * encoder and decoder always agree, ARCHITECTURE.md "Determinism"); decoder g_s at the wavelet
 * resolution, then the inverse wavelet. BITSTREAM.md section 3 specifies the tile payload.
 *
 * img-swin (rate-distortion): the same graph with Swin-V2 window-attention blocks (Liu et al.
 * 2022; nets/swin.h) at the wavelet resolution, in g_a on the conv branch's features and in
 * g_s after the ConvNeXt blocks. The payload is img-wave's (BITSTREAM.md 3.3).
 *
 * One tile = one rANS stream: z (C order: channel, row, column; table = channel), then y
 * (C order; table = the scale index of the element). */
#include "models.h"

#include "hyperprior.h"
#include "img_swin.h"
#include "img_wave.h"

#include "nets/attention.h"
#include "nets/layers.h"
#include "nets/lifting97.h"
#include "nets/safetensors.h"
#include "nets/swin.h"
#include "sha256.h"

#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define WAVE_TILE 1024  /* tile side; a multiple of the stride */
#define WAVE_STRIDE 16  /* img-wave: g_a and h_a downsample by 16 in all */
#define WAVE_MAX_SWIN 8 /* Swin blocks per transform */
/* The decoder refuses tiles of more padded pixels than this (BITSTREAM.md 3.3): a stream may
 * choose its tile size, and the Swin blocks' work memory grows with it (~100 bytes per pixel). */
#define SWIN_MAX_TILE_PIXELS (1024u * 1024u)
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
    const char *id; /* img-wave or img-swin: the tensors tell them apart, the name is checked */
    nn_weights *weights;
    uint8_t hash[NECO_WEIGHTS_HASH_SIZE];
    int C, CZ, Q;
    int EW, HW, DW, blocks; /* widths of g_a, h_a, g_s; g_s residual blocks */
    int has_mean;           /* h_s predicts means too (mean-scale hyperprior) */
    wave_conv ga_lin, ga_b0, ga_b1, ga_b2;
    wave_conv ha0, ha1, ha2;
    wave_conv gs_in, gs_dw[WAVE_MAX_BLOCKS], gs_pw1[WAVE_MAX_BLOCKS], gs_pw2[WAVE_MAX_BLOCKS];
    wave_conv gs_lin, gs_out;
    int swin_a, swin_s, window; /* Swin blocks in g_a and g_s (img-swin), window size */
    nn_swin_block ga_swin[WAVE_MAX_SWIN], gs_swin[WAVE_MAX_SWIN];
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
#define POOL_NAMES 400
typedef struct name_pool {
    char names[POOL_NAMES][64];
    int used;
} name_pool;

static const char *pool_name(name_pool *p, const char *fmt, const char *a, const char *b)
{
    char *out = p->names[p->used < POOL_NAMES - 1 ? p->used++ : POOL_NAMES - 1];
    snprintf(out, sizeof p->names[0], fmt, a, b);
    return out;
}

/* The tensors of Swin block `prefix` (nets/swin.h, PyTorch layouts) on dim channels; heads, the
 * MLP and the position-bias MLP widths come from the file (checked for consistency). */
static int swin_block_spec(const wave_state *s, nn_weight_spec *spec, name_pool *pool,
                           const char *prefix, int dim)
{
    char key[64];
    snprintf(key, sizeof key, "%s.attn.logit_scale", prefix);
    int heads = extent0(s, key);
    snprintf(key, sizeof key, "%s.mlp.fc1.weight", prefix);
    int hid = extent0(s, key);
    snprintf(key, sizeof key, "%s.attn.cpb.fc1.weight", prefix);
    int cph = extent0(s, key);
    int n = 0;
#define F(what, ...)                                                                               \
    spec[n++] = (nn_weight_spec)                                                                   \
    {                                                                                              \
        pool_name(pool, "%s.%s", prefix, what), NN_F32, 0,                                         \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
    F("attn.logit_scale", heads);
    F("attn.q_bias", dim);
    F("attn.v_bias", dim);
    F("attn.qkv.weight", 3 * dim, dim);
    F("attn.proj.weight", dim, dim);
    F("attn.proj.bias", dim);
    F("attn.cpb.fc1.weight", cph, 2);
    F("attn.cpb.fc1.bias", cph);
    F("attn.cpb.fc2.weight", heads, cph);
    F("norm1.weight", dim);
    F("norm1.bias", dim);
    F("norm2.weight", dim);
    F("norm2.bias", dim);
    F("mlp.fc1.weight", hid, dim);
    F("mlp.fc1.bias", hid);
    F("mlp.fc2.weight", dim, hid);
    F("mlp.fc2.bias", dim);
#undef F
    return n;
}

/* The tensors the graph expects (ARCH.md), checked by name, dtype and shape before use. Widths
 * come from the metadata (C, CZ, Q) and from the first layer of each stage (EW, HW, DW, the
 * h_s widths); every other shape must be consistent with them. */
static int wave_spec(const wave_state *s, nn_weight_spec *spec, name_pool *pool)
{
    int n = 0, C = s->C, CZ = s->CZ, Q = s->Q, EW = s->EW, HW = s->HW, DW = s->DW;
    char num[24];
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
    for (int b = 0; b < s->swin_a; b++) {
        snprintf(num, sizeof num, "g_a.swin%d", b);
        n += swin_block_spec(s, spec + n, pool, num, EW);
    }
    for (int b = 0; b < s->swin_s; b++) {
        snprintf(num, sizeof num, "g_s.swin%d", b);
        n += swin_block_spec(s, spec + n, pool, num, DW);
    }
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

/* Binds Swin block `prefix` (its tensors checked by swin_block_spec); odd blocks are shifted by
 * half a window whatever the map size (train/models_swin.py SwinV2Block). */
static void bind_swin(const wave_state *s, nn_swin_block *k, const char *prefix, int b, int dim)
{
    char key[64];
#define V(what) (snprintf(key, sizeof key, "%s.%s", prefix, what), find(s, key)->f32)
    memset(k, 0, sizeof *k);
    k->dim = dim;
    k->window = s->window;
    k->shift = b % 2 ? s->window / 2 : 0;
    snprintf(key, sizeof key, "%s.attn.logit_scale", prefix);
    k->heads = extent0(s, key);
    snprintf(key, sizeof key, "%s.mlp.fc1.weight", prefix);
    k->hidden = extent0(s, key);
    snprintf(key, sizeof key, "%s.attn.cpb.fc1.weight", prefix);
    k->cpb_hidden = extent0(s, key);
    k->qkv_w = V("attn.qkv.weight");
    k->q_bias = V("attn.q_bias");
    k->v_bias = V("attn.v_bias");
    k->logit_scale = V("attn.logit_scale");
    k->cpb_w1 = V("attn.cpb.fc1.weight");
    k->cpb_b1 = V("attn.cpb.fc1.bias");
    k->cpb_w2 = V("attn.cpb.fc2.weight");
    k->proj_w = V("attn.proj.weight");
    k->proj_b = V("attn.proj.bias");
    k->norm1_w = V("norm1.weight");
    k->norm1_b = V("norm1.bias");
    k->norm2_w = V("norm2.weight");
    k->norm2_b = V("norm2.bias");
    k->fc1_w = V("mlp.fc1.weight");
    k->fc1_b = V("mlp.fc1.bias");
    k->fc2_w = V("mlp.fc2.weight");
    k->fc2_b = V("mlp.fc2.bias");
#undef V
}

/* Counts the blocks g_x.swin0, g_x.swin1, ... present in the file. */
static int count_swin(const wave_state *s, const char *stage)
{
    char key[64];
    int n = 0;
    for (; n < WAVE_MAX_SWIN; n++) {
        snprintf(key, sizeof key, "%s.swin%d.attn.qkv.weight", stage, n);
        if (!find(s, key)) break;
    }
    return n;
}

/* A Swin block's heads must split its channels into heads the attention kernels take, and its
 * MLPs must not be empty; 0 when they are usable. */
static int swin_block_bad(const nn_swin_block *k)
{
    return k->heads < 1 || k->dim % k->heads || k->dim / k->heads > NN_ATTN_MAX_HEAD_DIM ||
           k->hidden < 1 || k->cpb_hidden < 1;
}

static neco_status wave_load_as(neco_context *ctx, const char *id, const char *path, void **out)
{
    *out = NULL;
    wave_state *s = calloc(1, sizeof *s);
    if (!s)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    s->id = id;
    neco_status st = codec_load_weights(ctx, id, path, &s->weights, s->hash);
    if (st != NECO_OK) {
        free(s);
        return st;
    }
    char err[200];
    int rc;
    const char *stride = nn_weights_metadata(s->weights, "stride");
    s->swin_a = count_swin(s, "g_a");
    s->swin_s = count_swin(s, "g_s");
    if (codec_meta_int(s->weights, "latent_channels", 1, 256, &s->C) ||
        codec_meta_int(s->weights, "hyper_channels", 1, 256, &s->CZ) ||
        codec_meta_int(s->weights, "quality_levels", 1, WAVE_MAX_Q, &s->Q) ||
        (stride && strcmp(stride, "16") != 0) ||
        (s->swin_a + s->swin_s > 0 &&
         codec_meta_int(s->weights, "swin_window", 2, 16, &s->window))) {
        int swin = s->swin_a + s->swin_s > 0;
        wave_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "model %s: %s: metadata (latent_channels, hyper_channels, "
                          "quality_levels, stride 16%s) missing or wrong",
                          id, path, swin ? ", swin_window" : "");
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
    nn_weight_spec spec[POOL_NAMES];
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
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: %s", id, path, err);
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
    int bad = 0;
    for (int b = 0; b < s->swin_a; b++) {
        snprintf(name, sizeof name, "g_a.swin%d", b);
        bind_swin(s, &s->ga_swin[b], name, b, s->EW);
        bad |= swin_block_bad(&s->ga_swin[b]);
    }
    for (int b = 0; b < s->swin_s; b++) {
        snprintf(name, sizeof name, "g_s.swin%d", b);
        bind_swin(s, &s->gs_swin[b], name, b, s->DW);
        bad |= swin_block_bad(&s->gs_swin[b]);
    }
    if (bad) {
        wave_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "model %s: %s: a Swin block's heads or MLP widths are unusable", id,
                          path);
    }
    s->gain = find(s, "gain")->f32;
    s->inv_gain = find(s, "inv_gain")->f32;
    if ((st = codec_hp_load(ctx, id, path, s->weights, s->C, s->CZ, s->has_mean, &s->hp)) !=
        NECO_OK) {
        wave_unload(s);
        return st;
    }
    s->hp.rdoq_mu = WAVE_RDOQ_MU;
    *out = s;
    return NECO_OK;
}

static neco_status wave_load(neco_context *ctx, const char *path, void **out)
{
    return wave_load_as(ctx, "img-wave", path, out);
}

static neco_status swin_load(neco_context *ctx, const char *path, void **out)
{
    return wave_load_as(ctx, "img-swin", path, out);
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

/* Swin blocks blk[0..n) on x [1, dim, h, w] in place. A map that is not a whole number of
 * windows is padded right and bottom with zeros for each block and cropped after it (ARCH.md
 * "Swin-V2 block": the attention sees the zero tokens; the residual, norms and MLP act per
 * position, so running them on the padded map and cropping is the same). The blocks' work
 * memory is the backend context's (nn_context_work), kept from tile to tile and call to call. */
static int swin_blocks(nn_context *nn, const nn_swin_block *blk, int n, int ws, nn_tensor *x)
{
    if (n == 0) return NN_OK;
    int c = x->shape[1], h = x->shape[2], w = x->shape[3];
    int hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws;
    if (hp == h && wp == w) {
        for (int b = 0; b < n; b++) {
            int rc = nn_swin_block_forward_ex(nn, &blk[b], x, 1);
            if (rc) return rc;
        }
        return NN_OK;
    }
    nn_tensor t = {0};
    int rc = nn_tensor_alloc4(&t, 1, c, hp, wp);
    for (int b = 0; b < n && !rc; b++) {
        rc = nn_context_sync(nn); /* x is copied on the host */
        if (rc) break;
        memset(t.data, 0, nn_tensor_numel(&t) * sizeof(float));
        for (int k = 0; k < c; k++)
            for (int i = 0; i < h; i++)
                memcpy(t.data + ((size_t)k * hp + i) * wp, x->data + ((size_t)k * h + i) * w,
                       (size_t)w * sizeof(float));
        rc = nn_swin_block_forward_ex(nn, &blk[b], &t, 1);
        if (!rc) rc = nn_context_sync(nn);
        for (int k = 0; k < c && !rc; k++)
            for (int i = 0; i < h; i++)
                memcpy(x->data + ((size_t)k * h + i) * w, t.data + ((size_t)k * hp + i) * wp,
                       (size_t)w * sizeof(float));
    }
    nn_tensor_free(&t);
    return rc;
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
    if (!rc) rc = swin_blocks(nn, s->ga_swin, s->swin_a, s->window, &t2);
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
    if (!rc) rc = swin_blocks(nn, s->gs_swin, s->swin_s, s->window, &h);
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
    neco_status st = codec_check_no_alpha(ctx, s->id, info);
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
    if (codec_check_no_alpha(ctx, s->id, info) != NECO_OK)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int hz = (int)round_up(h, WAVE_STRIDE) / WAVE_STRIDE;
    int wz = (int)round_up(w, WAVE_STRIDE) / WAVE_STRIDE;
    if (s->swin_s > 0 && (uint64_t)hz * wz * WAVE_STRIDE * WAVE_STRIDE > SWIN_MAX_TILE_PIXELS)
        return codec_fail(ctx, NECO_ERR_LIMIT,
                          "tile %u: %ux%u pixels; model %s decodes tiles of at most %u pixels "
                          "(padded to multiples of 16)",
                          index, w, h, s->id, SWIN_MAX_TILE_PIXELS);
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
    return codec_hp_tile_symbols(ctx, &codec_model_img_wave, offsetof(wave_state, hp), WAVE_STRIDE,
                                 data, size, index, z, nz, y, ny);
}

neco_status img_swin_tile_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y, size_t *ny)
{
    return codec_hp_tile_symbols(ctx, &codec_model_img_swin, offsetof(wave_state, hp), WAVE_STRIDE,
                                 data, size, index, z, nz, y, ny);
}

const codec_model codec_model_img_wave = {
    .id = "img-wave",
    .description = "fast learned image codec: wavelet + light conv autoencoder + hyperprior",
    .media = 1u << NECO_MEDIA_IMAGE,
    .weights_file = "img-wave.safetensors",
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

const codec_model codec_model_img_swin = {
    .id = "img-swin",
    .description = "learned image codec for the best rate-distortion: img-wave with Swin-V2 "
                   "window-attention stages",
    .media = 1u << NECO_MEDIA_IMAGE,
    .weights_file = "img-swin.safetensors",
    .default_quality = 6,
    .load = swin_load,
    .unload = wave_unload,
    .hash = wave_hash,
    .levels = wave_levels,
    .layout = wave_layout,
    .encode_tile = wave_encode_tile,
    .decode_tile = wave_decode_tile,
    .unit_symbols = wave_unit_symbols,
};
