/* The raw model: samples stored uncompressed inside the container, so that the container, the
 * CLI and the file I/O can be tested bit-exactly before any learned model exists.
 * BITSTREAM.md section 1.5. */
#include "models.h"

#include <string.h>

#define RAW_TILE 256           /* tile side in pixels */
#define RAW_CHUNK_FRAMES 16384 /* chunk length in frames */

static void raw_layout(neco_info *info)
{
    info->tile_width = RAW_TILE;
    info->tile_height = RAW_TILE;
    info->chunk_frames = RAW_CHUNK_FRAMES;
}

static size_t raw_image_sample_bytes(const neco_info *info)
{
    return info->bit_depth / 8;
}

/* Bytes a sample takes in a raw payload: 3 for S24, otherwise its size in memory. */
static size_t raw_audio_sample_bytes(neco_sample_format f)
{
    return f == NECO_SAMPLE_S24 ? 3 : neco_sample_size(f);
}

static neco_status raw_encode_tile(neco_context *ctx, void *state, const neco_image *image,
                                   const neco_info *info, uint32_t index, bytebuf *out)
{
    (void)state;
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    size_t bps = raw_image_sample_bytes(info);
    size_t row = (size_t)w * info->channels * bps;
    uint8_t *p = bytebuf_extend(out, row * h);
    if (!p) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    for (uint32_t y = 0; y < h; y++) {
        size_t first = ((size_t)(y0 + y) * image->width + x0) * info->channels;
        if (bps == 1) {
            memcpy(p, (const uint8_t *)image->data + first, row);
            p += row;
        } else {
            const uint16_t *s = (const uint16_t *)image->data + first;
            for (size_t i = 0; i < (size_t)w * info->channels; i++, p += 2)
                store_u16(p, s[i]);
        }
    }
    return NECO_OK;
}

static neco_status raw_decode_tile(neco_context *ctx, void *state, const neco_info *info,
                                   uint32_t index, const uint8_t *payload, size_t size,
                                   neco_image *image)
{
    (void)state;
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    size_t bps = raw_image_sample_bytes(info);
    size_t row = (size_t)w * info->channels * bps;
    if (size != row * h)
        return codec_fail(ctx, NECO_ERR_BITSTREAM,
                          "tile %u: payload is %zu bytes, the raw model needs %zu", index, size,
                          row * h);
    const uint8_t *p = payload;
    for (uint32_t y = 0; y < h; y++) {
        size_t first = ((size_t)(y0 + y) * image->width + x0) * info->channels;
        if (bps == 1) {
            memcpy((uint8_t *)image->data + first, p, row);
            p += row;
        } else {
            uint16_t *d = (uint16_t *)image->data + first;
            for (size_t i = 0; i < (size_t)w * info->channels; i++, p += 2)
                d[i] = load_u16(p);
        }
    }
    return NECO_OK;
}

static neco_status raw_encode_chunk(neco_context *ctx, void *state, const neco_audio *audio,
                                    const neco_info *info, uint32_t index, bytebuf *out)
{
    (void)state;
    uint64_t first;
    uint32_t count;
    codec_chunk_span(info, index, &first, &count);
    size_t n = (size_t)count * info->audio_channels;
    size_t start = (size_t)first * info->audio_channels;
    uint8_t *p = bytebuf_extend(out, n * raw_audio_sample_bytes(info->sample_format));
    if (!p) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    switch (info->sample_format) {
    case NECO_SAMPLE_S16: {
        const int16_t *s = (const int16_t *)audio->data + start;
        for (size_t i = 0; i < n; i++, p += 2)
            store_u16(p, (uint16_t)s[i]);
        break;
    }
    case NECO_SAMPLE_S24: {
        const int32_t *s = (const int32_t *)audio->data + start;
        for (size_t i = 0; i < n; i++, p += 3) {
            uint32_t v = (uint32_t)s[i];
            p[0] = (uint8_t)v;
            p[1] = (uint8_t)(v >> 8);
            p[2] = (uint8_t)(v >> 16);
        }
        break;
    }
    case NECO_SAMPLE_S32:
    case NECO_SAMPLE_F32: {
        /* F32 is stored as the bits of the IEEE-754 binary32 value, so NaNs survive too. */
        const uint32_t *s = (const uint32_t *)audio->data + start;
        for (size_t i = 0; i < n; i++, p += 4)
            store_u32(p, s[i]);
        break;
    }
    }
    return NECO_OK;
}

static neco_status raw_decode_chunk(neco_context *ctx, void *state, const neco_info *info,
                                    uint32_t index, const uint8_t *payload, size_t size,
                                    neco_audio *audio)
{
    (void)state;
    uint64_t first;
    uint32_t count;
    codec_chunk_span(info, index, &first, &count);
    size_t n = (size_t)count * info->audio_channels; /* from the buffer's start (models.h) */
    size_t need = n * raw_audio_sample_bytes(info->sample_format);
    if (size != need)
        return codec_fail(ctx, NECO_ERR_BITSTREAM,
                          "chunk %u: payload is %zu bytes, the raw model needs %zu", index, size,
                          need);
    const uint8_t *p = payload;
    switch (info->sample_format) {
    case NECO_SAMPLE_S16: {
        int16_t *d = (int16_t *)audio->data;
        for (size_t i = 0; i < n; i++, p += 2)
            d[i] = (int16_t)load_u16(p);
        break;
    }
    case NECO_SAMPLE_S24: {
        int32_t *d = (int32_t *)audio->data;
        for (size_t i = 0; i < n; i++, p += 3) {
            uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
            d[i] = (int32_t)(v ^ 0x800000u) - 0x800000; /* sign-extend 24 bits */
        }
        break;
    }
    case NECO_SAMPLE_S32:
    case NECO_SAMPLE_F32: {
        uint32_t *d = (uint32_t *)audio->data;
        for (size_t i = 0; i < n; i++, p += 4)
            d[i] = load_u32(p);
        break;
    }
    }
    return NECO_OK;
}

const codec_model codec_model_raw = {
    .id = "raw",
    .description = "uncompressed samples inside the container (no compression; for testing)",
    .media = (1u << NECO_MEDIA_IMAGE) | (1u << NECO_MEDIA_AUDIO),
    .quality_levels = 1,
    .default_quality = 1,
    .layout = raw_layout,
    .encode_tile = raw_encode_tile,
    .decode_tile = raw_decode_tile,
    .encode_chunk = raw_encode_chunk,
    .decode_chunk = raw_decode_chunk,
};
