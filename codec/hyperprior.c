/* The mean-scale hyperprior payload and pixel maps shared by img-wave and img-swin (see
 * hyperprior.h; train/ARCH.md "Integer hyper synthesis" and "Entropy coding of y", BITSTREAM.md
 * 3.1). Balle et al. 2018 (scale hyperprior), Minnen, Balle & Toderici 2018 (means); the
 * integer h_s makes the scale indices identical on every machine (ARCHITECTURE.md
 * "Determinism"). */
#include "hyperprior.h"

#include "container.h"
#include "models.h"

#include "entropy/factorized.h"
#include "entropy/gaussian.h"
#include "entropy/rans.h"
#include "nets/layers.h"
#include "nets/safetensors.h"
#include "sha256.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HP_Z_CLAMP 255 /* h_s input range (ARCH.md) */

/* ---- Loading ------------------------------------------------------------------------------ */

static int32_t scalar(const nn_weights *w, const char *name)
{
    const nn_weight *t = nn_weights_find(w, name);
    return t && t->dtype == NN_I32 && t->numel == 1 ? *(const int32_t *)t->ints : -1;
}

static void layer_name(int l, const char *what, char *out, size_t n)
{
    if (l == CODEC_HS_MEAN)
        snprintf(out, n, "h_s.mean.%s", what);
    else
        snprintf(out, n, "h_s.l%d.%s", l, what);
}

void codec_hp_release(codec_hyperprior *hp)
{
    for (int l = 0; l <= CODEC_HS_LAYERS; l++)
        free(hp->hs_shift[l]);
    for (int l = 0; l < CODEC_CTX_LAYERS; l++)
        free(hp->cx_shift[l]);
    neco_cdf_tables_destroy(hp->z_tables);
    neco_cdf_tables_destroy(hp->y_tables);
    free(hp->y_bits);
    free(hp->y_rate);
    memset(hp, 0, sizeof *hp);
}

/* The code length of every symbol of the y tables (the encoder's rate estimate for RDOQ):
 * precision - log2(C_{s+1} - C_s) bits. Returns 0 when out of memory. */
static int hp_bits_tables(codec_hyperprior *hp)
{
    int T = hp->y_tables->num_tables, nsym;
    int32_t offset;
    size_t total = 0;
    hp->y_rate = malloc(sizeof *hp->y_rate * (size_t)T);
    if (!hp->y_rate)
        return 0;
    for (int t = 0; t < T; t++) {
        neco_cdf_tables_cdf(hp->y_tables, t, &nsym, &offset);
        /* Gaussian-conditional tables end with the escape symbol (BITSTREAM.md 2.4). */
        hp->y_rate[t] = (struct codec_hp_rate){(uint32_t)total, (uint32_t)nsym - 1, offset};
        total += (size_t)nsym;
    }
    if (!(hp->y_bits = malloc(sizeof(float) * total)))
        return 0;
    for (int t = 0; t < T; t++) {
        const uint32_t *cdf = neco_cdf_tables_cdf(hp->y_tables, t, &nsym, &offset);
        for (int k = 0; k < nsym; k++)
            hp->y_bits[hp->y_rate[t].base + (uint32_t)k] =
                (float)(hp->y_tables->precision - log2((double)(cdf[k + 1] - cdf[k])));
    }
    return 1;
}

/* Bits of residual v in y table t; escapes (BITSTREAM.md 2.4) cost the escape symbol, the
 * 6-bit length and the raw bits. */
static float hp_bits(const codec_hyperprior *hp, int32_t t, int32_t v)
{
    const struct codec_hp_rate *tab = &hp->y_rate[t];
    const float *bits = hp->y_bits + tab->base;
    int64_t s = (int64_t)v - tab->offset, n = tab->nregular;
    if (s >= 0 && s < n)
        return bits[s];
    uint64_t e = s < 0 ? (uint64_t)(-2 * s - 1) : (uint64_t)(2 * (s - n));
    int len = 0;
    while ((e + 1) >> (len + 1))
        len++;
    return bits[n] + 6.0f + (float)len;
}

/* Binds integer layer `prefix` (its .weight [cout, cin, k, k], .bias, .mult, .shift, .out_max
 * and, with has_out_min, .out_min; otherwise 0), checked beforehand by nn_weights_check: "same"
 * padding k / 2, the shift copied per output channel into *shift (owned by the caller). Returns
 * the layer's .shuffle; *shift stays NULL when out of memory. */
