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

#include "container.h"
#include "img_wave.h"

#include "entropy/factorized.h"
#include "entropy/gaussian.h"
#include "entropy/rans.h"
#include "nets/intlayers.h"
#include "nets/layers.h"
#include "nets/lifting97.h"
#include "nets/safetensors.h"
#include "sha256.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAVE_FILE "img-wave.safetensors"
#define WAVE_TILE 1024   /* tile side; a multiple of the stride */
#define WAVE_STRIDE 16   /* g_a and h_a downsample by 16 in all */
#define WAVE_LEVELS 2    /* wavelet packet levels */
#define WAVE_NW 48       /* 3 colours x 4^2 subbands */
#define WAVE_MAX_BLOCKS 8 /* g_s residual blocks */
#define WAVE_HS_LAYERS 4  /* integer h_s: l0..l3 (l3 gives the scale index) */
#define WAVE_HS_MEAN 4    /* slot of the optional mean layer, on l3's input */
#define WAVE_MEAN_BITS 2  /* the mean is in units of 2^-2 (ARCH.md "Mean layer") */
#define WAVE_Z_CLAMP 255 /* h_s input range (ARCH.md) */
#define WAVE_MAX_Q 64

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
    nn_int_conv hs[WAVE_HS_LAYERS + 1];
    int hs_shuffle[WAVE_HS_LAYERS + 1];
    int32_t *hs_shift[WAVE_HS_LAYERS + 1]; /* per-channel copies of the layer's shift */
    neco_cdf_tables *z_tables, *y_tables;
    int num_scales;
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

