#include "models.h"

#include "container.h"

#include "entropy/rans.h"
#include "nets/safetensors.h"
#include "sha256.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Registry order is the order of `neco models`; the first model of a media type is its
 * default. raw stays available for testing but is no default where a learned model exists. */
static const codec_model *const codec_models[] = {&codec_model_img_wave, &codec_model_img_swin,
                                                  &codec_model_raw,      &codec_model_aud_wave,
                                                  &codec_model_aud_grvq, &codec_model_aud_grvq_24k};
#define MODEL_COUNT ((int)(sizeof codec_models / sizeof codec_models[0]))

const codec_model *codec_find_model(const char *id)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (strcmp(codec_models[i]->id, id) == 0) return codec_models[i];
    return NULL;
}

int codec_model_index(const codec_model *model)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (codec_models[i] == model) return i;
    return -1;
}

int codec_model_levels(const codec_model *model, const void *state)
{
    return model->levels && state ? model->levels(state) : model->quality_levels;
}

/* Where weights are looked for when the context names no folder: the installed folder, then
 * the source tree's weights/ (so that a build tree works without installing). */
#ifndef NECO_INSTALLED_WEIGHTS_DIR
#define NECO_INSTALLED_WEIGHTS_DIR ""
#endif
#ifndef NECO_SOURCE_WEIGHTS_DIR
#define NECO_SOURCE_WEIGHTS_DIR ""
#endif

neco_status codec_model_state(neco_context *ctx, const codec_model *model, void **state)
{
    *state = NULL;
    if (!model->load) return NECO_OK;
    int i = codec_model_index(model);
    if (ctx->model_state[i]) {
        *state = ctx->model_state[i];
        return NECO_OK;
    }
    const char *dirs[3] = {ctx->weights_dir, NECO_INSTALLED_WEIGHTS_DIR, NECO_SOURCE_WEIGHTS_DIR};
    char path[1200];
    int found = 0;
    for (int d = 0; d < 3 && !found; d++) {
        if (!dirs[d][0] || (d > 0 && ctx->weights_dir[0])) continue;
        snprintf(path, sizeof path, "%s/%s", dirs[d], model->weights_file);
        found = access(path, R_OK) == 0;
    }
    if (!found)
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: weights file %s not found in %s",
                          model->id, model->weights_file,
                          ctx->weights_dir[0] ? ctx->weights_dir
                                              : NECO_INSTALLED_WEIGHTS_DIR
                              " or " NECO_SOURCE_WEIGHTS_DIR);
    neco_status st = model->load(ctx, path, &ctx->model_state[i]);
    if (st == NECO_OK) *state = ctx->model_state[i];
    return st;
}

const codec_model *codec_default_model(neco_media media)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (codec_models[i]->media & (1u << media)) return codec_models[i];
    return NULL;
}

int neco_model_count(void)
{
    return MODEL_COUNT;
}

const char *neco_model_id(int index)
{
    return index >= 0 && index < MODEL_COUNT ? codec_models[index]->id : NULL;
}

const char *neco_model_description(int index)
{
    return index >= 0 && index < MODEL_COUNT ? codec_models[index]->description : NULL;
}

void codec_tile_rect(const neco_info *info, uint32_t index, uint32_t *x, uint32_t *y, uint32_t *w,
                     uint32_t *h)
{
    uint32_t cols = (info->width + info->tile_width - 1) / info->tile_width;
    *x = (index % cols) * info->tile_width;
    *y = (index / cols) * info->tile_height;
    *w = info->width - *x < info->tile_width ? info->width - *x : info->tile_width;
    *h = info->height - *y < info->tile_height ? info->height - *y : info->tile_height;
}

void codec_chunk_span(const neco_info *info, uint32_t index, uint64_t *first, uint32_t *count)
{
    *first = (uint64_t)index * info->chunk_frames;
    uint64_t left = info->frames - *first;
    *count = left < info->chunk_frames ? (uint32_t)left : info->chunk_frames;
}

neco_status codec_load_weights(neco_context *ctx, const char *model_id, const char *path,
                               nn_weights **weights, uint8_t hash[NECO_WEIGHTS_HASH_SIZE])
{
    *weights = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: cannot open weights %s", model_id, path);
    uint8_t *buf = NULL;
    size_t size = 0, cap = 0, first = (size_t)1 << 20;
    /* One buffer of the file's size (+1 to see the end) when it is known: growing by doubling
     * from 1 MiB copied and page-faulted the weights ~3 times at every start (the first img-swin's
     * 19 MB cost that measurably). */
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (end >= 0 && (unsigned long)end < SIZE_MAX / 2) first = (size_t)end + 1;
        if (fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            return codec_fail(ctx, NECO_ERR_MODEL, "model %s: cannot read weights %s", model_id,
                              path);
        }
    }
    for (;;) {
        if (size == cap) {
            size_t ncap = cap ? cap * 2 : first;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory loading %s", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + size, 1, cap - size, f);
        size += got;
        if (got == 0) break;
    }
    fclose(f);
    sha256_state sh;
    uint8_t digest[32];
    sha256_init(&sh);
    sha256_update(&sh, buf, size);
    sha256_final(&sh, digest);
    memcpy(hash, digest, NECO_WEIGHTS_HASH_SIZE);
    char err[200];
    int rc = nn_weights_load_memory(buf, size, weights, err, sizeof err);
    free(buf);
    if (rc != NN_OK)
        return codec_fail(ctx, rc == NN_ERR_NOMEM ? NECO_ERR_NO_MEMORY : NECO_ERR_MODEL,
                          "model %s: %s: %s", model_id, path, err);
    const char *model = nn_weights_metadata(*weights, "model");
    if (!model || strcmp(model, model_id) != 0) {
        /* the message first: `model` points into the weights */
        neco_status st =
            codec_fail(ctx, NECO_ERR_MODEL, "model %s: %s holds the weights of model '%s'",
                       model_id, path, model ? model : "(none)");
        nn_weights_free(*weights);
        *weights = NULL;
        return st;
    }
    return NECO_OK;
}

int codec_meta_int(const nn_weights *weights, const char *key, int lo, int hi, int *out)
{
    const char *v = nn_weights_metadata(weights, key);
    if (!v) return -1;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

neco_status codec_flush_rans(neco_context *ctx, neco_rans_encoder *enc, bytebuf *out)
{
    size_t bound = neco_rans_encoder_bound(enc), size = 0;
    uint8_t *dst = bytebuf_extend(out, bound);
    if (!dst) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    if (neco_rans_encoder_flush(enc, dst, bound, &size) != NECO_ENTROPY_OK)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "entropy coding failed");
    out->size -= bound - size;
    return NECO_OK;
}

neco_status codec_stream_unit(neco_context *ctx, const codec_model *model, const uint8_t *data,
                              size_t size, uint32_t index, neco_info *info,
                              const uint8_t **payload, size_t *len, void **state)
{
    neco_status st = neco_read_info(ctx, data, size, info);
    if (st != NECO_OK) return st;
    if (strcmp(info->model, model->id) != 0 || index >= info->units)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "not an %s stream or no unit %u",
                          model->id, index);
    size_t pos = info->header_size;
    for (uint32_t i = 0; i <= index && st == NECO_OK; i++)
        st = container_next_unit(ctx, info, data, size, &pos, i, payload, len);
    if (st == NECO_OK) st = codec_model_state(ctx, model, state);
    return st;
}

void codec_hash_symbols(sha256_state *hash, const int32_t *symbols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t le[4];
        store_u32(le, (uint32_t)symbols[i]);
        sha256_update(hash, le, 4);
    }
}
