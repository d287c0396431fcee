/* What the learned image models share (img-wave, img-swin; train/ARCH.md and BITSTREAM.md 3.1,
 * 3.3): the mean-scale hyperprior of a tile (factorized z, integer h_s, Gaussian-conditional y
 * with means) and its one-rANS-stream payload, and the tile <-> tensor pixel maps.
 *
 * Payload of a tile: z_hat (C order, table = channel), then the residuals of y (C order, table =
 * the scale index from h_s), y_hat = residual + mu / 4. h_s upsamples by 4 (two pixel shuffles of
 * 2), so y has 16 times as many positions per channel as z. With the checkerboard context the
 * residuals of y come in two passes: the anchors (row + column even) in C order, then the
 * others in C order, whose indices and means the context computes from the anchors. */
#ifndef NECO_CODEC_HYPERPRIOR_H
#define NECO_CODEC_HYPERPRIOR_H
#include "buffer.h"
#include "context.h"

#include "entropy/cdf.h"
#include "nets/intlayers.h"
#include "nets/ops.h"

#define CODEC_HS_LAYERS 4 /* integer h_s: l0..l3 (l3 gives the scale index) */
#define CODEC_HS_MEAN 4   /* slot of the optional mean layer, on l3's input */
#define CODEC_MEAN_BITS 2 /* the mean is in units of 2^-2 (ARCH.md "Mean layer") */
#define CODEC_CTX_LAYERS 3 /* checkerboard context: ctx.c0, ctx.idx, ctx.mean */
#define CODEC_CTX_CLAMP 4095 /* its input: the anchors' y_hat in quarter units, clamped */

struct nn_weights;
struct sha256_state;

typedef struct codec_hyperprior {
    int C, CZ, has_mean, num_scales;
    nn_int_conv hs[CODEC_HS_LAYERS + 1];
    int hs_shuffle[CODEC_HS_LAYERS + 1];
    int32_t *hs_shift[CODEC_HS_LAYERS + 1]; /* per-channel copies of the layer's shift */
    /* Checkerboard context (metadata ctx = 1; He et al. 2021, ARCH.md): y's anchors (row +
     * column even) are coded first with h_s's indices and means, the other half with those of
     * cx[1] and cx[2] on [h_s's l2 output ; relu(cx[0](anchors' y_hat))]. */
    int has_ctx;
    nn_int_conv cx[CODEC_CTX_LAYERS];
    int32_t *cx_shift[CODEC_CTX_LAYERS];
    neco_cdf_tables *z_tables, *y_tables;
    /* Encoder only: rate-distortion optimised quantisation of y (codec_hp_encode). rdoq_mu is
     * the weight of the squared latent error against bits (0: plain rounding); y_bits holds the
     * code length in bits of every symbol of every y table, escape included: table t's symbols
     * from y_rate[t].base, its first value y_rate[t].offset, its escape at y_rate[t].nregular. */
    float rdoq_mu;
    float *y_bits;
    struct codec_hp_rate {
        uint32_t base, nregular;
        int32_t offset;
    } *y_rate;
} codec_hyperprior;

/* Checks and binds the h_s tensors (h_s.l0..l3, h_s.mean when has_mean; ctx.c0, ctx.idx,
 * ctx.mean when the metadata says ctx = 1) and builds the entropy
 * tables (z.cdf, z.cdf_length, z.offset, y.scales_q16) of a loaded weights file; C and CZ from
 * its metadata. Fails with NECO_ERR_MODEL naming the model and path. hp is zeroed first; free it
 * with codec_hp_release (also after a failure). */
neco_status codec_hp_load(neco_context *ctx, const char *model, const char *path,
                          const struct nn_weights *w, int C, int CZ, int has_mean,
                          codec_hyperprior *hp);
void codec_hp_release(codec_hyperprior *hp);

/* The integer h_s: z_hat [CZ, hz, wz] -> scale indices and means (quarter units, 0 without a
 * mean layer), each [C, 4 hz, 4 wz], on pool's threads (may be NULL; the same integers for any
 * thread count). An nets error code. */
int codec_hp_synthesis(const codec_hyperprior *hp, const int32_t *z_hat, int hz, int wz,
                       int32_t *idx, int32_t *mu, nn_pool *pool);

/* Quantizes and codes a tile: y [1, C, 4 hz, 4 wz] (gained), z [1, CZ, hz, wz] (float) -> the
 * payload appended to out. With hp->rdoq_mu > 0 each residual of y that rounds away from zero is
 * moved one step towards zero where that lowers bits + rdoq_mu * (squared error in y). */
neco_status codec_hp_encode(neco_context *ctx, const codec_hyperprior *hp, const nn_tensor *y,
                            const nn_tensor *z, uint32_t index, bytebuf *out);

/* Entropy-decodes a payload: zq [CZ, hz, wz], the residuals yq, scale indices idx and means mu
 * [C, 4 hz, 4 wz] (arrays allocated by the caller). */
neco_status codec_hp_decode(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                            const uint8_t *payload, size_t size, int hz, int wz, int32_t *zq,
                            int32_t *yq, int32_t *idx, int32_t *mu);

/* As codec_hp_decode, returning z_hat and the residuals of y in new arrays (free with free()). */
neco_status codec_hp_decode_alloc(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                                  const uint8_t *payload, size_t size, int hz, int wz,
                                  int32_t **z, size_t *nz, int32_t **y, size_t *ny);

/* Decodes a payload and feeds z_hat then the residuals to the hash as int32 little-endian. */
neco_status codec_hp_hash_symbols(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                                  const uint8_t *payload, size_t size, int hz, int wz,
                                  struct sha256_state *hash);

/* Decodes a payload to the float latent y_hat = yq + mu / 4 in y (allocated to [1, C, 4 hz, 4 wz]). */
neco_status codec_hp_decode_latent(neco_context *ctx, const codec_hyperprior *hp, uint32_t index,
                                   const uint8_t *payload, size_t size, int hz, int wz,
                                   nn_tensor *y);

/* Test hook: z_hat and the residuals of y of tile `index` of a stream of `model`, whose state
 * holds its codec_hyperprior at byte offset hp_offset; stride is the stride of z in pixels
 * (arrays allocated, free with free()). */
struct codec_model;
neco_status codec_hp_tile_symbols(neco_context *ctx, const struct codec_model *model,
                                  size_t hp_offset, int stride, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y, size_t *ny);

/* The tile's pixels as p = v - 127.5 in p [1, 3, hp, wp] (allocated by the caller), padded right
 * and bottom by edge replication; gray is replicated to RGB, 16-bit samples rounded to 8 bits. */
void codec_tile_to_tensor(const neco_image *img, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                          nn_tensor *p);
/* The inverse: round(p + 127.5) clamped to 8 bits, cropped to w x h; gray is the rounded mean of
 * the three channels, 16-bit output v8 * 257. */
void codec_tensor_to_tile(const nn_tensor *p, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                          neco_image *img);

/* A nets error code as a codec error naming the tile. */
neco_status codec_nn_fail(neco_context *ctx, int rc, uint32_t index, const char *what);

/* Refuses images with alpha (the learned image models code RGB and gray only). */
neco_status codec_check_no_alpha(neco_context *ctx, const char *model, const neco_info *info);

#endif