static int hp_bind_layer(const nn_weights *w, const char *prefix, int has_out_min,
                         nn_int_conv *c, int32_t **shift)
{
    char name[32];
    snprintf(name, sizeof name, "%s.weight", prefix);
    const nn_weight *wt = nn_weights_find(w, name);
    c->cout = wt->shape[0];
    c->cin = wt->shape[1];
    c->kh = c->kw = wt->shape[2];
    c->p = nn_conv_default();
    c->p.pad_h = c->p.pad_w = c->kh / 2;
    c->w8 = wt->ints;
    snprintf(name, sizeof name, "%s.bias", prefix);
    c->bias = nn_weights_find(w, name)->ints;
    snprintf(name, sizeof name, "%s.mult", prefix);
    c->mult = nn_weights_find(w, name)->ints;
    snprintf(name, sizeof name, "%s.out_min", prefix);
    c->out_min = has_out_min ? scalar(w, name) : 0;
    snprintf(name, sizeof name, "%s.out_max", prefix);
    c->out_max = scalar(w, name);
    snprintf(name, sizeof name, "%s.shift", prefix);
    int32_t s = scalar(w, name);
    if (!(*shift = malloc(sizeof(int32_t) * (size_t)c->cout)))
        return -1;
    for (int o = 0; o < c->cout; o++)
        (*shift)[o] = s;
    c->shift = *shift;
    snprintf(name, sizeof name, "%s.shuffle", prefix);
    return scalar(w, name);
}

/* Checks and binds the three integer layers of the checkerboard context (ARCH.md): ctx.c0
 * [Cc, C, k, k] (k odd), ctx.idx [C, F + Cc, 3, 3] with indices inside the y table, ctx.mean
 * [C, F + Cc, 3, 3]; F is the width of h_s's l2 output. 0 or an error message in err. */
static int hp_load_ctx(const nn_weights *w, codec_hyperprior *hp, char *err, size_t n)
{
    static const char *const layer[CODEC_CTX_LAYERS] = {"ctx.c0", "ctx.idx", "ctx.mean"};
    static const char *const what[7] = {"weight", "bias",    "mult",   "shift",
                                        "out_min", "out_max", "shuffle"};
    const nn_weight *c0 = nn_weights_find(w, "ctx.c0.weight");
    int cc = c0 && c0->ndim == 4 ? c0->shape[0] : 0, k = c0 && c0->ndim == 4 ? c0->shape[2] : 0;
    int F = hp->hs[CODEC_HS_LAYERS - 1].cin;
    if (cc < 1 || k < 1 || k % 2 == 0 || k > 9) {
        snprintf(err, n, "ctx.c0.weight missing or of a wrong shape");
        return -1;
    }
    char names[CODEC_CTX_LAYERS * 7][24];
    nn_weight_spec spec[CODEC_CTX_LAYERS * 7];
    int ns = 0;
    for (int l = 0; l < CODEC_CTX_LAYERS; l++)
        for (int t = 0; t < 7; t++) {
            snprintf(names[ns], sizeof names[ns], "%s.%s", layer[l], what[t]);
            nn_weight_spec sp = {names[ns], t == 0 ? NN_I8 : NN_I32, 1, {1}};
            int cout = l == 0 ? cc : hp->C;
            if (t == 0) {
                sp.ndim = 4;
                sp.shape[0] = cout;
                sp.shape[1] = l == 0 ? hp->C : F + cc;
                sp.shape[2] = sp.shape[3] = l == 0 ? k : 3;
            } else if (t <= 2) {
                sp.shape[0] = cout;
            }
            spec[ns++] = sp;
        }
    if (nn_weights_check(w, spec, (size_t)ns, err, n) != NN_OK)
        return -1;
    for (int l = 0; l < CODEC_CTX_LAYERS; l++) {
        nn_int_conv *c = &hp->cx[l];
        int r = hp_bind_layer(w, layer[l], 1, c, &hp->cx_shift[l]);
        if (!hp->cx_shift[l]) {
            snprintf(err, n, "out of memory");
            return -1;
        }
        /* the index layer must stay inside the scale table, as h_s's l3 */
        if (nn_int_conv_check(c) != NN_OK || r != 1 ||
            (l == 1 && (c->out_min < 0 || c->out_max >= hp->num_scales))) {
            snprintf(err, n, "checkerboard context layer %s invalid", layer[l]);
            return -1;
        }
    }
    return 0;
}

