#include "container.h"

#include "crc32.h"

#include <string.h>

/* Byte offsets of the header fields (BITSTREAM.md section 1.2). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_MEDIA = 5,
    OFF_QUALITY = 6,
    OFF_FLAGS = 7,
    OFF_MODEL = 8,
    OFF_HASH = 24,
    OFF_MEDIA_FIELDS = 40,
    OFF_HEADER_CRC = 60,
};

const char *container_unit_name(const neco_info *info)
{
    return info->media == NECO_MEDIA_AUDIO ? "chunk" : "tile";
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static int model_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > NECO_MODEL_ID_SIZE)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

neco_status container_check_info(neco_context *ctx, neco_info *info)
{
    const neco_config *cfg = &ctx->config;
    if (!model_id_valid(info->model))
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid model id");
    if (info->quality > 255)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "quality %u out of range", info->quality);
    uint64_t units;
    if (info->media == NECO_MEDIA_IMAGE) {
        if (info->width == 0 || info->height == 0)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "image size %ux%u is empty", info->width,
                              info->height);
        if (info->width > CONTAINER_MAX_DIMENSION || info->height > CONTAINER_MAX_DIMENSION)
            return codec_fail(ctx, NECO_ERR_LIMIT, "image size %ux%u exceeds %u pixels a side",
                              info->width, info->height, CONTAINER_MAX_DIMENSION);
        uint64_t pixels = (uint64_t)info->width * info->height;
        if (pixels > cfg->max_pixels)
            return codec_fail(ctx, NECO_ERR_LIMIT,
                              "image size %ux%u exceeds the limit of %llu pixels", info->width,
                              info->height, (unsigned long long)cfg->max_pixels);
        if (info->channels < 1 || info->channels > 4)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid channel count %u",
                              info->channels);
        if (info->bit_depth != 8 && info->bit_depth != 16)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid bit depth %u", info->bit_depth);
        if (info->tile_width == 0 || info->tile_height == 0 ||
            info->tile_width > CONTAINER_MAX_TILE_DIMENSION ||
            info->tile_height > CONTAINER_MAX_TILE_DIMENSION)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid tile size %ux%u",
                              info->tile_width, info->tile_height);
        units = ceil_div(info->width, info->tile_width) * ceil_div(info->height, info->tile_height);
    } else if (info->media == NECO_MEDIA_AUDIO) {
        if (info->sample_rate == 0 || info->sample_rate > CONTAINER_MAX_SAMPLE_RATE)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid sample rate %u",
                              info->sample_rate);
        if (info->audio_channels == 0 || info->audio_channels > CONTAINER_MAX_CHANNELS)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid channel count %u",
                              info->audio_channels);
        if (neco_sample_size(info->sample_format) == 0)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid sample format %d",
                              (int)info->sample_format);
        if (info->frames > cfg->max_frames)
            return codec_fail(ctx, NECO_ERR_LIMIT, "audio length %llu frames exceeds the limit of %llu",
                              (unsigned long long)info->frames,
                              (unsigned long long)cfg->max_frames);
        if (info->chunk_frames == 0 || info->chunk_frames > CONTAINER_MAX_CHUNK_FRAMES)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid chunk length %u",
                              info->chunk_frames);
        units = ceil_div(info->frames, info->chunk_frames);
    } else {
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "unknown media type %d", (int)info->media);
    }
    if (units > CONTAINER_MAX_UNITS)
        return codec_fail(ctx, NECO_ERR_LIMIT, "%llu %ss exceed the limit of %u",
                          (unsigned long long)units, container_unit_name(info),
                          (unsigned)CONTAINER_MAX_UNITS);
    info->units = (uint32_t)units;
    info->header_size = CONTAINER_HEADER_SIZE;
    return NECO_OK;
}

void container_write_header(bytebuf *out, const neco_info *info)
{
    uint8_t *h = bytebuf_extend(out, CONTAINER_HEADER_SIZE);
    if (!h)
        return;
    memset(h, 0, CONTAINER_HEADER_SIZE);
    memcpy(h + OFF_MAGIC, CONTAINER_MAGIC, 4);
    h[OFF_VERSION] = CONTAINER_VERSION;
    h[OFF_MEDIA] = (uint8_t)info->media;
    h[OFF_QUALITY] = (uint8_t)info->quality;
    h[OFF_FLAGS] = 0;
    memcpy(h + OFF_MODEL, info->model, strlen(info->model));
    memcpy(h + OFF_HASH, info->weights_hash, NECO_WEIGHTS_HASH_SIZE);
    uint8_t *m = h + OFF_MEDIA_FIELDS;
    if (info->media == NECO_MEDIA_IMAGE) {
        store_u32(m, info->width);
        store_u32(m + 4, info->height);
        m[8] = (uint8_t)info->channels;
        m[9] = (uint8_t)info->bit_depth;
        store_u32(m + 12, info->tile_width);
        store_u32(m + 16, info->tile_height);
    } else {
        store_u32(m, info->sample_rate);
        store_u16(m + 4, (uint16_t)info->audio_channels);
        m[6] = (uint8_t)info->sample_format;
        store_u64(m + 8, info->frames);
        store_u32(m + 16, info->chunk_frames);
    }
    store_u32(h + OFF_HEADER_CRC, crc32_update(0, h, OFF_HEADER_CRC));
}

neco_status container_parse_header(neco_context *ctx, const uint8_t *data, size_t size,
                                   neco_info *info)
{
    memset(info, 0, sizeof *info);
    if (size < 4 || memcmp(data, CONTAINER_MAGIC, 4) != 0)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "not a neco file (bad magic)");
    if (size < CONTAINER_HEADER_SIZE)
        return codec_fail(ctx, NECO_ERR_TRUNCATED, "truncated header (%zu of %d bytes)", size,
                          CONTAINER_HEADER_SIZE);
    /* The version is read before the CRC so that a newer file gets the clearer message. */
    if (data[OFF_VERSION] != CONTAINER_VERSION)
        return codec_fail(ctx, NECO_ERR_UNSUPPORTED,
                          "bitstream version %u is not supported (this decoder reads version %d)",
                          data[OFF_VERSION], CONTAINER_VERSION);
    if (crc32_update(0, data, OFF_HEADER_CRC) != load_u32(data + OFF_HEADER_CRC))
        return codec_fail(ctx, NECO_ERR_CRC, "header CRC mismatch: the file is corrupt");
    if (data[OFF_FLAGS] != 0)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "reserved header flags are set");
    info->version = data[OFF_VERSION];
    info->media = (neco_media)data[OFF_MEDIA];
    info->quality = data[OFF_QUALITY];
    /* The model id is NUL-padded; bytes after the first NUL must be NUL too. */
    const uint8_t *id = data + OFF_MODEL;
    size_t n = 0;
    while (n < NECO_MODEL_ID_SIZE && id[n])
        n++;
    for (size_t i = n; i < NECO_MODEL_ID_SIZE; i++)
        if (id[i])
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "invalid model id");
    memcpy(info->model, id, n);
    info->model[n] = 0;
    memcpy(info->weights_hash, data + OFF_HASH, NECO_WEIGHTS_HASH_SIZE);
    const uint8_t *m = data + OFF_MEDIA_FIELDS;
    if (info->media == NECO_MEDIA_IMAGE) {
        info->width = load_u32(m);
        info->height = load_u32(m + 4);
        info->channels = m[8];
        info->bit_depth = m[9];
        if (load_u16(m + 10) != 0)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "reserved header field is set");
        info->tile_width = load_u32(m + 12);
        info->tile_height = load_u32(m + 16);
    } else if (info->media == NECO_MEDIA_AUDIO) {
        info->sample_rate = load_u32(m);
        info->audio_channels = load_u16(m + 4);
        info->sample_format = (neco_sample_format)m[6];
        if (m[7] != 0)
            return codec_fail(ctx, NECO_ERR_BITSTREAM, "reserved header field is set");
        info->frames = load_u64(m + 8);
        info->chunk_frames = load_u32(m + 16);
    }
    return container_check_info(ctx, info);
}