/* The value of a one-element int32 tensor, or -1. */
static int32_t scalar(const wave_state *s, const char *name)
{
    const nn_weight *w = find(s, name);
    return w && w->dtype == NN_I32 && w->numel == 1 ? *(const int32_t *)w->ints : -1;
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
#define I(name, dt, ...) spec[n++] = (nn_weight_spec){name, dt, 0, {__VA_ARGS__}}
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
    /* h_s: 3x3 integer convs; the input of each is the output of the previous after its pixel
     * shuffle, l3 ends with C scale indices and the mean layer reads l3's input. */
    int cin = CZ, cin_l3 = 0;
    for (int l = 0; l < WAVE_HS_LAYERS + s->has_mean; l++) {
        char base[16];
        if (l == WAVE_HS_MEAN)
            snprintf(base, sizeof base, "h_s.mean");
        else
            snprintf(base, sizeof base, "h_s.l%d", l);
        const char *weight = N("%s.%s", base, "weight"), *shuffle = N("%s.%s", base, "shuffle");
        int cout = l >= WAVE_HS_LAYERS - 1 ? C : extent0(s, weight);
        if (l == WAVE_HS_LAYERS - 1)
            cin_l3 = cin;
        if (l == WAVE_HS_MEAN)
            cin = cin_l3;
        I(weight, NN_I8, cout, cin, 3, 3);
        I(N("%s.%s", base, "bias"), NN_I32, cout);
        I(N("%s.%s", base, "mult"), NN_I32, cout);
        I(N("%s.%s", base, "shift"), NN_I32, 1);
        I(N("%s.%s", base, "out_max"), NN_I32, 1);
        I(shuffle, NN_I32, 1);
        if (l == WAVE_HS_MEAN)
            I(N("%s.%s", base, "out_min"), NN_I32, 1);
        int r = scalar(s, shuffle);
        cin = r >= 1 && r <= 2 && cout % (r * r) == 0 ? cout / (r * r) : -1;
    }
    I("z.cdf_length", NN_I32, CZ);
    I("z.offset", NN_I32, CZ);
#undef F
#undef I
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
    for (int l = 0; l <= WAVE_HS_LAYERS; l++)
        free(s->hs_shift[l]);
    neco_cdf_tables_destroy(s->z_tables);
    neco_cdf_tables_destroy(s->y_tables);
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
    for (int l = 0; l < WAVE_HS_LAYERS + s->has_mean; l++) {
        char base[16];
        if (l == WAVE_HS_MEAN)
            snprintf(base, sizeof base, "h_s.mean");
        else
            snprintf(base, sizeof base, "h_s.l%d", l);
        nn_int_conv *c = &s->hs[l];
        snprintf(name, sizeof name, "%s.weight", base);
        const nn_weight *w = find(s, name);
        c->cout = w->shape[0];
        c->cin = w->shape[1];
        c->kh = c->kw = 3;
        c->p = nn_conv_default();
        c->p.pad_h = c->p.pad_w = 1;
        c->w8 = w->ints;
        snprintf(name, sizeof name, "%s.bias", base);
        c->bias = find(s, name)->ints;
        snprintf(name, sizeof name, "%s.mult", base);
        c->mult = find(s, name)->ints;
        snprintf(name, sizeof name, "%s.shift", base);
        int32_t shift = scalar(s, name);
        snprintf(name, sizeof name, "%s.out_max", base);
        c->out_max = scalar(s, name);
        snprintf(name, sizeof name, "%s.out_min", base);
        c->out_min = l == WAVE_HS_MEAN ? scalar(s, name) : 0;
        snprintf(name, sizeof name, "%s.shuffle", base);
        s->hs_shuffle[l] = scalar(s, name);
        s->hs_shift[l] = malloc(sizeof(int32_t) * (size_t)c->cout);
        if (!s->hs_shift[l]) {
            wave_unload(s);
            return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        }
        for (int o = 0; o < c->cout; o++)
            s->hs_shift[l][o] = shift;
        c->shift = s->hs_shift[l];
        int r = s->hs_shuffle[l];
        if (nn_int_conv_check(c) != NN_OK || r < 1 || r > 2 || (l >= WAVE_HS_LAYERS - 1 && r != 1)) {
            wave_unload(s);
            return codec_fail(ctx, NECO_ERR_MODEL, "model img-wave: %s: h_s layer %s invalid",
                              path, base);
        }
    }
    /* h_s must end at the stride of y (two shuffles of 2 from z at 1/16 to y at 1/4) and in
     * scale indices of the table. */
    const nn_weight *scales = find(s, "y.scales_q16");
    const nn_weight *cdf = find(s, "z.cdf");
    if (s->hs_shuffle[0] * s->hs_shuffle[1] * s->hs_shuffle[2] * s->hs_shuffle[3] != 4 ||
        !scales || scales->dtype != NN_I32 || scales->ndim != 1 || !cdf ||
        cdf->dtype != NN_I32 || cdf->ndim != 1 ||
        s->hs[WAVE_HS_LAYERS - 1].out_max >= scales->shape[0]) {
        wave_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL, "model img-wave: %s: entropy tables invalid",
                          path);
    }
    s->num_scales = scales->shape[0];
    int64_t total = 0;
    const int32_t *lengths = find(s, "z.cdf_length")->ints;
    for (int c = 0; c < s->CZ; c++)
        total += lengths[c] > 0 ? lengths[c] : 0;
    if (total != cdf->shape[0] ||
        neco_factorized_tables_create(&s->z_tables, NECO_CDF_PRECISION, s->CZ, cdf->ints, lengths,
                                      find(s, "z.offset")->ints) != NECO_ENTROPY_OK ||
        neco_gc_tables_create(&s->y_tables, NECO_CDF_PRECISION, scales->ints,
                              s->num_scales) != NECO_ENTROPY_OK) {
        wave_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL, "model img-wave: %s: entropy tables invalid",
                          path);
    }
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

/* The integer h_s (ARCH.md, BITSTREAM.md 3.3): z_hat [CZ, hz, wz] -> scale indices
 * [C, 4 hz, 4 wz]. idx must hold C * 16 hz wz values. */