neco_status codec_hp_load(neco_context *ctx, const char *model, const char *path,
                          const nn_weights *w, int C, int CZ, int has_mean, codec_hyperprior *hp)
{
    memset(hp, 0, sizeof *hp);
    hp->C = C;
    hp->CZ = CZ;
    hp->has_mean = has_mean;
    /* h_s: 3x3 integer convs; the input of each is the output of the previous after its pixel
     * shuffle, l3 ends with C scale indices and the mean layer reads l3's input. Widths come
     * from the shapes; every shape must be consistent with C, CZ and the previous layer. */
    char names[7 * (CODEC_HS_LAYERS + 1) + 2][32];
    nn_weight_spec spec[7 * (CODEC_HS_LAYERS + 1) + 2];
    int n = 0, cin = CZ, cin_l3 = 0;
    for (int l = 0; l < CODEC_HS_LAYERS + has_mean; l++) {
        char wname[32], sname[32];
        layer_name(l, "weight", wname, sizeof wname);
        layer_name(l, "shuffle", sname, sizeof sname);
        const nn_weight *wt = nn_weights_find(w, wname);
        int cout = l >= CODEC_HS_LAYERS - 1 ? C : wt && wt->ndim >= 1 ? wt->shape[0] : 0;
        if (l == CODEC_HS_LAYERS - 1)
            cin_l3 = cin;
        if (l == CODEC_HS_MEAN)
            cin = cin_l3;
        const char *what[6] = {"weight", "bias", "mult", "shift", "out_max", "shuffle"};
        for (int k = 0; k < 6 + (l == CODEC_HS_MEAN); k++) {
            layer_name(l, k < 6 ? what[k] : "out_min", names[n], sizeof names[n]);
            nn_weight_spec sp = {names[n], k == 0 ? NN_I8 : NN_I32, 1, {1}};
            if (k == 0) {
                sp.ndim = 4;
                sp.shape[0] = cout;
                sp.shape[1] = cin;
                sp.shape[2] = sp.shape[3] = 3;
            } else if (k <= 2) {
                sp.shape[0] = cout;
            }
            spec[n++] = sp;
        }
        int r = scalar(w, sname);
        cin = r >= 1 && r <= 2 && cout % (r * r) == 0 ? cout / (r * r) : -1;
    }
    snprintf(names[n], sizeof names[n], "z.cdf_length");
    spec[n] = (nn_weight_spec){names[n], NN_I32, 1, {CZ}};
    n++;
    snprintf(names[n], sizeof names[n], "z.offset");
    spec[n] = (nn_weight_spec){names[n], NN_I32, 1, {CZ}};
    n++;
    char err[200];
    if (nn_weights_check(w, spec, (size_t)n, err, sizeof err) != NN_OK)
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: %s", model, path, err);
    for (int l = 0; l < CODEC_HS_LAYERS + has_mean; l++) {
        char name[32];
        nn_int_conv *c = &hp->hs[l];
        if (l == CODEC_HS_MEAN)
            snprintf(name, sizeof name, "h_s.mean");
        else
            snprintf(name, sizeof name, "h_s.l%d", l);
        hp->hs_shuffle[l] = hp_bind_layer(w, name, l == CODEC_HS_MEAN, c, &hp->hs_shift[l]);
        if (!hp->hs_shift[l])
            return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        int r = hp->hs_shuffle[l];
        if (nn_int_conv_check(c) != NN_OK || r < 1 || r > 2 ||
            (l >= CODEC_HS_LAYERS - 1 && r != 1)) {
            layer_name(l, "", name, sizeof name);
            return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: h_s layer %s invalid", model,
                              path, name);
        }
    }
    /* h_s must end at the stride of y (two shuffles of 2 from z to y) and in scale indices of
     * the table. */
    const nn_weight *scales = nn_weights_find(w, "y.scales_q16");
    const nn_weight *cdf = nn_weights_find(w, "z.cdf");
    if (hp->hs_shuffle[0] * hp->hs_shuffle[1] * hp->hs_shuffle[2] * hp->hs_shuffle[3] != 4 ||
        !scales || scales->dtype != NN_I32 || scales->ndim != 1 || !cdf ||
        cdf->dtype != NN_I32 || cdf->ndim != 1 ||
        hp->hs[CODEC_HS_LAYERS - 1].out_max >= scales->shape[0])
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: entropy tables invalid", model,
                          path);
    hp->num_scales = scales->shape[0];
    int64_t total = 0;
    const int32_t *lengths = nn_weights_find(w, "z.cdf_length")->ints;
    for (int c = 0; c < CZ; c++)
        total += lengths[c] > 0 ? lengths[c] : 0;
    if (total != cdf->shape[0] ||
        neco_factorized_tables_create(&hp->z_tables, NECO_CDF_PRECISION, CZ, cdf->ints, lengths,
                                      nn_weights_find(w, "z.offset")->ints) != NECO_ENTROPY_OK ||
        neco_gc_tables_create(&hp->y_tables, NECO_CDF_PRECISION, scales->ints,
                              hp->num_scales) != NECO_ENTROPY_OK)
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: entropy tables invalid", model,
                          path);
    const char *cx = nn_weights_metadata(w, "ctx");
    hp->has_ctx = cx && strcmp(cx, "1") == 0;
    if (hp->has_ctx && (!has_mean || hp_load_ctx(w, hp, err, sizeof err) != 0))
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s: %s", model, path,
                          has_mean ? err : "a checkerboard context needs the mean layer");
    return hp_bits_tables(hp) ? NECO_OK : codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
}

