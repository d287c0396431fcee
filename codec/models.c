#include "models.h"

#include <string.h>

/* Until learned models land, raw (uncompressed samples inside the container) is the only one. */
static const codec_model *const codec_models[] = {&codec_model_raw};
#define MODEL_COUNT ((int)(sizeof codec_models / sizeof codec_models[0]))

const codec_model *codec_find_model(const char *id)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (strcmp(codec_models[i]->id, id) == 0)
            return codec_models[i];
    return NULL;
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
