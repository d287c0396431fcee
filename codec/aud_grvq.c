/* aud-grvq: the low-rate learned speech model (train/ARCH_AUDIO.md "aud-grvq", the contract with
 * the trained weights), after HiFi-Codec (Yang et al. 2023): a 4-level CDF 9/7 wavelet packet
 * (16 subbands at 1 kHz) -> strided conv encoder to 50 latent frames per second -> group-residual
 * VQ (2 groups x 8 residual stages of 256 codewords; quality level q uses q + 2 stages) -> index
 * coding with one static table per codebook (BITSTREAM.md 2.5) -> conv decoder with sub-pixel
 * upsampling and Snake activations -> inverse wavelet. 16 kHz; other rates are resampled with the
 * filter of BITSTREAM.md 3.2 (shared with aud-wave, codec/audio.c). Stereo is mid/side.
 *
 * Chunks (BITSTREAM.md 3.4): chunk k codes the latent frames that cover its samples plus
 * `margin_frames` (weights metadata) frames on each side. The encoder computes them from a
 * window with GR_ENC_CONTEXT more frames of audio on each side, so they are the latents of the
 * whole signal; the margin covers the decoder's receptive field (and the postfilter's reach), so
 * the decoded samples of a chunk are those of the whole signal's decoding (seamless chunks;
 * tests/test_aud_grvq.c). */
#include "models.h"

#include "aud_grvq.h"
#include "audio.h"
#include "container.h"

#include "entropy/rans.h"
#include "entropy/vq.h"
#include "nets/layers.h"
#include "nets/lifting97_1d.h"
#include "nets/safetensors.h"
#include "nets/vq.h"
#include "sha256.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GR_LEVELS 4 /* wavelet packet levels */
#define GR_NW 16    /* subbands */
#define GR_HOP 320  /* samples per latent frame */
#define GR_DIM 128  /* latent channels */
#define GR_GROUPS 2
#define GR_GDIM (GR_DIM / GR_GROUPS)
#define GR_STAGES 8
#define GR_CODES 256
#define GR_MIN_STAGES 2
#define GR_Q (GR_STAGES - GR_MIN_STAGES + 1)
#define GR_CHUNK 131072 /* frames per chunk, at the stream's rate */
/* The decoder's receptive field on each side, in 1 kHz samples (3.9 latent frames), plus PF_RF
 * with the postfilter: the weights' margin_frames must cover it. */
#define GR_RF_BASE 78
#define GR_RF_PER_FRAME 20
/* The formant postfilter (ARCH_AUDIO.md "Postfilter"): blocks of PF_HOP samples, LPC of order
 * PF_ORDER on PF_WIN samples from PF_HOP before the block, PF_TAPS-tap FIR per block. Its reach,
 * PF_WIN - PF_HOP - 1 = 319 samples each side, is one latent frame (20 samples at 1 kHz). */
#define PF_HOP 160
#define PF_WIN 480
#define PF_ORDER 16
#define PF_TAPS 64
#define PF_RF 20
#define GR_ENC_CONTEXT 6 /* more frames of audio the encoder reads on each side (non-normative) */
#define GR_MAX_CHANNELS 64
#define GR_E0 64
#define GR_E1 128
#define GR_E2 256
#define GR_D0 256
#define GR_D1 128
#define GR_D2 64

typedef struct gr_conv {
    nn_tensor w;
    const float *b;
} gr_conv;

typedef struct gr_block {
    gr_conv conv, pw;
    const float *act1, *act2; /* Snake alphas (decoder blocks only) */
} gr_block;

typedef struct gr_state {
    const char *id; /* aud-grvq or aud-grvq-24k: the same network and bitstream */
    uint32_t rate;  /* 16000 or 24000 Hz: 50 or 75 latent frames per second */
    nn_weights *weights;
    uint8_t hash[NECO_WEIGHTS_HASH_SIZE];
    gr_conv enc_in, enc_d1, enc_d2, enc_out, dec_in, dec_u1, dec_u2, dec_out;
    gr_block enc_b[3], dec_b[4];
    int margin; /* coded latent frames on each side of a chunk (metadata margin_frames) */
    int pf;     /* formant postfilter on (metadata postfilter "g_n,g_d,mu") */
    double pf_gn, pf_gd, pf_mu;
    const float *dec_act;
    const float *codebook;   /* [G][S][K][D/G] */
    neco_cdf_tables *tables; /* one per codebook g S + s */
} gr_state;

/* ---- Loading ------------------------------------------------------------------------------ */

static void bind_conv(const gr_state *s, gr_conv *c, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s.weight", name);
    const nn_weight *w = nn_weights_find(s->weights, key);
    c->w = nn_tensor_view(w->f32, 3, w->shape);
    snprintf(key, sizeof key, "%s.bias", name);
    c->b = nn_weights_find(s->weights, key)->f32;
}

static const float *find_f32(const gr_state *s, const char *name)
{
    return nn_weights_find(s->weights, name)->f32;
}