/* ---- Integer h_s -------------------------------------------------------------------------- */

/* codec_hp_synthesis; with feat non-NULL it also receives l2's output [F, 4 hz, 4 wz] (the
 * input of l3 and of the mean layer, and of the checkerboard context). */
static int hp_synthesis(const codec_hyperprior *hp, const int32_t *z_hat, int hz, int wz,
                        int32_t *idx, int32_t *mu, int16_t *feat, nn_pool *pool)
{
    /* Buffer size: the largest layer output (before its pixel shuffle). */
    size_t cap = (size_t)hp->CZ * hz * wz;
    int res = 1;
    for (int l = 0; l < CODEC_HS_LAYERS + hp->has_mean; l++) {
        size_t out = (size_t)hp->hs[l].cout * (res * (size_t)hz) * (res * (size_t)wz);
        cap = out > cap ? out : cap;
        if (l < CODEC_HS_LAYERS - 1)
            res *= hp->hs_shuffle[l];
    }
    int16_t *a = malloc(sizeof(int16_t) * cap), *b = malloc(sizeof(int16_t) * cap);
    if (!a || !b) {
        free(a);
        free(b);
        return NN_ERR_NOMEM;
    }
    nn_itensor x = {a, 1, hp->CZ, hz, wz};
    for (size_t i = 0; i < (size_t)hp->CZ * hz * wz; i++) {
        int32_t v = z_hat[i];
        a[i] = (int16_t)(v < -HP_Z_CLAMP ? -HP_Z_CLAMP : v > HP_Z_CLAMP ? HP_Z_CLAMP : v);
    }
    int rc = NN_OK;
    for (int l = 0; l < CODEC_HS_LAYERS - 1 && rc == NN_OK; l++) {
        nn_itensor y = {x.data == a ? b : a, 0, 0, 0, 0};
        rc = nn_int_conv2d_pool(&hp->hs[l], &x, &y, pool);
        if (rc == NN_OK && hp->hs_shuffle[l] > 1) {
            nn_itensor sh = {x.data, 0, 0, 0, 0}; /* x's buffer is free again */
            rc = nn_int_pixel_shuffle(&y, hp->hs_shuffle[l], &sh);
            y = sh;
        }
        x = y;
    }
    /* l3 (scale indices) and the mean layer both read l2's output. */
    if (rc == NN_OK && feat)
        memcpy(feat, x.data, sizeof(int16_t) * (size_t)x.c * x.h * x.w);
    /* with the checkerboard context only the anchors' (row + column even) come from here */
    size_t n = (size_t)hp->C * x.h * x.w;
    int16_t *m = hp->has_mean ? malloc(sizeof(int16_t) * n) : NULL;
    if (rc == NN_OK && hp->has_mean && !m)
        rc = NN_ERR_NOMEM;
    nn_itensor out[2] = {{x.data == a ? b : a, 0, 0, 0, 0}, {m, 0, 0, 0, 0}};
    const nn_int_conv *ls[2] = {&hp->hs[CODEC_HS_LAYERS - 1], &hp->hs[CODEC_HS_MEAN]};
    if (rc == NN_OK)
        rc = nn_int_conv2d_checker(ls, 1 + hp->has_mean, &x, out, hp->has_ctx ? 0 : -1, 0, pool);
    if (rc == NN_OK)
        for (size_t i = 0; i < n; i++) {
            idx[i] = out[0].data[i];
            mu[i] = hp->has_mean ? m[i] : 0;
        }
    free(a);
    free(b);
    free(m);
    return rc;
}

int codec_hp_synthesis(const codec_hyperprior *hp, const int32_t *z_hat, int hz, int wz,
                       int32_t *idx, int32_t *mu, nn_pool *pool)
{
    return hp_synthesis(hp, z_hat, hz, wz, idx, mu, NULL, pool);
}