static int hyper_synthesis(const wave_state *s, const int32_t *z_hat, int hz, int wz,
                           int32_t *idx, int32_t *mu)
{
    /* Buffer size: the largest layer output (before its pixel shuffle). */
    size_t cap = (size_t)s->CZ * hz * wz;
    int res = 1;
    for (int l = 0; l < WAVE_HS_LAYERS + s->has_mean; l++) {
        size_t out = (size_t)s->hs[l].cout * (res * (size_t)hz) * (res * (size_t)wz);
        cap = out > cap ? out : cap;
        if (l < WAVE_HS_LAYERS - 1)
            res *= s->hs_shuffle[l];
    }
    int16_t *a = malloc(sizeof(int16_t) * cap), *b = malloc(sizeof(int16_t) * cap);
    if (!a || !b) {
        free(a);
        free(b);
        return NN_ERR_NOMEM;
    }
    nn_itensor x = {a, 1, s->CZ, hz, wz};
    for (size_t i = 0; i < (size_t)s->CZ * hz * wz; i++) {
        int32_t v = z_hat[i];
        a[i] = (int16_t)(v < -WAVE_Z_CLAMP ? -WAVE_Z_CLAMP : v > WAVE_Z_CLAMP ? WAVE_Z_CLAMP : v);
    }
    int rc = NN_OK;
    for (int l = 0; l < WAVE_HS_LAYERS - 1 && rc == NN_OK; l++) {
        nn_itensor y = {x.data == a ? b : a, 0, 0, 0, 0};
        rc = nn_int_conv2d(&s->hs[l], &x, &y);
        if (rc == NN_OK && s->hs_shuffle[l] > 1) {
            nn_itensor sh = {x.data, 0, 0, 0, 0}; /* x's buffer is free again */
            rc = nn_int_pixel_shuffle(&y, s->hs_shuffle[l], &sh);
            y = sh;
        }
        x = y;
    }
    /* l3 (scale indices) and the mean layer both read l2's output. */
    nn_itensor out = {x.data == a ? b : a, 0, 0, 0, 0};
    if (rc == NN_OK)
        rc = nn_int_conv2d(&s->hs[WAVE_HS_LAYERS - 1], &x, &out);
    size_t n = (size_t)s->C * x.h * x.w;
    if (rc == NN_OK)
        for (size_t i = 0; i < n; i++)
            idx[i] = out.data[i];
    if (rc == NN_OK && s->has_mean)
        rc = nn_int_conv2d(&s->hs[WAVE_HS_MEAN], &x, &out);
    if (rc == NN_OK)
        for (size_t i = 0; i < n; i++)
            mu[i] = s->has_mean ? out.data[i] : 0;
    free(a);
    free(b);
    return rc;
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
            rc = conv(nn, &s->gs_pw1[b], &t, 1, 0, 1, &t2);
        if (!rc)
            rc = nn_activation(nn, NN_ACT_GELU, 0, &t2);
        if (!rc)
            rc = conv(nn, &s->gs_pw2[b], &t2, 1, 0, 1, &r);
        if (!rc)
            rc = nn_add(nn, &h, &r, &h);
    }
    if (!rc)
        rc = conv(nn, &s->gs_lin, u, 1, 0, 1, out);
    if (!rc)
        rc = conv(nn, &s->gs_out, &h, 1, 0, 1, &r);
    if (!rc)
        rc = nn_add(nn, out, &r, out);
    nn_tensor_free(&h);
    nn_tensor_free(&t);
    nn_tensor_free(&t2);
    nn_tensor_free(&r);
    return rc;
}

/* ---- Pixels ------------------------------------------------------------------------------- */

/* The 8-bit value of sample i of an image (16-bit samples are rounded to 8 bits). */
static float sample8(const neco_image *img, size_t i)
{
    if (img->bit_depth == 8)
        return ((const uint8_t *)img->data)[i];
    return (float)((((const uint16_t *)img->data)[i] * 2u + 257u) / 514u);
}

/* The tile's pixels as p = v - 127.5 in a [1, 3, hp, wp] tensor, padded right and bottom by
 * edge replication (ARCH.md "Image in, padding"); gray is replicated to RGB. */
static void tile_to_tensor(const neco_image *img, uint32_t x0, uint32_t y0, uint32_t w,
                           uint32_t h, nn_tensor *p)
{
    int hp = p->shape[2], wp = p->shape[3];
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < hp; y++) {
            uint32_t sy = y0 + (y < (int)h ? (uint32_t)y : h - 1);
            float *row = p->data + ((size_t)c * hp + y) * wp;
            for (int x = 0; x < wp; x++) {
                uint32_t sx = x0 + (x < (int)w ? (uint32_t)x : w - 1);
                size_t i = ((size_t)sy * img->width + sx) * img->channels +
                           (img->channels >= 3 ? (uint32_t)c : 0);
                row[x] = sample8(img, i) - 127.5f;
            }
        }
}

