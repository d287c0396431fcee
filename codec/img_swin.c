/* img-swin: the rate-distortion learned image model (train/ARCH.md "img-swin", the contract
 * with the trained weights; train/models_swin.py the training side). Convolutional down-sampling
 * with Swin-V2 window-attention stages (Liu et al. 2022; Zhu et al. 2022 and Liu et al. 2023 for
 * Swin blocks in learned codecs) to a latent y at 1/16 with a per-quality gain (Cui et al. 2021),
 * hyper-analysis to z at 1/64, and the same mean-scale hyperprior payload as img-wave
 * (hyperprior.h: factorized z, integer h_s, Gaussian-conditional y): BITSTREAM.md 3.3. The
 * decoder mirrors the encoder with sub-pixel (pixel shuffle) up-sampling (Shi et al. 2016).
 *
 * Tiles are coded independently, one rANS stream each, at their size padded to multiples of 64
 * by edge replication. The Swin stages hold ~100 floats per position at half resolution, and the
 * attention matrices of a block 4 heads x 64 keys more: a 1024x1024 tile peaks at 1.7 GB, a
 * 512x512 tile at about 430 MB (measured, README "img-swin"), so tiles are 512x512. */
#include "models.h"

#include "hyperprior.h"
#include "img_swin.h"

#include "nets/layers.h"
#include "nets/safetensors.h"
#include "nets/swin.h"
#include "sha256.h"

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SWIN_FILE "img-swin.safetensors"
#define SWIN_TILE 512     /* tile side; a multiple of the stride (peak memory: README) */
/* The decoder refuses tiles of more padded pixels than this (BITSTREAM.md 3.3): a stream may
 * choose its tile size, and a 16384x16384 tile would need ~400 GB in the Swin stages. */
#define SWIN_MAX_TILE_PIXELS (1024u * 1024u)
#define SWIN_STRIDE 64    /* g_a (16) then h_a (4) */
#define SWIN_MAX_DEPTH 8  /* blocks per stage */
#define SWIN_MAX_Q 64
#define SWIN_GA_STAGES 3
#define SWIN_GS_STAGES 4

typedef struct swin_conv {
    nn_tensor w;
    const float *b;
} swin_conv;

typedef struct swin_stage {
    int dim;
    nn_swin_block blk[SWIN_MAX_DEPTH];
} swin_stage;

typedef struct swin_state {
    nn_weights *weights;
    uint8_t hash[NECO_WEIGHTS_HASH_SIZE];
    int C, CZ, Q, depth, heads, window, has_mean;
    int dims[3]; /* widths of the three resolutions of g_a (g_s mirrors them) */
    swin_conv ga[4], ha[3], gs_in, gs_up[4];
    swin_stage ga_st[SWIN_GA_STAGES], gs_st[SWIN_GS_STAGES];
    const float *gain, *inv_gain; /* [Q][C] */
    codec_hyperprior hp;
} swin_state;

/* ---- Loading ------------------------------------------------------------------------------ */

static const nn_weight *find(const swin_state *s, const char *name)
{
    return nn_weights_find(s->weights, name);
}

static int extent0(const swin_state *s, const char *name)
{
    const nn_weight *w = find(s, name);
    return w && w->ndim >= 1 ? w->shape[0] : 0;
}

/* The expected tensors, with names kept in a pool that outlives the check. */
typedef struct spec_list {
    nn_weight_spec *spec;
    char (*names)[80];
    int n, cap;
} spec_list;

static void add(spec_list *l, const char *name, int d0, int d1, int d2, int d3)
{
    if (l->n >= l->cap)
        return;
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    nn_weight_spec sp = {l->names[l->n], NN_F32, 0, {d0, d1, d2, d3}};
    while (sp.ndim < 4 && sp.shape[sp.ndim])
        sp.ndim++;
    l->spec[l->n++] = sp;
}

static void add_conv(spec_list *l, const char *name, int cout, int cin, int k)
{
    char key[56];
    snprintf(key, sizeof key, "%s.weight", name);
    add(l, key, cout, cin, k, k);
    snprintf(key, sizeof key, "%s.bias", name);
    add(l, key, cout, 0, 0, 0);
}