/* ---- Checkerboard context ----------------------------------------------------------------- */

/* The positions of y of one checkerboard parity, in C order: pass 0 the anchors (row + column
 * even), pass 1 the others. BODY sees the flat index i. */
#define HP_FOR_PARITY(pass, C, h, w, BODY)                                                         \
    for (size_t c_ = 0; c_ < (size_t)(C); c_++)                                                    \
        for (int r_ = 0; r_ < (h); r_++)                                                           \
            for (int x_ = (r_ + (pass)) & 1; x_ < (w); x_ += 2) {                                  \
                size_t i = (c_ * (size_t)(h) + (size_t)r_) * (size_t)(w) + (size_t)x_;             \
                BODY;                                                                              \
            }

/* The non-anchors' scale indices and means from the anchors' residuals yq (and means mu):
 * cat [F + Cc, h, w] holds h_s's l2 output in its first F planes; the context features go to
 * the others. An nets error code. */
static int hp_context(const codec_hyperprior *hp, const int32_t *yq, int h, int w, int16_t *cat,
                      int32_t *idx, int32_t *mu, nn_pool *pool)
{
    size_t plane = (size_t)h * w, n = (size_t)hp->C * plane;
    int F = hp->hs[CODEC_HS_LAYERS - 1].cin;
    int16_t *in = calloc(n, sizeof(int16_t)), *out = malloc(sizeof(int16_t) * n);
    int rc = in && out ? NN_OK : NN_ERR_NOMEM;
    if (rc == NN_OK)
        HP_FOR_PARITY(0, hp->C, h, w, {
            int64_t v = (int64_t)yq[i] * (1 << CODEC_MEAN_BITS) + mu[i];
            in[i] = (int16_t)(v < -CODEC_CTX_CLAMP  ? -CODEC_CTX_CLAMP
                              : v > CODEC_CTX_CLAMP ? CODEC_CTX_CLAMP
                                                    : v);
        })
    /* c0 reads only anchors (zero elsewhere) and is needed everywhere (the 3x3 layers after it
     * read the neighbours); idx and mean are needed at the non-anchors only */
    nn_itensor x = {in, 1, hp->C, h, w}, c = {cat + (size_t)F * plane, 0, 0, 0, 0};
    const nn_int_conv *c0 = &hp->cx[0], *ls[2] = {&hp->cx[1], &hp->cx[2]};
    if (rc == NN_OK)
        rc = nn_int_conv2d_checker(&c0, 1, &x, &c, -1, 1, pool);
    nn_itensor xc = {cat, 1, F + hp->cx[0].cout, h, w};
    nn_itensor o[2] = {{out, 0, 0, 0, 0}, {in, 0, 0, 0, 0}}; /* in is free again */
    if (rc == NN_OK)
        rc = nn_int_conv2d_checker(ls, 2, &xc, o, 1, 0, pool);
    if (rc == NN_OK)
        HP_FOR_PARITY(1, hp->C, h, w, {
            idx[i] = out[i];
            mu[i] = in[i];
        })
    free(in);
    free(out);
    return rc;
}

/* ---- Payload ------------------------------------------------------------------------------ */

neco_status codec_nn_fail(neco_context *ctx, int rc, uint32_t index, const char *what)
{
    if (rc == NN_ERR_NOMEM)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory (%s, tile %u)", what, index);
    return codec_fail(ctx, NECO_ERR_BACKEND, "%s failed in tile %u (nets error %d)", what, index,
                      rc);
}

/* The residual of y element value yv (floor(y - mu/4 + 1/2), clamped to the int32 range), and
 * the RDOQ step towards zero: it usually costs fewer bits (the tables peak at zero); taken
 * where the bits saved outweigh rdoq_mu times the added squared error. */
static int32_t hp_quantize(const codec_hyperprior *hp, float yv, int32_t t, int32_t mu)
{
    float r = yv - (float)mu / (1 << CODEC_MEAN_BITS);
    float v = floorf(r + 0.5f);
    int32_t q = v > 1e9f ? 1000000000 : v < -1e9f ? -1000000000 : (int32_t)v;
    if (hp->rdoq_mu > 0.0f && q != 0 && fabsf(r) < 1e6f) {
        int32_t q1 = q - (q > 0 ? 1 : -1);
        float e0 = r - (float)q, e1 = r - (float)q1;
        float c0 = hp_bits(hp, t, q) + hp->rdoq_mu * e0 * e0;
        float c1 = hp_bits(hp, t, q1) + hp->rdoq_mu * e1 * e1;
        if (c1 < c0)
            q = q1;
    }
    return q;
}