/* The tensors of ARCH_AUDIO.md "aud-grvq", checked by name, shape and float type (F16 or F32 in
 * the file) before use. */
static int gr_spec(nn_weight_spec *spec, char names[][40])
{
    int n = 0;
#define ADD(type, ...)                                                                             \
    do {                                                                                           \
        spec[n] = (nn_weight_spec){names[n], type, 0, {__VA_ARGS__}};                              \
        while (spec[n].ndim < NN_WEIGHT_MAX_DIMS && spec[n].shape[spec[n].ndim])                   \
            spec[n].ndim++;                                                                        \
        n++;                                                                                       \
    } while (0)
#define CONV(name, o, i, k)                                                                        \
    do {                                                                                           \
        snprintf(names[n], 40, "%s.weight", name);                                                 \
        ADD(NN_F32, o, i, k);                                                                      \
        snprintf(names[n], 40, "%s.bias", name);                                                   \
        ADD(NN_F32, o);                                                                            \
    } while (0)
#define VEC(name, c)                                                                               \
    do {                                                                                           \
        snprintf(names[n], 40, "%s", name);                                                        \
        ADD(NN_F32, c);                                                                            \
    } while (0)
    static const int enc_w[3] = {GR_E0, GR_E1, GR_E2}, dec_w[4] = {GR_D0, GR_D1, GR_D2, GR_D2};
    char name[32];
    CONV("enc_in", GR_E0, GR_NW, 7);
    CONV("enc_d1", GR_E1, GR_E0, 8);
    CONV("enc_d2", GR_E2, GR_E1, 15);
    CONV("enc_out", GR_DIM, GR_E2, 3);
    for (int b = 0; b < 3; b++) {
        snprintf(name, sizeof name, "enc_b%d.conv", b);
        CONV(name, enc_w[b], enc_w[b], 3);
        snprintf(name, sizeof name, "enc_b%d.pw", b);
        CONV(name, enc_w[b], enc_w[b], 1);
    }
    CONV("dec_in", GR_D0, GR_DIM, 3);
    CONV("dec_u1", GR_D1 * 5, GR_D0, 3);
    CONV("dec_u2", GR_D2 * 4, GR_D1, 3);
    CONV("dec_out", GR_NW, GR_D2, 7);
    VEC("dec_act.alpha", GR_D2);
    for (int b = 0; b < 4; b++) {
        snprintf(name, sizeof name, "dec_b%d.conv", b);
        CONV(name, dec_w[b], dec_w[b], 3);
        snprintf(name, sizeof name, "dec_b%d.pw", b);
        CONV(name, dec_w[b], dec_w[b], 1);
        snprintf(name, sizeof name, "dec_b%d.act1.alpha", b);
        VEC(name, dec_w[b]);
        snprintf(name, sizeof name, "dec_b%d.act2.alpha", b);
        VEC(name, dec_w[b]);
    }
    snprintf(names[n], 40, "vq.codebook");
    ADD(NN_F32, GR_GROUPS, GR_STAGES, GR_CODES, GR_GDIM);
    snprintf(names[n], 40, "vq.counts");
    ADD(NN_I32, GR_GROUPS * GR_STAGES, GR_CODES);
#undef ADD
#undef CONV
#undef VEC
    return n;
}

/* Metadata postfilter: absent or "" (off), or "g_n,g_d,mu" with 0 <= g_n, g_d < 1, |mu| < 1.
 * 0 (off), 1 (on) or -1 if malformed. */
static int parse_postfilter(const char *v, double *gn, double *gd, double *mu)
{
    if (!v || !*v) return 0;
    double p[3];
    for (int i = 0; i < 3; i++) {
        char *end;
        p[i] = strtod(v, &end);
        if (end == v || !(p[i] > -1.0 && p[i] < 1.0) || *end != (i < 2 ? ',' : '\0')) return -1;
        v = end + 1;
    }
    if (p[0] < 0.0 || p[1] < 0.0) return -1;
    *gn = p[0];
    *gd = p[1];
    *mu = p[2];
    return 1;
}

static void gr_unload(void *state)
{
    gr_state *s = state;
    if (!s) return;
    neco_cdf_tables_destroy(s->tables);
    nn_weights_free(s->weights);
    free(s);
}