static void add_block(const swin_state *s, spec_list *l, const char *p, int d)
{
    static const char *const vec[] = {"attn.q_bias", "attn.v_bias", "attn.proj.bias",
                                      "norm1.weight", "norm1.bias", "mlp.fc2.bias",
                                      "norm2.weight", "norm2.bias"};
    char key[80], probe[80];
    snprintf(probe, sizeof probe, "%s.mlp.fc1.weight", p);
    int hid = extent0(s, probe);
    snprintf(probe, sizeof probe, "%s.attn.cpb.fc1.weight", p);
    int cph = extent0(s, probe);
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", p, vec[i]);
        add(l, key, d, 0, 0, 0);
    }
    snprintf(key, sizeof key, "%s.attn.logit_scale", p);
    add(l, key, s->heads, 0, 0, 0);
    snprintf(key, sizeof key, "%s.attn.qkv.weight", p);
    add(l, key, 3 * d, d, 0, 0);
    snprintf(key, sizeof key, "%s.attn.proj.weight", p);
    add(l, key, d, d, 0, 0);
    snprintf(key, sizeof key, "%s.attn.cpb.fc1.weight", p);
    add(l, key, cph, 2, 0, 0);
    snprintf(key, sizeof key, "%s.attn.cpb.fc1.bias", p);
    add(l, key, cph, 0, 0, 0);
    snprintf(key, sizeof key, "%s.attn.cpb.fc2.weight", p);
    add(l, key, s->heads, cph, 0, 0);
    snprintf(key, sizeof key, "%s.mlp.fc1.weight", p);
    add(l, key, hid, d, 0, 0);
    snprintf(key, sizeof key, "%s.mlp.fc1.bias", p);
    add(l, key, hid, 0, 0, 0);
    snprintf(key, sizeof key, "%s.mlp.fc2.weight", p);
    add(l, key, d, hid, 0, 0);
}

static void add_stage(const swin_state *s, spec_list *l, const char *p, int d)
{
    char key[32];
    for (int b = 0; b < s->depth; b++) {
        snprintf(key, sizeof key, "%s.block%d", p, b);
        add_block(s, l, key, d);
    }
}

/* Every float tensor of ARCH.md "img-swin" with the shape the metadata implies (h_s and the
 * entropy tables are checked by codec_hp_load). */
static void swin_spec(const swin_state *s, spec_list *l)
{
    int C = s->C, CZ = s->CZ, Q = s->Q, d1 = s->dims[0], d2 = s->dims[1], d3 = s->dims[2];
    int hw = extent0(s, "h_a.conv0.weight");
    add_conv(l, "g_a.conv0", d1, 3, 5);
    add_stage(s, l, "g_a.stage0", d1);
    add_conv(l, "g_a.conv1", d2, d1, 3);
    add_stage(s, l, "g_a.stage1", d2);
    add_conv(l, "g_a.conv2", d3, d2, 3);
    add_stage(s, l, "g_a.stage2", d3);
    add_conv(l, "g_a.conv3", C, d3, 3);
    add(l, "gain", Q, C, 0, 0);
    add(l, "inv_gain", Q, C, 0, 0);
    add_conv(l, "h_a.conv0", hw, C, 3);
    add_conv(l, "h_a.conv1", hw, hw, 5);
    add_conv(l, "h_a.conv2", CZ, hw, 5);
    add_conv(l, "g_s.conv_in", d3, C, 3);
    add_stage(s, l, "g_s.stage0", d3);
    add_conv(l, "g_s.up0", 4 * d2, d3, 3);
    add_stage(s, l, "g_s.stage1", d2);
    add_conv(l, "g_s.up1", 4 * d1, d2, 3);
    add_stage(s, l, "g_s.stage2", d1);
    add_conv(l, "g_s.up2", 4 * d1, d1, 3);
    add_stage(s, l, "g_s.stage3", d1);
    add_conv(l, "g_s.up3", 12, d1, 3);
}

static void bind_conv(const swin_state *s, swin_conv *c, const char *name)
{
    char key[56];
    snprintf(key, sizeof key, "%s.weight", name);
    const nn_weight *w = find(s, key);
    c->w = nn_tensor_view(w->f32, 4, w->shape);
    snprintf(key, sizeof key, "%s.bias", name);
    c->b = find(s, key)->f32;
}

static const float *vec(const swin_state *s, const char *p, const char *what)
{
    char key[56];
    snprintf(key, sizeof key, "%s.%s", p, what);
    return find(s, key)->f32;
}