static uint8_t to8(float v)
{
    float r = nearbyintf(v + 127.5f);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static void tensor_to_tile(const nn_tensor *p, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                           neco_image *img)
{
    int hp = p->shape[2], wp = p->shape[3];
    size_t plane = (size_t)hp * wp;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            size_t at = (size_t)y * wp + x;
            uint8_t rgb[3] = {to8(p->data[at]), to8(p->data[plane + at]),
                              to8(p->data[2 * plane + at])};
            size_t o = ((size_t)(y0 + y) * img->width + x0 + x) * img->channels;
            if (img->channels >= 3) {
                for (int c = 0; c < 3; c++)
                    if (img->bit_depth == 8)
                        ((uint8_t *)img->data)[o + c] = rgb[c];
                    else
                        ((uint16_t *)img->data)[o + c] = (uint16_t)(rgb[c] * 257u);
            } else {
                /* gray: the mean of the three decoded channels */
                unsigned g = (rgb[0] + rgb[1] + rgb[2] + 1u) / 3u;
                if (img->bit_depth == 8)
                    ((uint8_t *)img->data)[o] = (uint8_t)g;
                else
                    ((uint16_t *)img->data)[o] = (uint16_t)(g * 257u);
            }
        }
}

static uint32_t round_up(uint32_t v, uint32_t m) { return (v + m - 1) / m * m; }

static neco_status nn_fail(neco_context *ctx, int rc, uint32_t index, const char *what)
{
    if (rc == NN_ERR_NOMEM)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory (%s, tile %u)", what, index);
    return codec_fail(ctx, NECO_ERR_BACKEND, "%s failed in tile %u (nets error %d)", what, index,
                      rc);
}

/* ---- Tiles -------------------------------------------------------------------------------- */

static void wave_layout(neco_info *info)
{
    info->tile_width = WAVE_TILE;
    info->tile_height = WAVE_TILE;
    info->chunk_frames = 0;
}

static neco_status wave_check_image(neco_context *ctx, const neco_info *info)
{
    if (info->channels == 2 || info->channels == 4)
        return codec_fail(ctx, NECO_ERR_UNSUPPORTED,
                          "model img-wave codes RGB and gray images; alpha channels are not "
                          "supported (use --model raw)");
    return NECO_OK;
}

static neco_status wave_encode_tile(neco_context *ctx, void *state, const neco_image *image,
                                    const neco_info *info, uint32_t index, bytebuf *out)
{
    const wave_state *s = state;
    neco_status st = wave_check_image(ctx, info);
    if (st != NECO_OK)
        return st;
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int hp = (int)round_up(h, WAVE_STRIDE), wp = (int)round_up(w, WAVE_STRIDE);
    int q = (int)info->quality - 1;
    nn_tensor p = {0}, wav = {0}, y = {0}, z = {0};
    int32_t *zq = NULL, *yq = NULL, *idx = NULL, *zi = NULL, *mu = NULL;
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    int rc = nn_tensor_alloc4(&p, 1, 3, hp, wp);
    if (!rc) {
        tile_to_tensor(image, x0, y0, w, h, &p);
        rc = nn_lifting97_forward(&p, WAVE_LEVELS, &wav);
    }
    if (!rc)
        rc = analysis(ctx->nn, s, &wav, q, &y);
    if (!rc)
        rc = hyper_analysis(ctx->nn, s, &y, &z);
    if (rc) {
        st = nn_fail(ctx, rc, index, "analysis");
        goto done;
    }
    size_t ny = nn_tensor_numel(&y), nz = nn_tensor_numel(&z);
    int hz = z.shape[2], wz = z.shape[3];
    zq = malloc(sizeof(int32_t) * nz);
    zi = malloc(sizeof(int32_t) * nz);
    yq = malloc(sizeof(int32_t) * ny);
    idx = malloc(sizeof(int32_t) * ny);
    mu = malloc(sizeof(int32_t) * ny);
    if (!zq || !zi || !yq || !idx || !mu) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    /* Rounding of z and of y's residual is the encoder's choice: z to nearest, ties to even
     * (torch.round), the residual floor(y - mean + 1/2) (ARCH.md); values beyond the int32 range
     * are clamped. */
    for (size_t i = 0; i < nz; i++) {
        float v = nearbyintf(z.data[i]);
        zq[i] = v > 1e9f ? 1000000000 : v < -1e9f ? -1000000000 : (int32_t)v;
        zi[i] = (int32_t)(i / ((size_t)hz * wz));
    }
    if ((rc = hyper_synthesis(s, zq, hz, wz, idx, mu)) != NN_OK) {
        st = nn_fail(ctx, rc, index, "h_s");
        goto done;
    }
    for (size_t i = 0; i < ny; i++) {
        float v = floorf(y.data[i] - (float)mu[i] / (1 << WAVE_MEAN_BITS) + 0.5f);
        yq[i] = v > 1e9f ? 1000000000 : v < -1e9f ? -1000000000 : (int32_t)v;
    }
    if (neco_rans_encode_with_indexes(&enc, s->z_tables, zq, zi, nz) != NECO_ENTROPY_OK ||
        neco_rans_encode_with_indexes(&enc, s->y_tables, yq, idx, ny) != NECO_ENTROPY_OK) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "entropy coding failed in tile %u", index);
        goto done;
    }
    st = codec_flush_rans(ctx, &enc, out);
