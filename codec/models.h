/* The model registry: every model the codec knows, and the per-tile / per-chunk functions that
 * code it. The API (api.c) owns the container and calls a model once per unit. */
#ifndef NECO_CODEC_MODELS_H
#define NECO_CODEC_MODELS_H
#include "buffer.h"
#include "context.h"

struct sha256_state;

typedef struct codec_model {
    const char *id;
    const char *description;
    unsigned media;     /* bit mask: 1 << NECO_MEDIA_IMAGE, 1 << NECO_MEDIA_AUDIO */
    int quality_levels; /* for models without weights; others ask levels() */
    int default_quality;
    /* Models with weights: the file in the weights folder, and the state made from it, loaded
     * once per context on first use. */
    const char *weights_file;
    neco_status (*load)(neco_context *ctx, const char *path, void **state);
    void (*unload)(void *state);
    const uint8_t *(*hash)(const void *state); /* NECO_WEIGHTS_HASH_SIZE bytes */
    int (*levels)(const void *state);
    /* Sets the unit layout (tile size or chunk length) for a stream about to be encoded. */
    void (*layout)(neco_info *info);
    /* Appends the payload of tile `index` of image (described by info) to out. state is the
     * model's loaded state (NULL for models without weights). */
    neco_status (*encode_tile)(neco_context *ctx, void *state, const neco_image *image,
                               const neco_info *info, uint32_t index, bytebuf *out);
    /* Decodes tile `index` from its payload into image (allocated by the caller to info's size). */
    neco_status (*decode_tile)(neco_context *ctx, void *state, const neco_info *info,
                               uint32_t index, const uint8_t *payload, size_t size,
                               neco_image *image);
    /* Feeds the entropy-decoded symbols of unit `index` to the hash (int32 little-endian, in
     * coding order), for conformance digests; NULL: the payload bytes are the symbols. */
    neco_status (*unit_symbols)(neco_context *ctx, void *state, const neco_info *info,
                                uint32_t index, const uint8_t *payload, size_t size,
                                struct sha256_state *hash);
    neco_status (*encode_chunk)(neco_context *ctx, void *state, const neco_audio *audio,
                                const neco_info *info, uint32_t index, bytebuf *out);
    /* Decodes chunk `index` from its payload into audio, which holds exactly the chunk's frames
     * (its first frame is the chunk's first frame; allocated by the caller). */
    neco_status (*decode_chunk)(neco_context *ctx, void *state, const neco_info *info,
                                uint32_t index, const uint8_t *payload, size_t size,
                                neco_audio *audio);
} codec_model;

/* The index of a model in the registry (below CODEC_MAX_MODELS, context.h). */
int codec_model_index(const codec_model *model);

/* The loaded state of a model with weights (loading it on first use), or NULL for a model
 * without. Fails with NECO_ERR_MODEL naming the file when the weights are missing or wrong. */
neco_status codec_model_state(neco_context *ctx, const codec_model *model, void **state);

/* Quality levels of a model (its state decides for models with weights). */
int codec_model_levels(const codec_model *model, const void *state);

/* Reads a weights file, names it by the first 16 bytes of its SHA-256 (BITSTREAM.md 1.2) and
 * parses it with the strict safetensors loader; its metadata must say `"model": model_id`.
 * Fails with NECO_ERR_MODEL (or NO_MEMORY) and a message naming the model and the file. */
struct nn_weights;
neco_status codec_load_weights(neco_context *ctx, const char *model_id, const char *path,
                               struct nn_weights **weights, uint8_t hash[NECO_WEIGHTS_HASH_SIZE]);

/* An integer metadata entry of a weights file in [lo, hi]; 0, or -1 when missing or wrong. */
int codec_meta_int(const struct nn_weights *weights, const char *key, int lo, int hi, int *out);

/* Writes the rANS stream of what enc holds to the end of out (a unit's payload). */
struct neco_rans_encoder;
neco_status codec_flush_rans(neco_context *ctx, struct neco_rans_encoder *enc, bytebuf *out);

/* The model with this id, or NULL. */
const codec_model *codec_find_model(const char *id);

/* The default model for a media type. */
const codec_model *codec_default_model(neco_media media);

/* The rectangle of tile `index` (raster order) of an image described by info. */
void codec_tile_rect(const neco_info *info, uint32_t index, uint32_t *x, uint32_t *y, uint32_t *w,
                     uint32_t *h);

/* Unit `index` of a stream coded with `model` (for the models' symbol hooks of tests and
 * conformance): its header, the unit's payload (CRC checked) and the model's loaded state.
 * NECO_ERR_INVALID_ARGUMENT when the stream is another model's or has no such unit. */
neco_status codec_stream_unit(neco_context *ctx, const codec_model *model, const uint8_t *data,
                              size_t size, uint32_t index, neco_info *info,
                              const uint8_t **payload, size_t *len, void **state);

/* Feeds n symbols to a conformance symbols digest: each as int32 little-endian. */
void codec_hash_symbols(struct sha256_state *hash, const int32_t *symbols, size_t n);

/* The first frame and frame count of chunk `index`. */
void codec_chunk_span(const neco_info *info, uint32_t index, uint64_t *first, uint32_t *count);

extern const codec_model codec_model_raw;
extern const codec_model codec_model_img_wave;
extern const codec_model codec_model_img_swin;
extern const codec_model codec_model_aud_wave;
extern const codec_model codec_model_aud_grvq;
extern const codec_model codec_model_aud_grvq_24k;

#endif