static neco_status gr_load_as(neco_context *ctx, const char *id, uint32_t rate, const char *path,
                              void **out)
{
    *out = NULL;
    gr_state *s = calloc(1, sizeof *s);
    if (!s) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    s->id = id;
    s->rate = rate;
    neco_status st = codec_load_weights(ctx, id, path, &s->weights, s->hash);
    if (st != NECO_OK) {
        free(s);
        return st;
    }
    int meta_rate = 0, hop = 0, groups = 0, stages = 0, codes = 0, min_stages = 0, levels = 0;
    if (codec_meta_int(s->weights, "sample_rate", 1, 1000000, &meta_rate) ||
        (uint32_t)meta_rate != s->rate || codec_meta_int(s->weights, "hop", 1, 1 << 20, &hop) ||
        hop != GR_HOP || codec_meta_int(s->weights, "groups", 1, 64, &groups) ||
        groups != GR_GROUPS || codec_meta_int(s->weights, "stages", 1, 64, &stages) ||
        stages != GR_STAGES || codec_meta_int(s->weights, "codebook_size", 1, 1 << 20, &codes) ||
        codes != GR_CODES || codec_meta_int(s->weights, "min_stages", 1, 64, &min_stages) ||
        min_stages != GR_MIN_STAGES ||
        codec_meta_int(s->weights, "wavelet_levels", 1, 16, &levels) || levels != GR_LEVELS) {
        gr_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "model %s: %s: metadata (sample_rate %u, hop 320, groups 2, stages 8, "
                          "codebook_size 256, min_stages 2, wavelet_levels 4) missing or wrong",
                          id, path, rate);
    }
    s->pf = parse_postfilter(nn_weights_metadata(s->weights, "postfilter"), &s->pf_gn, &s->pf_gd,
                             &s->pf_mu);
    int rf = GR_RF_BASE + (s->pf > 0 ? PF_RF : 0);
    const char *wrong = NULL;
    char why[120];
    if (s->pf < 0)
        wrong = "postfilter must be \"g_n,g_d,mu\" with g_n and g_d in [0, 1), mu in (-1, 1)";
    else if (codec_meta_int(s->weights, "margin_frames", 1, 64, &s->margin) ||
             s->margin * GR_RF_PER_FRAME < rf) {
        snprintf(why, sizeof why,
                 "margin_frames must cover the decoder's receptive field: %d to 64",
                 (rf + GR_RF_PER_FRAME - 1) / GR_RF_PER_FRAME);
        wrong = why;
    }
    if (wrong) {
        gr_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: metadata %s", id, path, wrong);
    }
    nn_weight_spec spec[64];
    char names[64][40];
    int n = gr_spec(spec, names);
    char err[200];
    if (nn_weights_check(s->weights, spec, (size_t)n, err, sizeof err) != NN_OK) {
        gr_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: %s", id, path, err);
    }
    bind_conv(s, &s->enc_in, "enc_in");
    bind_conv(s, &s->enc_d1, "enc_d1");
    bind_conv(s, &s->enc_d2, "enc_d2");
    bind_conv(s, &s->enc_out, "enc_out");
    bind_conv(s, &s->dec_in, "dec_in");
    bind_conv(s, &s->dec_u1, "dec_u1");
    bind_conv(s, &s->dec_u2, "dec_u2");
    bind_conv(s, &s->dec_out, "dec_out");
    char name[32];
    for (int b = 0; b < 3; b++) {
        snprintf(name, sizeof name, "enc_b%d.conv", b);
        bind_conv(s, &s->enc_b[b].conv, name);
        snprintf(name, sizeof name, "enc_b%d.pw", b);
        bind_conv(s, &s->enc_b[b].pw, name);
    }
    for (int b = 0; b < 4; b++) {
        snprintf(name, sizeof name, "dec_b%d.conv", b);
        bind_conv(s, &s->dec_b[b].conv, name);
        snprintf(name, sizeof name, "dec_b%d.pw", b);
        bind_conv(s, &s->dec_b[b].pw, name);
        snprintf(name, sizeof name, "dec_b%d.act1.alpha", b);
        s->dec_b[b].act1 = find_f32(s, name);
        snprintf(name, sizeof name, "dec_b%d.act2.alpha", b);
        s->dec_b[b].act2 = find_f32(s, name);
    }
    s->dec_act = find_f32(s, "dec_act.alpha");
    s->codebook = find_f32(s, "vq.codebook");
    const int32_t *counts = nn_weights_find(s->weights, "vq.counts")->ints;
    uint32_t *u = malloc(sizeof(uint32_t) * GR_GROUPS * GR_STAGES * GR_CODES);
    int bad = !u;
    for (int i = 0; u && i < GR_GROUPS * GR_STAGES * GR_CODES; i++) {
        bad |= counts[i] < 0;
        u[i] = (uint32_t)counts[i];
    }
    if (bad || neco_vq_tables_create(&s->tables, NECO_CDF_PRECISION, GR_GROUPS * GR_STAGES,
                                     GR_CODES, u) != NECO_ENTROPY_OK) {
        free(u);
        gr_unload(s);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "model %s: %s: vq.counts must be non-negative index counts", id, path);
    }
    free(u);
    *out = s;
    return NECO_OK;
}

static neco_status gr_load(neco_context *ctx, const char *path, void **out)
{
    return gr_load_as(ctx, "aud-grvq", 16000, path, out);
}

static neco_status gr_load_24k(neco_context *ctx, const char *path, void **out)
{
    return gr_load_as(ctx, "aud-grvq-24k", 24000, path, out);
}

static const uint8_t *gr_hash(const void *state)
{
    return ((const gr_state *)state)->hash;
}

static int gr_levels(const void *state)
{
    (void)state;
    return GR_Q;
}

/* ---- Network ------------------------------------------------------------------------------ */