done:
    neco_rans_encoder_release(&enc);
    free(zq);
    free(zi);
    free(yq);
    free(idx);
    free(mu);
    nn_tensor_free(&p);
    nn_tensor_free(&wav);
    nn_tensor_free(&y);
    nn_tensor_free(&z);
    return st;
}

/* Entropy-decodes a tile's payload: z_hat [CZ, hz, wz], then, with the scale indices idx and
 * means mu (quarter units) from the integer h_s, the residuals of y [C, 4 hz, 4 wz], so that
 * y_hat = yq + mu / 4 (arrays allocated by the caller). */
static neco_status wave_decode_symbols(neco_context *ctx, const wave_state *s, uint32_t index,
                                       const uint8_t *payload, size_t size, int hz, int wz,
                                       int32_t *zq, int32_t *yq, int32_t *idx, int32_t *mu)
{
    size_t nz = (size_t)s->CZ * hz * wz, ny = (size_t)s->C * 16 * hz * wz;
    int32_t *zi = malloc(sizeof(int32_t) * nz);
    if (!zi)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < nz; i++)
        zi[i] = (int32_t)(i / ((size_t)hz * wz));
    neco_rans_decoder dec;
    neco_status st = NECO_OK;
    int rc;
    if (neco_rans_decoder_init(&dec, payload, size) != NECO_ENTROPY_OK ||
        neco_rans_decode_with_indexes(&dec, s->z_tables, zi, nz, zq) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "tile %u: corrupt entropy-coded data", index);
    else if ((rc = hyper_synthesis(s, zq, hz, wz, idx, mu)) != NN_OK)
        st = nn_fail(ctx, rc, index, "h_s");
    else if (neco_rans_decode_with_indexes(&dec, s->y_tables, idx, ny, yq) != NECO_ENTROPY_OK ||
             neco_rans_decoder_finish(&dec) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "tile %u: corrupt entropy-coded data", index);
    free(zi);
    return st;
}