/* The buffer of the checkerboard context's input features [F + Cc, h, w] (hp_context). */
static int16_t *hp_cat_alloc(const codec_hyperprior *hp, int h, int w)
{
    return malloc(sizeof(int16_t) * (size_t)h * w *
                  (size_t)(hp->hs[CODEC_HS_LAYERS - 1].cin + hp->cx[0].cout));
}

/* Codes (enc) or decodes (dec, enc NULL) the residuals yq of one checkerboard pass in coding
 * order (pass 0 the anchors, 1 the others; C order within a pass), a row's half at a time
 * through is and ys [w / 2 + 1]. 0 or an entropy error. */
static int hp_code_pass(const codec_hyperprior *hp, int pass, int h, int w, const int32_t *idx,
                        int32_t *yq, neco_rans_encoder *enc, neco_rans_decoder *dec, int32_t *is,
                        int32_t *ys)
{
    for (size_t row = 0; row < (size_t)hp->C * h; row++) {
        size_t at = row * (size_t)w, n = 0;
        int x0 = ((int)(row % (size_t)h) + pass) & 1, rc;
        for (int x = x0; x < w; x += 2, n++) {
            is[n] = idx[at + (size_t)x];
            if (enc)
                ys[n] = yq[at + (size_t)x];
        }
        rc = enc ? neco_rans_encode_with_indexes(enc, hp->y_tables, ys, is, n)
                 : neco_rans_decode_with_indexes(dec, hp->y_tables, is, n, ys);
        if (rc != NECO_ENTROPY_OK)
            return rc;
        n = 0;
        for (int x = x0; !enc && x < w; x += 2)
            yq[at + (size_t)x] = ys[n++];
    }
    return NECO_ENTROPY_OK;
}