static void bind_stage(const swin_state *s, swin_stage *st, const char *name, int dim)
{
    st->dim = dim;
    for (int b = 0; b < s->depth; b++) {
        char p[32], key[80];
        snprintf(p, sizeof p, "%s.block%d", name, b);
        nn_swin_block *k = &st->blk[b];
        memset(k, 0, sizeof *k);
        k->dim = dim;
        k->heads = s->heads;
        k->window = s->window;
        /* odd blocks shift by half a window, whatever the map size (models_swin.py; run_stage) */
        k->shift = b % 2 ? s->window / 2 : 0;
        snprintf(key, sizeof key, "%s.mlp.fc1.weight", p);
        k->hidden = extent0(s, key);
        snprintf(key, sizeof key, "%s.attn.cpb.fc1.weight", p);
        k->cpb_hidden = extent0(s, key);
        k->qkv_w = vec(s, p, "attn.qkv.weight");
        k->q_bias = vec(s, p, "attn.q_bias");
        k->v_bias = vec(s, p, "attn.v_bias");
        k->logit_scale = vec(s, p, "attn.logit_scale");
        k->cpb_w1 = vec(s, p, "attn.cpb.fc1.weight");
        k->cpb_b1 = vec(s, p, "attn.cpb.fc1.bias");
        k->cpb_w2 = vec(s, p, "attn.cpb.fc2.weight");
        k->proj_w = vec(s, p, "attn.proj.weight");
        k->proj_b = vec(s, p, "attn.proj.bias");
        k->norm1_w = vec(s, p, "norm1.weight");
        k->norm1_b = vec(s, p, "norm1.bias");
        k->norm2_w = vec(s, p, "norm2.weight");
        k->norm2_b = vec(s, p, "norm2.bias");
        k->fc1_w = vec(s, p, "mlp.fc1.weight");
        k->fc1_b = vec(s, p, "mlp.fc1.bias");
        k->fc2_w = vec(s, p, "mlp.fc2.weight");
        k->fc2_b = vec(s, p, "mlp.fc2.bias");
    }
}

static void swin_unload(void *state)
{
    swin_state *s = state;
    if (!s)
        return;
    codec_hp_release(&s->hp);
    nn_weights_free(s->weights);
    free(s);
}

static neco_status swin_fail_load(swin_state *s, neco_status st)
{
    swin_unload(s);
    return st;
}