neco_status container_read_header(neco_context *ctx, const uint8_t *data, size_t size,
                                  neco_info *info)
{
    neco_status st = container_parse_header(ctx, data, size, info);
    if (st != NECO_OK)
        return st;
    /* Every unit needs at least its length and CRC: a header that promises more units than
     * the file can hold fails here, before anything is allocated. */
    if ((uint64_t)info->units * CONTAINER_UNIT_OVERHEAD > size - CONTAINER_HEADER_SIZE)
        return codec_fail(ctx, NECO_ERR_TRUNCATED,
                          "truncated file: the header announces %u %ss but only %zu bytes follow",
                          info->units, container_unit_name(info), size - CONTAINER_HEADER_SIZE);
    return NECO_OK;
}

void container_write_unit(bytebuf *out, const uint8_t *payload, size_t size)
{
    uint8_t len[4];
    store_u32(len, (uint32_t)size);
    bytebuf_put(out, len, 4);
    bytebuf_put(out, payload, size);
    bytebuf_put_u32(out, crc32_update(crc32_update(0, len, 4), payload, size));
}

neco_status container_next_unit(neco_context *ctx, const neco_info *info, const uint8_t *data,
                                size_t data_size, size_t *pos, uint32_t index,
                                const uint8_t **payload, size_t *size)
{
    const char *unit = container_unit_name(info);
    size_t p = *pos;
    if (data_size - p < 4)
        return codec_fail(ctx, NECO_ERR_TRUNCATED, "truncated file: %s %u of %u is missing", unit,
                          index, info->units);
    uint32_t len = load_u32(data + p);
    if ((uint64_t)len + 8 > data_size - p)
        return codec_fail(ctx, NECO_ERR_TRUNCATED,
                          "truncated file: %s %u claims %u bytes but only %zu remain", unit, index,
                          len, data_size - p - 4);
    uint32_t crc = crc32_update(0, data + p, 4 + (size_t)len);
    *payload = data + p + 4;
    *size = len;
    *pos = p + 8 + len;
    if (crc != load_u32(data + p + 4 + len))
        return codec_fail(ctx, NECO_ERR_CRC, "CRC mismatch in %s %u: the data is corrupt", unit,
                          index);
    return NECO_OK;
}

neco_status container_check_units(neco_context *ctx, const neco_info *info, const uint8_t *data,
                                  size_t size)
{
    size_t pos = info->header_size;
    for (uint32_t i = 0; i < info->units; i++) {
        const uint8_t *payload;
        size_t len;
        neco_status st = container_next_unit(ctx, info, data, size, &pos, i, &payload, &len);
        if (st != NECO_OK)
            return st;
    }
    if (pos != size)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "%zu bytes of unexpected data after the last %s",
                          size - pos, container_unit_name(info));
    return NECO_OK;
}