static int conv(nn_context *nn, const gr_conv *c, const nn_tensor *x, int stride, int pad,
                nn_tensor *y)
{
    nn_conv1d_params p = nn_conv1d_default();
    p.stride = stride;
    p.pad = pad;
    return nn_conv1d(nn, x, &c->w, c->b, &p, y);
}

/* y = a copy of x (y empty or owned: its buffer is replaced), made on the host: x may still be
 * in the making on an asynchronous backend, hence the sync (found on the first GPU run). */
static int copy(nn_context *nn, const nn_tensor *x, nn_tensor *y)
{
    nn_tensor_free(y);
    int rc = nn_context_sync(nn);
    if (!rc) rc = nn_tensor_alloc(y, x->ndim, x->shape);
    if (!rc) memcpy(y->data, x->data, sizeof(float) * nn_tensor_numel(x));
    return rc;
}

/* Encoder block: h += pw(gelu(conv3(gelu(h)))). */
static int enc_block(nn_context *nn, const gr_block *b, nn_tensor *h, nn_tensor *t, nn_tensor *r)
{
    int rc = copy(nn, h, t);
    if (!rc) rc = nn_activation(nn, NN_ACT_GELU, 0, t);
    if (!rc) rc = conv(nn, &b->conv, t, 1, 1, r);
    if (!rc) rc = nn_activation(nn, NN_ACT_GELU, 0, r);
    if (!rc) rc = conv(nn, &b->pw, r, 1, 0, t);
    if (!rc) rc = nn_add(nn, h, t, h);
    return rc;
}

/* Decoder block: h += pw(snake2(conv3(snake1(h)))). */
static int dec_block(nn_context *nn, const gr_block *b, nn_tensor *h, nn_tensor *t, nn_tensor *r)
{
    int rc = copy(nn, h, t);
    if (!rc) rc = nn_snake(nn, t, b->act1);
    if (!rc) rc = conv(nn, &b->conv, t, 1, 1, r);
    if (!rc) rc = nn_snake(nn, r, b->act2);
    if (!rc) rc = conv(nn, &b->pw, r, 1, 0, t);
    if (!rc) rc = nn_add(nn, h, t, h);
    return rc;
}

/* Samples x [A, 1, 320 T] -> latents z [A, 128, T]. */
static int encode_net(nn_context *nn, const gr_state *s, const nn_tensor *x, nn_tensor *z)
{
    nn_tensor w = {0}, h = {0}, t = {0}, r = {0};
    int rc = nn_lifting97_1d(nn, x, GR_LEVELS, 0, &w);
    if (!rc) rc = conv(nn, &s->enc_in, &w, 1, 3, &h);
    if (!rc) rc = nn_activation(nn, NN_ACT_GELU, 0, &h);
    if (!rc) rc = enc_block(nn, &s->enc_b[0], &h, &t, &r);
    if (!rc) rc = conv(nn, &s->enc_d1, &h, 4, 2, &w);
    if (!rc) rc = nn_activation(nn, NN_ACT_GELU, 0, &w);
    if (!rc) rc = enc_block(nn, &s->enc_b[1], &w, &t, &r);
    if (!rc) rc = conv(nn, &s->enc_d2, &w, 5, 5, &h);
    if (!rc) rc = nn_activation(nn, NN_ACT_GELU, 0, &h);
    if (!rc) rc = enc_block(nn, &s->enc_b[2], &h, &t, &r);
    if (!rc) rc = nn_activation(nn, NN_ACT_GELU, 0, &h);
    if (!rc) rc = conv(nn, &s->enc_out, &h, 1, 1, z);
    nn_tensor_free(&w);
    nn_tensor_free(&h);
    nn_tensor_free(&t);
    nn_tensor_free(&r);
    return rc;
}

/* Quantised latents zq [A, 128, T] -> samples x [A, 1, 320 T]. */
static int decode_net(nn_context *nn, const gr_state *s, const nn_tensor *zq, nn_tensor *x)
{
    nn_tensor h = {0}, u = {0}, t = {0}, r = {0};
    int rc = conv(nn, &s->dec_in, zq, 1, 1, &h);
    if (!rc) rc = dec_block(nn, &s->dec_b[0], &h, &t, &r);
    if (!rc) rc = conv(nn, &s->dec_u1, &h, 1, 1, &u);
    if (!rc) rc = nn_pixel_shuffle(nn, &u, 5, &h);
    if (!rc) rc = dec_block(nn, &s->dec_b[1], &h, &t, &r);
    if (!rc) rc = conv(nn, &s->dec_u2, &h, 1, 1, &u);
    if (!rc) rc = nn_pixel_shuffle(nn, &u, 4, &h);
    if (!rc) rc = dec_block(nn, &s->dec_b[2], &h, &t, &r);
    if (!rc) rc = dec_block(nn, &s->dec_b[3], &h, &t, &r);
    if (!rc) rc = nn_snake(nn, &h, s->dec_act);
    if (!rc) rc = conv(nn, &s->dec_out, &h, 1, 3, &u);
    if (!rc) rc = nn_lifting97_1d(nn, &u, GR_LEVELS, 1, x);
    nn_tensor_free(&h);
    nn_tensor_free(&u);
    nn_tensor_free(&t);
    nn_tensor_free(&r);
    return rc;
}

