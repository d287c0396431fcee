#include "models.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Registry order is the order of `neco models`; the first model of a media type is its
 * default. raw stays available for testing but is no default where a learned model exists. */
static const codec_model *const codec_models[] = {&codec_model_img_wave, &codec_model_raw,
                                                  &codec_model_aud_wave};
#define MODEL_COUNT ((int)(sizeof codec_models / sizeof codec_models[0]))

const codec_model *codec_find_model(const char *id)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (strcmp(codec_models[i]->id, id) == 0)
            return codec_models[i];
    return NULL;
}

int codec_model_index(const codec_model *model)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (codec_models[i] == model)
            return i;
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
    if (!model->load)
        return NECO_OK;
    int i = codec_model_index(model);
    if (ctx->model_state[i]) {
        *state = ctx->model_state[i];
        return NECO_OK;
    }
    const char *dirs[3] = {ctx->weights_dir, NECO_INSTALLED_WEIGHTS_DIR, NECO_SOURCE_WEIGHTS_DIR};
    char path[1200];
    int found = 0;
    for (int d = 0; d < 3 && !found; d++) {
        if (!dirs[d][0] || (d > 0 && ctx->weights_dir[0]))
            continue;
        snprintf(path, sizeof path, "%s/%s", dirs[d], model->weights_file);
        found = access(path, R_OK) == 0;
    }
    if (!found)
        return codec_fail(ctx, NECO_ERR_MODEL, "model %s: weights file %s not found in %s",
                          model->id, model->weights_file,
                          ctx->weights_dir[0] ? ctx->weights_dir
                                              : NECO_INSTALLED_WEIGHTS_DIR " or " NECO_SOURCE_WEIGHTS_DIR);
    neco_status st = model->load(ctx, path, &ctx->model_state[i]);
    if (st == NECO_OK)
        *state = ctx->model_state[i];
    return st;
}

const codec_model *codec_default_model(neco_media media)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (codec_models[i]->media & (1u << media))
            return codec_models[i];
    return NULL;
}

int neco_model_count(void) { return MODEL_COUNT; }

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