static neco_status swin_load(neco_context *ctx, const char *path, void **out)
{
    *out = NULL;
    swin_state *s = calloc(1, sizeof *s);
    if (!s)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    neco_status st = codec_load_weights(ctx, "img-swin", path, &s->weights, s->hash);
    if (st != NECO_OK) {
        free(s);
        return st;
    }
    const char *dims = nn_weights_metadata(s->weights, "dims");
    char tail;
    if (codec_meta_int(s->weights, "latent_channels", 1, 1024, &s->C) ||
        codec_meta_int(s->weights, "hyper_channels", 1, 1024, &s->CZ) ||
        codec_meta_int(s->weights, "quality_levels", 1, SWIN_MAX_Q, &s->Q) ||
        codec_meta_int(s->weights, "depth", 1, SWIN_MAX_DEPTH, &s->depth) ||
        codec_meta_int(s->weights, "heads", 1, 64, &s->heads) ||
        codec_meta_int(s->weights, "window", 2, 16, &s->window) || !dims ||
        sscanf(dims, "%d,%d,%d%c", &s->dims[0], &s->dims[1], &s->dims[2], &tail) != 3 ||
        s->dims[0] < 1 || s->dims[1] < 1 || s->dims[2] < 1 || s->dims[0] > 4096 ||
        s->dims[1] > 4096 || s->dims[2] > 4096 || s->dims[0] % s->heads ||
        s->dims[1] % s->heads || s->dims[2] % s->heads)
        return swin_fail_load(
            s,
            codec_fail(ctx, NECO_ERR_MODEL,
                       "model img-swin: %s: metadata (latent_channels, hyper_channels, "
                       "quality_levels, dims, depth, heads, window) missing or wrong",
                       path));
    const char *mean = nn_weights_metadata(s->weights, "hs_mean");
    s->has_mean = mean && strcmp(mean, "1") == 0;
    enum { CAP = 512 };
    spec_list l = {malloc(CAP * sizeof(nn_weight_spec)), malloc(CAP * sizeof *l.names), 0, CAP};
    if (!l.spec || !l.names) {
        free(l.spec);
        free(l.names);
        return swin_fail_load(s, codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory"));
    }
    swin_spec(s, &l);
    char err[200];
    int rc = l.n < CAP ? nn_weights_check(s->weights, l.spec, (size_t)l.n, err, sizeof err)
                       : NN_ERR_MISMATCH;
    if (l.n >= CAP)
        snprintf(err, sizeof err, "too many tensors for depth %d", s->depth);
    free(l.spec);
    free(l.names);
    if (rc != NN_OK)
        return swin_fail_load(
            s, codec_fail(ctx, NECO_ERR_MODEL, "model img-swin: %s: %s", path, err));
    static const char *const ga_conv[4] = {"g_a.conv0", "g_a.conv1", "g_a.conv2", "g_a.conv3"};
    static const char *const ha_conv[3] = {"h_a.conv0", "h_a.conv1", "h_a.conv2"};
    static const char *const gs_up[4] = {"g_s.up0", "g_s.up1", "g_s.up2", "g_s.up3"};
    for (int i = 0; i < 4; i++) {
        bind_conv(s, &s->ga[i], ga_conv[i]);
        bind_conv(s, &s->gs_up[i], gs_up[i]);
    }
    for (int i = 0; i < 3; i++)
        bind_conv(s, &s->ha[i], ha_conv[i]);
    bind_conv(s, &s->gs_in, "g_s.conv_in");
    const int gs_dims[SWIN_GS_STAGES] = {s->dims[2], s->dims[1], s->dims[0], s->dims[0]};
    for (int i = 0; i < SWIN_GA_STAGES; i++) {
        char name[24];
        snprintf(name, sizeof name, "g_a.stage%d", i);
        bind_stage(s, &s->ga_st[i], name, s->dims[i]);
    }
    for (int i = 0; i < SWIN_GS_STAGES; i++) {
        char name[24];
        snprintf(name, sizeof name, "g_s.stage%d", i);
        bind_stage(s, &s->gs_st[i], name, gs_dims[i]);
    }
    /* A block whose MLP or CPB width is zero was listed with a zero extent: refuse it. */
    for (int i = 0; i < SWIN_GA_STAGES + SWIN_GS_STAGES; i++) {
        const swin_stage *st_ = i < SWIN_GA_STAGES ? &s->ga_st[i] : &s->gs_st[i - SWIN_GA_STAGES];
        for (int b = 0; b < s->depth; b++)
            if (st_->blk[b].hidden < 1 || st_->blk[b].cpb_hidden < 1)
                return swin_fail_load(s,
                                      codec_fail(ctx, NECO_ERR_MODEL,
                                                 "model img-swin: %s: empty Swin MLP", path));
    }
    s->gain = find(s, "gain")->f32;
    s->inv_gain = find(s, "inv_gain")->f32;
    if ((st = codec_hp_load(ctx, "img-swin", path, s->weights, s->C, s->CZ, s->has_mean,
                            &s->hp)) != NECO_OK)
        return swin_fail_load(s, st);
    *out = s;
    return NECO_OK;
}

static const uint8_t *swin_hash(const void *state) { return ((const swin_state *)state)->hash; }

static int swin_levels(const void *state) { return ((const swin_state *)state)->Q; }

/* ---- Network ------------------------------------------------------------------------------ */

/* y = conv(x), kernel k (from the weights), stride, zero padding k / 2. y may not be x. */
static int conv(nn_context *nn, const swin_conv *c, const nn_tensor *x, int stride, nn_tensor *y)
{
    nn_conv_params p = nn_conv_default();
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = c->w.shape[2] / 2;
    return nn_conv2d(nn, x, &c->w, c->b, &p, y);
}

/* x = conv(x): the output replaces the input. */
static int conv_inplace(nn_context *nn, const swin_conv *c, nn_tensor *x, int stride)
{
    nn_tensor y = {0};
    int rc = conv(nn, c, x, stride, &y);
    nn_tensor_free(x);
    *x = y;
    return rc;
}

static int shuffle_inplace(nn_context *nn, nn_tensor *x)
{
    nn_tensor y = {0};
    int rc = nn_pixel_shuffle(nn, x, 2, &y);
    nn_tensor_free(x);
    *x = y;
    return rc;
}

/* A Swin stage on x [1, dim, h, w] in place. A map that is not a whole number of windows is
 * padded right and bottom with zeros for each block and cropped after it (ARCH.md "Swin-V2
 * block": the attention sees the zero tokens; the residual, norms and MLP act per position, so
 * running them on the padded map and cropping is the same). The blocks' work memory is the
 * backend context's (nn_context_work), kept from tile to tile and call to call. */
static int run_stage(nn_context *nn, const swin_state *s, const swin_stage *st, nn_tensor *x)
{
    int ws = s->window, c = x->shape[1], h = x->shape[2], w = x->shape[3];
    int hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws;
    if (hp == h && wp == w) {
        for (int b = 0; b < s->depth; b++) {
            int rc = nn_swin_block_forward_ex(nn, &st->blk[b], x, 1);
            if (rc)
                return rc;
        }
        return NN_OK;
    }
    nn_tensor t = {0};
    int rc = nn_tensor_alloc4(&t, 1, c, hp, wp);
    for (int b = 0; b < s->depth && !rc; b++) {
        memset(t.data, 0, nn_tensor_numel(&t) * sizeof(float));
        for (int k = 0; k < c; k++)
            for (int i = 0; i < h; i++)
                memcpy(t.data + ((size_t)k * hp + i) * wp, x->data + ((size_t)k * h + i) * w,
                       (size_t)w * sizeof(float));
        rc = nn_swin_block_forward_ex(nn, &st->blk[b], &t, 1);
        for (int k = 0; k < c && !rc; k++)
            for (int i = 0; i < h; i++)
                memcpy(x->data + ((size_t)k * h + i) * w, t.data + ((size_t)k * hp + i) * wp,
                       (size_t)w * sizeof(float));
    }
    nn_tensor_free(&t);
    return rc;
}

/* g_a then the gain of quality q: p = v - 127.5 [1, 3, H, W] -> y [1, C, H/16, W/16]. */
static int analysis(nn_context *nn, const swin_state *s, const nn_tensor *p, int q, nn_tensor *y)
{
    nn_tensor x = {0};
    int rc = conv(nn, &s->ga[0], p, 2, &x);
    for (int i = 0; i < SWIN_GA_STAGES && !rc; i++) {
        rc = run_stage(nn, s, &s->ga_st[i], &x);
        if (!rc)
            rc = i + 1 < SWIN_GA_STAGES ? conv_inplace(nn, &s->ga[i + 1], &x, 2)
                                        : conv(nn, &s->ga[i + 1], &x, 2, y);
    }
    if (!rc)
        rc = nn_channel_scale(nn, y, s->gain + (size_t)q * s->C, NULL);
    nn_tensor_free(&x);
    return rc;
}

static int hyper_analysis(nn_context *nn, const swin_state *s, const nn_tensor *y, nn_tensor *z)
{
    nn_tensor u = {0};
    int rc = conv(nn, &s->ha[0], y, 1, &u);
    if (!rc)
        rc = nn_activation(nn, NN_ACT_LEAKY_RELU, 0.1f, &u);
    if (!rc)
        rc = conv_inplace(nn, &s->ha[1], &u, 2);
    if (!rc)
        rc = nn_activation(nn, NN_ACT_LEAKY_RELU, 0.1f, &u);
    if (!rc)
        rc = conv(nn, &s->ha[2], &u, 2, z);
    nn_tensor_free(&u);
    return rc;
}

/* g_s for quality q: y_hat [1, C, h, w] (scaled in place) -> p' [1, 3, 16 h, 16 w]. */
static int synthesis(nn_context *nn, const swin_state *s, nn_tensor *u, int q, nn_tensor *out)
{
    nn_tensor x = {0};
    int rc = nn_channel_scale(nn, u, s->inv_gain + (size_t)q * s->C, NULL);
    if (!rc)
        rc = conv(nn, &s->gs_in, u, 1, &x);
    for (int i = 0; i < SWIN_GS_STAGES && !rc; i++) {
        rc = run_stage(nn, s, &s->gs_st[i], &x);
        if (!rc)
            rc = conv_inplace(nn, &s->gs_up[i], &x, 1);
        if (!rc)
            rc = shuffle_inplace(nn, &x);
    }
    if (!rc) {
        *out = x;
        return NN_OK;
    }
    nn_tensor_free(&x);
    return rc;
}

/* ---- Tiles -------------------------------------------------------------------------------- */

static uint32_t round_up(uint32_t v, uint32_t m) { return (v + m - 1) / m * m; }

static void swin_layout(neco_info *info)
{
    info->tile_width = SWIN_TILE;
    info->tile_height = SWIN_TILE;
    info->chunk_frames = 0;
}

static neco_status swin_encode_tile(neco_context *ctx, void *state, const neco_image *image,
                                    const neco_info *info, uint32_t index, bytebuf *out)
{
    const swin_state *s = state;
    neco_status st = codec_check_no_alpha(ctx, "img-swin", info);
    if (st != NECO_OK)
        return st;
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int hp = (int)round_up(h, SWIN_STRIDE), wp = (int)round_up(w, SWIN_STRIDE);
    nn_tensor p = {0}, y = {0}, z = {0};
    int rc = nn_tensor_alloc4(&p, 1, 3, hp, wp);
    if (!rc) {
        codec_tile_to_tensor(image, x0, y0, w, h, &p);
        rc = analysis(ctx->nn, s, &p, (int)info->quality - 1, &y);
    }
    nn_tensor_free(&p);
    if (!rc)
        rc = hyper_analysis(ctx->nn, s, &y, &z);
    if (!rc)
        rc = nn_context_sync(ctx->nn); /* y and z are read on the host next */
    st = rc ? codec_nn_fail(ctx, rc, index, "analysis")
            : codec_hp_encode(ctx, &s->hp, &y, &z, index, out);
    nn_tensor_free(&y);
    nn_tensor_free(&z);
    return st;
}

static void tile_geometry(const neco_info *info, uint32_t index, uint32_t *x0, uint32_t *y0,
                          uint32_t *w, uint32_t *h, int *hz, int *wz)
{
    codec_tile_rect(info, index, x0, y0, w, h);
    *hz = (int)round_up(*h, SWIN_STRIDE) / SWIN_STRIDE;
    *wz = (int)round_up(*w, SWIN_STRIDE) / SWIN_STRIDE;
}

static neco_status swin_decode_tile(neco_context *ctx, void *state, const neco_info *info,
                                    uint32_t index, const uint8_t *payload, size_t size,
                                    neco_image *image)
{
    const swin_state *s = state;
    if (codec_check_no_alpha(ctx, "img-swin", info) != NECO_OK)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    uint32_t x0, y0, w, h;
    int hz, wz;
    tile_geometry(info, index, &x0, &y0, &w, &h, &hz, &wz);
    if ((uint64_t)hz * wz * SWIN_STRIDE * SWIN_STRIDE > SWIN_MAX_TILE_PIXELS)
        return codec_fail(ctx, NECO_ERR_LIMIT,
                          "tile %u: %ux%u pixels; model img-swin decodes tiles of at most %u "
                          "pixels (padded to multiples of 64)",
                          index, w, h, SWIN_MAX_TILE_PIXELS);
    nn_tensor u = {0}, p = {0};
    neco_status st = codec_hp_decode_latent(ctx, &s->hp, index, payload, size, hz, wz, &u);
    if (st == NECO_OK) {
        int rc = synthesis(ctx->nn, s, &u, (int)info->quality - 1, &p);
        if (!rc)
            rc = nn_context_sync(ctx->nn); /* p is read on the host next */
        if (rc)
            st = codec_nn_fail(ctx, rc, index, "synthesis");
        else
            codec_tensor_to_tile(&p, x0, y0, w, h, image);
    }
    nn_tensor_free(&u);
    nn_tensor_free(&p);
    return st;
}

static neco_status swin_unit_symbols(neco_context *ctx, void *state, const neco_info *info,
                                     uint32_t index, const uint8_t *payload, size_t size,
                                     sha256_state *hash)
{
    const swin_state *s = state;
    uint32_t x0, y0, w, h;
    int hz, wz;
    tile_geometry(info, index, &x0, &y0, &w, &h, &hz, &wz);
    return codec_hp_hash_symbols(ctx, &s->hp, index, payload, size, hz, wz, hash);
}

neco_status img_swin_tile_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y,
                                  size_t *ny)
{
    return codec_hp_tile_symbols(ctx, &codec_model_img_swin, offsetof(swin_state, hp),
                                 SWIN_STRIDE, data, size, index, z, nz, y, ny);
}

const codec_model codec_model_img_swin = {
    .id = "img-swin",
    .description = "learned image codec for the best rate-distortion: conv + Swin-V2 "
                   "transformer stages + mean-scale hyperprior",
    .media = 1u << NECO_MEDIA_IMAGE,
    .weights_file = SWIN_FILE,
    .default_quality = 4,
    .load = swin_load,
    .unload = swin_unload,
    .hash = swin_hash,
    .levels = swin_levels,
    .layout = swin_layout,
    .encode_tile = swin_encode_tile,
    .decode_tile = swin_decode_tile,
    .unit_symbols = swin_unit_symbols,
};