neco_status codec_hp_encode(neco_context *ctx, const codec_hyperprior *hp, const nn_tensor *y,
                            const nn_tensor *z, uint32_t index, bytebuf *out)
{
    size_t ny = nn_tensor_numel(y), nz = nn_tensor_numel(z);
    int hz = z->shape[2], wz = z->shape[3], h = 4 * hz, w = 4 * wz;
    neco_status st;
    int rc;
    int32_t *zq = malloc(sizeof(int32_t) * nz), *zi = malloc(sizeof(int32_t) * nz);
    int32_t *yq = malloc(sizeof(int32_t) * ny), *idx = malloc(sizeof(int32_t) * ny);
    int32_t *mu = malloc(sizeof(int32_t) * ny);
    int16_t *cat = hp->has_ctx ? hp_cat_alloc(hp, h, w) : NULL;
    int32_t *rs = hp->has_ctx ? malloc(sizeof(int32_t) * (size_t)(w + 2)) : NULL;
    neco_rans_encoder enc;
    neco_rans_encoder_init(&enc);
    if (!zq || !zi || !yq || !idx || !mu || (hp->has_ctx && (!cat || !rs))) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    /* Rounding of z and of y's residual is the encoder's choice: z to nearest, ties to even
     * (torch.round), the residual floor(y - mean + 1/2) (ARCH.md) with RDOQ; values beyond the
     * int32 range are clamped. */
    for (size_t i = 0; i < nz; i++) {
        float v = nearbyintf(z->data[i]);
        zq[i] = v > 1e9f ? 1000000000 : v < -1e9f ? -1000000000 : (int32_t)v;
        zi[i] = (int32_t)(i / ((size_t)hz * wz));
    }
    if ((rc = hp_synthesis(hp, zq, hz, wz, idx, mu, cat, ctx->nn->pool)) != NN_OK) {
        st = codec_nn_fail(ctx, rc, index, "h_s");
        goto done;
    }
    /* With the context, the anchors first: the others' indices and means depend on them. */
    if (!hp->has_ctx)
        for (size_t i = 0; i < ny; i++)
            yq[i] = hp_quantize(hp, y->data[i], idx[i], mu[i]);
    else {
        HP_FOR_PARITY(0, hp->C, h, w, yq[i] = hp_quantize(hp, y->data[i], idx[i], mu[i]))
        if ((rc = hp_context(hp, yq, h, w, cat, idx, mu, ctx->nn->pool)) != NN_OK) {
            st = codec_nn_fail(ctx, rc, index, "context model");
            goto done;
        }
        HP_FOR_PARITY(1, hp->C, h, w, yq[i] = hp_quantize(hp, y->data[i], idx[i], mu[i]))
    }
    int ec = neco_rans_encode_with_indexes(&enc, hp->z_tables, zq, zi, nz);
    if (ec == NECO_ENTROPY_OK && !hp->has_ctx)
        ec = neco_rans_encode_with_indexes(&enc, hp->y_tables, yq, idx, ny);
    for (int pass = 0; pass < 2 && ec == NECO_ENTROPY_OK && hp->has_ctx; pass++)
        ec = hp_code_pass(hp, pass, h, w, idx, yq, &enc, NULL, rs, rs + w / 2 + 1);
    if (ec != NECO_ENTROPY_OK) {
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
    free(cat);
    free(rs);
    return st;
}

/* The y part of a payload with the checkerboard context (after z): the anchors with h_s's
 * indices, then the others with the context's; a row's half at a time (no whole-tile order). */
static neco_status hp_decode_ctx(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                                 neco_rans_decoder *dec, int hz, int wz, const int32_t *zq,
                                 int32_t *yq, int32_t *idx, int32_t *mu)
{
    int h = 4 * hz, w = 4 * wz, rc;
    int16_t *cat = hp_cat_alloc(hp, h, w);
    int32_t *rs = malloc(sizeof(int32_t) * (size_t)(w + 2));
    neco_status st = NECO_OK;
    if (!cat || !rs)
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    else if ((rc = hp_synthesis(hp, zq, hz, wz, idx, mu, cat, ctx->nn->pool)) != NN_OK)
        st = codec_nn_fail(ctx, rc, index, "h_s");
    else if (hp_code_pass(hp, 0, h, w, idx, yq, NULL, dec, rs, rs + w / 2 + 1) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "tile %u: corrupt entropy-coded data", index);
    else if ((rc = hp_context(hp, yq, h, w, cat, idx, mu, ctx->nn->pool)) != NN_OK)
        st = codec_nn_fail(ctx, rc, index, "context model");
    else if (hp_code_pass(hp, 1, h, w, idx, yq, NULL, dec, rs, rs + w / 2 + 1) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "tile %u: corrupt entropy-coded data", index);
    free(cat);
    free(rs);
    return st;
}

neco_status codec_hp_decode(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                            const uint8_t *payload, size_t size, int hz, int wz, int32_t *zq,
                            int32_t *yq, int32_t *idx, int32_t *mu)
{
    size_t nz = (size_t)hp->CZ * hz * wz, ny = (size_t)hp->C * 16 * hz * wz;
    int32_t *zi = malloc(sizeof(int32_t) * nz);
    if (!zi)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < nz; i++)
        zi[i] = (int32_t)(i / ((size_t)hz * wz));
    neco_rans_decoder dec;
    neco_status st = NECO_OK;
    int rc;
    if (neco_rans_decoder_init(&dec, payload, size) != NECO_ENTROPY_OK ||
        neco_rans_decode_with_indexes(&dec, hp->z_tables, zi, nz, zq) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "tile %u: corrupt entropy-coded data", index);
    else if (hp->has_ctx)
        st = hp_decode_ctx(ctx, hp, index, &dec, hz, wz, zq, yq, idx, mu);
    else if ((rc = hp_synthesis(hp, zq, hz, wz, idx, mu, NULL, ctx->nn->pool)) != NN_OK)
        st = codec_nn_fail(ctx, rc, index, "h_s");
    else if (neco_rans_decode_with_indexes(&dec, hp->y_tables, idx, ny, yq) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "tile %u: corrupt entropy-coded data", index);
    if (st == NECO_OK && neco_rans_decoder_finish(&dec) != NECO_ENTROPY_OK)
        st = codec_fail(ctx, NECO_ERR_BITSTREAM, "tile %u: corrupt entropy-coded data", index);
    free(zi);
    return st;
}

neco_status codec_hp_decode_alloc(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                                  const uint8_t *payload, size_t size, int hz, int wz,
                                  int32_t **z, size_t *nz, int32_t **y, size_t *ny)
{
    *nz = (size_t)hp->CZ * hz * wz;
    *ny = (size_t)hp->C * 16 * hz * wz;
    *z = malloc(sizeof(int32_t) * *nz);
    *y = malloc(sizeof(int32_t) * *ny);
    int32_t *idx = malloc(sizeof(int32_t) * *ny), *mu = malloc(sizeof(int32_t) * *ny);
    neco_status st;
    if (!*z || !*y || !idx || !mu)
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    else
        st = codec_hp_decode(ctx, hp, index, payload, size, hz, wz, *z, *y, idx, mu);
    free(idx);
    free(mu);
    if (st != NECO_OK) {
        free(*z);
        free(*y);
        *z = *y = NULL;
    }
    return st;
}