/* The formant postfilter of ARCH_AUDIO.md on the n samples of x (n a multiple of PF_HOP), into
 * y: per block, the LPC of the windowed samples around it (Levinson-Durbin), the first PF_TAPS
 * samples of the impulse response of A(z/g_n) / A(z/g_d), normalised by their absolute sum, then
 * tilted by (1 - mu z^-1), and the block filtered with them (x zero outside [0, n)). Double
 * precision throughout, on the host: the same on every backend. */
static void postfilter(const gr_state *s, const float *x, float *y, size_t n)
{
    double win[PF_WIN];
    for (int j = 0; j < PF_WIN; j++)
        win[j] = 0.5 - 0.5 * cos(2.0 * 3.14159265358979323846 * (double)(j + 1) / (PF_WIN + 1));
    for (size_t f0 = 0; f0 < n; f0 += PF_HOP) {
        /* seg: the windowed samples, then PF_ORDER zeros, so that r[k] = sum_j seg[j] seg[j + k]
         * (j ascending) runs over whole rows; the zeros leave the short sums of the last lags as
         * they are */
        double r[PF_ORDER + 1], a[PF_ORDER + 1], tmp[PF_ORDER + 1], seg[PF_WIN + PF_ORDER] = {0};
        for (int j = 0; j < PF_WIN; j++) {
            int64_t i = (int64_t)f0 - PF_HOP + j;
            seg[j] = i >= 0 && (size_t)i < n ? win[j] * (double)x[i] : 0.0;
        }
        for (int k = 0; k <= PF_ORDER; k++)
            r[k] = 0.0;
        for (int j = 0; j < PF_WIN; j++)
            for (int k = 0; k <= PF_ORDER; k++)
                r[k] += seg[j] * seg[j + k];
        r[0] = r[0] * (1.0 + 1e-4) + 1e-9;
        a[0] = 1.0;
        double e = r[0];
        for (int i = 1; i <= PF_ORDER; i++) {
            double acc = r[i];
            for (int j = 1; j < i; j++)
                acc += a[j] * r[i - j];
            double k = -acc / e;
            for (int j = 1; j < i; j++)
                tmp[j] = a[j] + k * a[i - j];
            for (int j = 1; j < i; j++)
                a[j] = tmp[j];
            a[i] = k;
            e *= 1.0 - k * k;
        }
        double b[PF_ORDER + 1], d[PF_ORDER + 1], h[PF_TAPS], gn = 1.0, gd = 1.0, sum = 0.0;
        for (int k = 0; k <= PF_ORDER; k++) {
            b[k] = a[k] * gn;
            d[k] = a[k] * gd;
            gn *= s->pf_gn;
            gd *= s->pf_gd;
        }
        for (int t = 0; t < PF_TAPS; t++) {
            double v = t <= PF_ORDER ? b[t] : 0.0;
            for (int k = 1; k <= PF_ORDER && k <= t; k++)
                v -= d[k] * h[t - k];
            h[t] = v;
            sum += fabs(v);
        }
        double prev = 0.0; /* tilt: h'[t] = (h[t] - mu h[t - 1]) / sum */
        for (int t = 0; t < PF_TAPS; t++) {
            double v = h[t];
            h[t] = (v - s->pf_mu * prev) / sum;
            prev = v;
        }
        /* y[i] = sum_k h[k] x[i - k], k ascending, over the block (x zero before 0) */
        double acc[PF_HOP], xs[PF_HOP + PF_TAPS - 1];
        size_t m = n - f0 < PF_HOP ? n - f0 : PF_HOP;
        for (int j = 0; j < PF_HOP + PF_TAPS - 1; j++) {
            int64_t i = (int64_t)f0 - (PF_TAPS - 1) + j;
            xs[j] = i >= 0 && (size_t)i < n ? (double)x[i] : 0.0;
        }
        for (int j = 0; j < PF_HOP; j++)
            acc[j] = 0.0;
        for (int k = 0; k < PF_TAPS; k++)
            for (int j = 0; j < PF_HOP; j++)
                acc[j] += h[k] * xs[PF_TAPS - 1 + j - k];
        for (size_t j = 0; j < m; j++)
            y[f0 + j] = (float)acc[j];
    }
}

static const float *codeword(const gr_state *s, int g, int st, int32_t k)
{
    return s->codebook + (((size_t)g * GR_STAGES + (size_t)st) * GR_CODES + (size_t)k) * GR_GDIM;
}

/* ---- Chunks ------------------------------------------------------------------------------- */

static void gr_layout(neco_info *info)
{
    info->tile_width = 0;
    info->tile_height = 0;
    info->chunk_frames = GR_CHUNK;
}