static neco_status wave_decode_tile(neco_context *ctx, void *state, const neco_info *info,
                                    uint32_t index, const uint8_t *payload, size_t size,
                                    neco_image *image)
{
    const wave_state *s = state;
    if (wave_check_image(ctx, info) != NECO_OK)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int hp = (int)round_up(h, WAVE_STRIDE), wp = (int)round_up(w, WAVE_STRIDE);
    int hy = hp / 4, wy = wp / 4, hz = hp / WAVE_STRIDE, wz = wp / WAVE_STRIDE;
    size_t ny = (size_t)s->C * hy * wy, nz = (size_t)s->CZ * hz * wz;
    int q = (int)info->quality - 1;
    nn_tensor u = {0}, wav = {0}, p = {0};
    int32_t *zq = malloc(sizeof(int32_t) * nz), *yq = malloc(sizeof(int32_t) * ny);
    int32_t *idx = malloc(sizeof(int32_t) * ny), *mu = malloc(sizeof(int32_t) * ny);
    neco_status st = NECO_OK;
    int rc;
    if (!zq || !yq || !idx || !mu) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    st = wave_decode_symbols(ctx, s, index, payload, size, hz, wz, zq, yq, idx, mu);
    if (st != NECO_OK)
        goto done;
    if ((rc = nn_tensor_alloc4(&u, 1, s->C, hy, wy)) != NN_OK) {
        st = nn_fail(ctx, rc, index, "synthesis");
        goto done;
    }
    /* y_hat = residual + mean, exact in float (ARCH.md, BITSTREAM.md 3.1). */
    for (size_t i = 0; i < ny; i++)
        u.data[i] = (float)((int64_t)yq[i] * (1 << WAVE_MEAN_BITS) + mu[i]) / (1 << WAVE_MEAN_BITS);
    rc = synthesis(ctx->nn, s, &u, q, &wav);
    if (!rc)
        rc = nn_lifting97_inverse(&wav, WAVE_LEVELS, &p);
    if (rc) {
        st = nn_fail(ctx, rc, index, "synthesis");
        goto done;
    }
    tensor_to_tile(&p, x0, y0, w, h, image);
done:
    free(zq);
    free(yq);
    free(idx);
    free(mu);
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
    size_t nz = (size_t)s->CZ * hz * wz, ny = (size_t)s->C * 16 * hz * wz;
    int32_t *zq = malloc(sizeof(int32_t) * nz), *yq = malloc(sizeof(int32_t) * ny);
    int32_t *idx = malloc(sizeof(int32_t) * ny), *mu = malloc(sizeof(int32_t) * ny);
    neco_status st = !zq || !yq || !idx || !mu
                         ? codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory")
                         : wave_decode_symbols(ctx, s, index, payload, size, hz, wz, zq, yq, idx,
                                               mu);
    for (size_t i = 0; st == NECO_OK && i < nz + ny; i++) {
        uint8_t le[4];
        store_u32(le, (uint32_t)(i < nz ? zq[i] : yq[i - nz]));
        sha256_update(hash, le, 4);
    }
    free(zq);
    free(yq);
    free(idx);
    free(mu);
    return st;
}

neco_status img_wave_tile_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y,
                                  size_t *ny)
{
    *z = *y = NULL;
    neco_info info;
    neco_status st = neco_read_info(ctx, data, size, &info);
    if (st != NECO_OK)
        return st;
    if (strcmp(info.model, "img-wave") != 0 || index >= info.units)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "not an img-wave stream or no tile %u",
                          index);
    void *state;
    if ((st = codec_model_state(ctx, &codec_model_img_wave, &state)) != NECO_OK)
        return st;
    const wave_state *s = state;
    size_t pos = info.header_size;
    const uint8_t *payload = NULL;
    size_t len = 0;
    for (uint32_t i = 0; i <= index && st == NECO_OK; i++)
        st = container_next_unit(ctx, &info, data, size, &pos, i, &payload, &len);
    if (st != NECO_OK)
        return st;
    uint32_t x0, y0, w, h;
    codec_tile_rect(&info, index, &x0, &y0, &w, &h);
    int hz = (int)round_up(h, WAVE_STRIDE) / WAVE_STRIDE, wz = (int)round_up(w, WAVE_STRIDE) / WAVE_STRIDE;
    *nz = (size_t)s->CZ * hz * wz;
    *ny = (size_t)s->C * 16 * hz * wz;
    *z = malloc(sizeof(int32_t) * *nz);
    *y = malloc(sizeof(int32_t) * *ny);
    int32_t *idx = malloc(sizeof(int32_t) * *ny), *mu = malloc(sizeof(int32_t) * *ny);
    if (!*z || !*y || !idx || !mu)
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    else
        st = wave_decode_symbols(ctx, s, index, payload, len, hz, wz, *z, *y, idx, mu);
    free(idx);
    free(mu);
    if (st != NECO_OK) {
        free(*z);
        free(*y);
        *z = *y = NULL;
    }
    return st;
}

const codec_model codec_model_img_wave = {
    .id = "img-wave",
    .description = "fast learned image codec: wavelet + light conv autoencoder + hyperprior",
    .media = 1u << NECO_MEDIA_IMAGE,
    .weights_file = WAVE_FILE,
    .default_quality = 4,
    .load = wave_load,
    .unload = wave_unload,
    .hash = wave_hash,
    .levels = wave_levels,
    .layout = wave_layout,
    .encode_tile = wave_encode_tile,
    .decode_tile = wave_decode_tile,
    .unit_symbols = wave_unit_symbols,
};