neco_status codec_hp_hash_symbols(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                                  const uint8_t *payload, size_t size, int hz, int wz,
                                  sha256_state *hash)
{
    int32_t *zq, *yq;
    size_t nz, ny;
    neco_status st = codec_hp_decode_alloc(ctx, hp, index, payload, size, hz, wz, &zq, &nz, &yq,
                                           &ny);
    if (st == NECO_OK) {
        codec_hash_symbols(hash, zq, nz);
        codec_hash_symbols(hash, yq, ny);
        free(zq);
        free(yq);
    }
    return st;
}

neco_status codec_hp_decode_latent(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                                   const uint8_t *payload, size_t size, int hz, int wz,
                                   nn_tensor *y)
{
    size_t nz = (size_t)hp->CZ * hz * wz, ny = (size_t)hp->C * 16 * hz * wz;
    int32_t *zq = malloc(sizeof(int32_t) * nz), *yq = malloc(sizeof(int32_t) * ny);
    int32_t *idx = malloc(sizeof(int32_t) * ny), *mu = malloc(sizeof(int32_t) * ny);
    neco_status st = NECO_OK;
    int rc;
    if (!zq || !yq || !idx || !mu) {
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    st = codec_hp_decode(ctx, hp, index, payload, size, hz, wz, zq, yq, idx, mu);
    if (st != NECO_OK)
        goto done;
    if ((rc = nn_tensor_alloc4(y, 1, hp->C, 4 * hz, 4 * wz)) != NN_OK) {
        st = codec_nn_fail(ctx, rc, index, "synthesis");
        goto done;
    }
    /* y_hat = residual + mean, exact in float (ARCH.md, BITSTREAM.md 3.1). */
    for (size_t i = 0; i < ny; i++)
        y->data[i] =
            (float)((int64_t)yq[i] * (1 << CODEC_MEAN_BITS) + mu[i]) / (1 << CODEC_MEAN_BITS);
done:
    free(zq);
    free(yq);
    free(idx);
    free(mu);
    return st;
}

neco_status codec_hp_tile_symbols(neco_context *ctx, const struct codec_model *model,
                                  size_t hp_offset, int stride, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y, size_t *ny)
{
    *z = *y = NULL;
    neco_info info;
    const uint8_t *payload = NULL;
    size_t len = 0;
    void *state;
    neco_status st =
        codec_stream_unit(ctx, model, data, size, index, &info, &payload, &len, &state);
    if (st != NECO_OK)
        return st;
    uint32_t x0, y0, w, h;
    codec_tile_rect(&info, index, &x0, &y0, &w, &h);
    const codec_hyperprior *hp = (const codec_hyperprior *)((const char *)state + hp_offset);
    int hz = (int)((h + (uint32_t)stride - 1) / (uint32_t)stride);
    int wz = (int)((w + (uint32_t)stride - 1) / (uint32_t)stride);
    return codec_hp_decode_alloc(ctx, hp, index, payload, len, hz, wz, z, nz, y, ny);
}

/* ---- Pixels ------------------------------------------------------------------------------- */

/* The 8-bit value of sample i of an image (16-bit samples are rounded to 8 bits). */
static float sample8(const neco_image *img, size_t i)
{
    if (img->bit_depth == 8)
        return ((const uint8_t *)img->data)[i];
    return (float)((((const uint16_t *)img->data)[i] * 2u + 257u) / 514u);
}

void codec_tile_to_tensor(const neco_image *img, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                          nn_tensor *p)
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

/* round(v + 127.5) to nearest, ties to even, clamped to 0..255 (NaN: 0). Adding and
 * subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to an integer in the current
 * rounding mode, exactly as nearbyintf, without a libm call per sample (that call was most of
 * this loop's time: 2 ms of a 768x512 decode). */
static uint8_t to8(float v)
{
    const float magic = 12582912.0f;
    float t = v + 127.5f;
    t = t > -1.0f ? t : -1.0f; /* also NaN */
    t = t < 256.0f ? t : 256.0f;
    float r = (t + magic) - magic;
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

void codec_tensor_to_tile(const nn_tensor *p, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
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

neco_status codec_check_no_alpha(neco_context *ctx, const char *model, const neco_info *info)
{
    if (info->channels == 2 || info->channels == 4)
        return codec_fail(ctx, NECO_ERR_UNSUPPORTED,
                          "model %s codes RGB and gray images; alpha channels are not "
                          "supported (use --model raw)",
                          model);
    return NECO_OK;
}