static neco_status gr_check(neco_context *ctx, const gr_state *s, const neco_info *info)
{
    if (info->sample_rate != s->rate && !codec_rs_supported(info->sample_rate, s->rate))
        return codec_fail(ctx, NECO_ERR_UNSUPPORTED,
                          "model %s codes %u Hz audio and resamples %d to %d Hz whose ratio to "
                          "%u reduces to terms of at most 4096, not %u Hz: resample the input "
                          "first (e.g. sox in.wav -r %u out.wav) or use --model raw",
                          s->id, s->rate, CODEC_AUDIO_MIN_RATE, CODEC_AUDIO_MAX_RATE, s->rate,
                          info->sample_rate, s->rate);
    if (info->sample_rate != s->rate && info->frames > (UINT64_C(1) << 40))
        return codec_fail(ctx, NECO_ERR_LIMIT, "model %s resamples at most 2^40 frames", s->id);
    if (info->audio_channels < 1 || info->audio_channels > GR_MAX_CHANNELS)
        return codec_fail(ctx, NECO_ERR_UNSUPPORTED, "model %s codes 1 to %d channels, not %u",
                          s->id, GR_MAX_CHANNELS, info->audio_channels);
    if (info->chunk_frames != GR_CHUNK)
        return codec_fail(ctx, NECO_ERR_BITSTREAM,
                          "model %s uses chunks of %d frames, the stream says %u", s->id, GR_CHUNK,
                          info->chunk_frames);
    if (info->quality < 1 || info->quality > GR_Q)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "model %s has quality levels 1 to %d, not %u",
                          s->id, GR_Q, info->quality);
    return NECO_OK;
}

/* The geometry of chunk `index` (BITSTREAM.md 3.4): its frames [first, first + count) need the
 * 16 kHz samples [a, b) and code the latent frames [t0, t0 + T) of A coded channels at level q
 * (0-based). */
typedef struct gr_chunk {
    uint64_t first;
    uint32_t count;
    int64_t a, b, t0;
    int T, A, q;
} gr_chunk;

static gr_chunk gr_window(const gr_state *s, const neco_info *info, uint32_t index)
{
    gr_chunk w;
    codec_chunk_span(info, index, &w.first, &w.count);
    if (info->sample_rate == s->rate) {
        w.a = (int64_t)w.first;
        w.b = w.a + w.count;
    } else {
        codec_resampler r;
        codec_rs_geometry(&r, s->rate, info->sample_rate);
        codec_rs_span(&r, (int64_t)w.first, w.count, &w.a, &w.b);
    }
    w.t0 = codec_floor_div(w.a, GR_HOP) - s->margin;
    int64_t t1 = codec_floor_div(w.b + GR_HOP - 1, GR_HOP) + s->margin;
    w.T = (int)(t1 - w.t0);
    w.A = (int)info->audio_channels;
    w.q = (int)info->quality - 1;
    return w;
}

/* The number of indices of a chunk of T frames at level q (0-based), and the codebook of each
 * in coding order (coded channel, group, stage, frame). */
static size_t gr_symbol_count(int A, int q, int T)
{
    return (size_t)A * GR_GROUPS * (size_t)(q + GR_MIN_STAGES) * (size_t)T;
}

static int32_t *gr_table_indexes(int A, int q, int T)
{
    size_t n = gr_symbol_count(A, q, T), i = 0;
    int32_t *idx = malloc(sizeof(int32_t) * (n ? n : 1));
    if (!idx) return NULL;
    for (int a = 0; a < A; a++)
        for (int g = 0; g < GR_GROUPS; g++)
            for (int st = 0; st < q + GR_MIN_STAGES; st++)
                for (int t = 0; t < T; t++)
                    idx[i++] = g * GR_STAGES + st;
    return idx;
}

static neco_status gr_encode_chunk(neco_context *ctx, void *state, const neco_audio *audio,
                                   const neco_info *info, uint32_t index, bytebuf *out)
{
    const gr_state *s = state;
    neco_status st = gr_check(ctx, s, info);
    if (st != NECO_OK) return st;
    gr_chunk w = gr_window(s, info, index);
    int T = w.T, A = w.A, q = w.q, S = q + GR_MIN_STAGES;
    int TE = T + 2 * GR_ENC_CONTEXT;
    int64_t start = (w.t0 - GR_ENC_CONTEXT) * GR_HOP;
    int len = TE * GR_HOP;
    nn_tensor x = {0}, z = {0}, r = {0}, cw = {0};
    size_t n = gr_symbol_count(A, q, T);
    int32_t *sym = malloc(sizeof(int32_t) * n), *tab = gr_table_indexes(A, q, T);
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    int rc = sym && tab ? nn_tensor_alloc3(&x, A, 1, len) : NN_ERR_NOMEM;
    if (!rc && info->sample_rate == s->rate)
        codec_window_in(audio, info, start, len, x.data);
    else if (!rc)
        rc = codec_window_resampled(audio, info, s->rate, start, len, &x);
    if (!rc) rc = encode_net(ctx->nn, s, &x, &z);
    if (!rc) rc = nn_context_sync(ctx->nn); /* z is quantised on the host next */
    if (!rc) rc = nn_tensor_alloc3(&r, 1, GR_GDIM, T);
    /* Residual VQ of each group (the encoder's choice: nearest codeword, nets/vq.h). */
    size_t k = 0;
    for (int c = 0; c < A && !rc; c++)
        for (int g = 0; g < GR_GROUPS && !rc; g++) {
            for (int j = 0; j < GR_GDIM; j++)
                memcpy(r.data + (size_t)j * T,
                       z.data + (((size_t)c * GR_DIM + (size_t)g * GR_GDIM + j) * TE) +
                           GR_ENC_CONTEXT,
                       sizeof(float) * (size_t)T);
            for (int stg = 0; stg < S && !rc; stg++) {
                rc = nn_vq_nearest(&r, codeword(s, g, stg, 0), GR_CODES, sym + k, &cw);
                for (size_t i = 0; !rc && i < nn_tensor_numel(&r); i++)
                    r.data[i] -= cw.data[i];
                k += (size_t)T;
            }
        }
    if (rc) {
        st = codec_audio_fail(ctx, rc, index, "analysis");
        goto done;
    }
    if (neco_rans_encode_with_indexes(&enc, s->tables, sym, tab, n) != NECO_ENTROPY_OK) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "entropy coding failed in chunk %u", index);
        goto done;
    }
    st = codec_flush_rans(ctx, &enc, out);
done:
    neco_rans_encoder_release(&enc);
    free(sym);
    free(tab);
    nn_tensor_free(&x);
    nn_tensor_free(&z);
    nn_tensor_free(&r);
    nn_tensor_free(&cw);
    return st;
}

/* Entropy-decodes the n indices of a chunk payload at level q (T frames) into sym. */
static neco_status gr_decode_symbols(neco_context *ctx, const gr_state *s, int A, int q, int T,
                                     uint32_t index, const uint8_t *payload, size_t size,
                                     int32_t *sym)
{
    int32_t *tab = gr_table_indexes(A, q, T);
    if (!tab) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    neco_rans_decoder dec;
    neco_status st = NECO_OK;
    if (neco_rans_decoder_init(&dec, payload, size) != NECO_ENTROPY_OK ||
        neco_rans_decode_with_indexes(&dec, s->tables, tab, gr_symbol_count(A, q, T), sym) !=
            NECO_ENTROPY_OK ||
        neco_rans_decoder_finish(&dec) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "chunk %u: corrupt entropy-coded data", index);
    free(tab);
    return st;
}

static neco_status gr_decode_chunk(neco_context *ctx, void *state, const neco_info *info,
                                   uint32_t index, const uint8_t *payload, size_t size,
                                   neco_audio *audio)
{
    const gr_state *s = state;
    neco_status st = gr_check(ctx, s, info);
    if (st != NECO_OK) return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    gr_chunk w = gr_window(s, info, index);
    int T = w.T, A = w.A, q = w.q, S = q + GR_MIN_STAGES;
    size_t n = gr_symbol_count(A, q, T);
    nn_tensor zq = {0}, x = {0};
    float *resampled = NULL;
    int32_t *sym = malloc(sizeof(int32_t) * n);
    int rc;
    if (!sym) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    if ((st = gr_decode_symbols(ctx, s, A, q, T, index, payload, size, sym)) != NECO_OK) goto done;
    if ((rc = nn_tensor_alloc3(&zq, A, GR_DIM, T)) != NN_OK) {
        st = codec_audio_fail(ctx, rc, index, "synthesis");
        goto done;
    }
    /* zq = the sum of the chosen codewords, stages in ascending order (ARCH_AUDIO.md). */
    const int32_t *p = sym;
    for (int c = 0; c < A; c++)
        for (int g = 0; g < GR_GROUPS; g++)
            for (int stg = 0; stg < S; stg++, p += T)
                for (int j = 0; j < GR_GDIM; j++) {
                    float *row = zq.data + ((size_t)c * GR_DIM + (size_t)g * GR_GDIM + j) * T;
                    for (int t = 0; t < T; t++) {
                        float v = codeword(s, g, stg, p[t])[j];
                        row[t] = stg ? row[t] + v : v;
                    }
                }
    rc = decode_net(ctx->nn, s, &zq, &x);
    if (!rc) rc = nn_context_sync(ctx->nn); /* x is read on the host next */
    if (rc) {
        st = codec_audio_fail(ctx, rc, index, "synthesis");
        goto done;
    }
    size_t len = (size_t)T * GR_HOP, stride = len;
    if (s->pf) {
        float *in = malloc(sizeof(float) * len);
        if (!in) {
            st = codec_audio_fail(ctx, NN_ERR_NOMEM, index, "postfilter");
            goto done;
        }
        for (int c = 0; c < A; c++) {
            memcpy(in, x.data + (size_t)c * len, sizeof(float) * len);
            postfilter(s, in, x.data + (size_t)c * len, len);
        }
        free(in);
    }
    const float *o = x.data + (w.a - w.t0 * GR_HOP);
    if (info->sample_rate != s->rate) {
        codec_resampler r;
        resampled = malloc(sizeof(float) * (size_t)A * w.count);
        rc = resampled ? codec_rs_init(&r, s->rate, info->sample_rate) : NN_ERR_NOMEM;
        if (rc) {
            st = codec_audio_fail(ctx, rc, index, "resampling");
            goto done;
        }
        for (int c = 0; c < A; c++)
            codec_rs_run(&r, x.data + (size_t)c * len, w.t0 * GR_HOP, (int64_t)w.first, w.count,
                         resampled + (size_t)c * w.count);
        codec_rs_free(&r);
        o = resampled;
        stride = w.count;
    }
    for (uint32_t i = 0; i < w.count; i++) {
        size_t base = (size_t)i * A; /* the chunk's frames start the buffer (models.h) */
        if (A == 2) {
            float m = o[i], sd = o[stride + i];
            codec_sample_out(audio, base, m + sd);
            codec_sample_out(audio, base + 1, m - sd);
        } else {
            for (int c = 0; c < A; c++)
                codec_sample_out(audio, base + c, o[(size_t)c * stride + i]);
        }
    }
done:
    free(resampled);
    free(sym);
    nn_tensor_free(&zq);
    nn_tensor_free(&x);
    return st;
}

/* The chunk's indices as int32 little-endian in payload order (conformance digest, BITSTREAM.md
 * section 4). */
static neco_status gr_unit_symbols(neco_context *ctx, void *state, const neco_info *info,
                                   uint32_t index, const uint8_t *payload, size_t size,
                                   sha256_state *hash)
{
    const gr_state *s = state;
    neco_status st = gr_check(ctx, s, info);
    if (st != NECO_OK) return codec_fail(ctx, NECO_ERR_BITSTREAM, "%s", ctx->error);
    gr_chunk w = gr_window(s, info, index);
    int T = w.T, A = w.A, q = w.q;
    size_t n = gr_symbol_count(A, q, T);
    int32_t *sym = malloc(sizeof(int32_t) * n);
    st = !sym ? codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory")
              : gr_decode_symbols(ctx, s, A, q, T, index, payload, size, sym);
    if (st == NECO_OK) codec_hash_symbols(hash, sym, n);
    free(sym);
    return st;
}

neco_status aud_grvq_chunk_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                   uint32_t index, int32_t **symbols, size_t *n, int *frames)
{
    *symbols = NULL;
    neco_info info;
    const uint8_t *payload = NULL;
    size_t len = 0;
    void *state;
    neco_status st = codec_stream_unit(ctx, &codec_model_aud_grvq, data, size, index, &info,
                                       &payload, &len, &state);
    if (st == NECO_ERR_INVALID_ARGUMENT) /* perhaps the 24 kHz model's */
        st = codec_stream_unit(ctx, &codec_model_aud_grvq_24k, data, size, index, &info, &payload,
                               &len, &state);
    const gr_state *s = state;
    if (st == NECO_OK) st = gr_check(ctx, s, &info);
    if (st != NECO_OK) return st;
    gr_chunk w = gr_window(s, &info, index);
    int T = w.T, A = w.A, q = w.q;
    *n = gr_symbol_count(A, q, T);
    *frames = T;
    *symbols = malloc(sizeof(int32_t) * *n);
    if (!*symbols) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    st = gr_decode_symbols(ctx, s, A, q, T, index, payload, len, *symbols);
    if (st != NECO_OK) {
        free(*symbols);
        *symbols = NULL;
    }
    return st;
}

const codec_model codec_model_aud_grvq = {
    .id = "aud-grvq",
    .description = "low-rate learned speech codec: wavelet packet + conv encoder + group-residual "
                   "VQ + conv decoder (16 kHz, 1.5-6 kbps; 8-384 kHz resampled)",
    .media = 1u << NECO_MEDIA_AUDIO,
    .weights_file = "aud-grvq.safetensors",
    .default_quality = 5,
    .load = gr_load,
    .unload = gr_unload,
    .hash = gr_hash,
    .levels = gr_levels,
    .layout = gr_layout,
    .unit_symbols = gr_unit_symbols,
    .encode_chunk = gr_encode_chunk,
    .decode_chunk = gr_decode_chunk,
};

const codec_model codec_model_aud_grvq_24k = {
    .id = "aud-grvq-24k",
    .description = "aud-grvq's network at 24 kHz for general audio (music, speech; 2.3-9.5 kbps; "
                   "8-384 kHz resampled)",
    .media = 1u << NECO_MEDIA_AUDIO,
    .weights_file = "aud-grvq-24k.safetensors",
    .default_quality = 4,
    .load = gr_load_24k,
    .unload = gr_unload,
    .hash = gr_hash,
    .levels = gr_levels,
    .layout = gr_layout,
    .unit_symbols = gr_unit_symbols,
    .encode_chunk = gr_encode_chunk,
    .decode_chunk = gr_decode_chunk,
};
