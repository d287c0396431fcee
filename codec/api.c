/* The public API (neco.h): contexts, encode, decode, info. The container and models do the
 * work; this file checks arguments, owns allocations and reports progress and errors. */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include <neco/neco.h>

#include "container.h"
#include "models.h"
#include "parallel.h"
#include "sha256.h"
#include "nets/ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NECO_VERSION_STRING
#define NECO_VERSION_STRING "0.0.0"
#endif

const char *neco_version_string(void) { return NECO_VERSION_STRING; }

const char *neco_status_string(neco_status status)
{
    switch (status) {
    case NECO_OK: return "success";
    case NECO_ERR_INVALID_ARGUMENT: return "invalid argument";
    case NECO_ERR_NO_MEMORY: return "out of memory";
    case NECO_ERR_BITSTREAM: return "invalid bitstream";
    case NECO_ERR_TRUNCATED: return "truncated bitstream";
    case NECO_ERR_CRC: return "CRC mismatch";
    case NECO_ERR_UNSUPPORTED: return "unsupported";
    case NECO_ERR_LIMIT: return "size limit exceeded";
    case NECO_ERR_MODEL: return "model or weights unavailable";
    case NECO_ERR_BACKEND: return "backend unavailable";
    }
    return "unknown status";
}

size_t neco_sample_size(neco_sample_format format)
{
    switch (format) {
    case NECO_SAMPLE_S16: return 2;
    case NECO_SAMPLE_S24:
    case NECO_SAMPLE_S32:
    case NECO_SAMPLE_F32: return 4;
    }
    return 0;
}

size_t neco_image_data_size(const neco_image *image)
{
    return (size_t)image->width * image->height * image->channels * (image->bit_depth / 8);
}

void neco_free(void *pointer) { free(pointer); }

neco_status codec_fail(neco_context *ctx, neco_status status, const char *fmt, ...)
{
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
        va_end(ap);
    }
    return status;
}

void codec_progress(const neco_context *ctx, double fraction)
{
    if (ctx->config.progress)
        ctx->config.progress(ctx->config.progress_user, fraction);
}

/* ---- Context ------------------------------------------------------------------------------ */

void neco_config_default(neco_config *config) { memset(config, 0, sizeof *config); }

/* The fastest backend compiled in (ARCHITECTURE.md: the default is the fastest available). */
static const char *default_backend(void)
{
    return nn_backend_available("onednn") ? "onednn" : "ref";
}

neco_status neco_backend_check(const char *backend, char *message, size_t size)
{
    if (message && size) message[0] = 0;
    if (!backend || !*backend) backend = default_backend();
    if (strcmp(backend, "ref") && strcmp(backend, "onednn") && strcmp(backend, "cuda"))
        return NECO_ERR_INVALID_ARGUMENT;
    if (!nn_backend_available(backend)) {
        if (message && size)
            snprintf(message, size, "backend '%s' is not available in this build", backend);
        return NECO_ERR_BACKEND;
    }
    nn_context *c;
    int rc = nn_context_create(backend, 1, &c, message, size);
    if (rc) return rc == NN_ERR_NOMEM ? NECO_ERR_NO_MEMORY : NECO_ERR_BACKEND;
    nn_context_destroy(c);
    return NECO_OK;
}

neco_status neco_context_create(const neco_config *config, neco_context **context)
{
    if (!context)
        return NECO_ERR_INVALID_ARGUMENT;
    *context = NULL;
    neco_config c;
    if (config)
        c = *config;
    else
        neco_config_default(&c);
    if (c.threads < 0 || c.threads > 1024)
        return NECO_ERR_INVALID_ARGUMENT;
    const char *backend = c.backend && *c.backend ? c.backend : default_backend();
    if (strcmp(backend, "ref") && strcmp(backend, "onednn") && strcmp(backend, "cuda"))
        return NECO_ERR_INVALID_ARGUMENT;
    if (!nn_backend_available(backend))
        return NECO_ERR_BACKEND;
    if (c.weights_dir && strlen(c.weights_dir) >= sizeof(((neco_context *)0)->weights_dir))
        return NECO_ERR_INVALID_ARGUMENT;
    neco_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NECO_ERR_NO_MEMORY;
    if (c.max_pixels == 0)
        c.max_pixels = CODEC_DEFAULT_MAX_PIXELS;
    if (c.max_frames == 0)
        c.max_frames = CODEC_DEFAULT_MAX_FRAMES;
    if (c.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.threads = n < 1 ? 1 : n > 64 ? 64 : (int)n;
    }
    snprintf(ctx->backend, sizeof ctx->backend, "%s", backend);
    c.backend = ctx->backend;
    if (c.weights_dir)
        snprintf(ctx->weights_dir, sizeof ctx->weights_dir, "%s", c.weights_dir);
    c.weights_dir = ctx->weights_dir;
    ctx->config = c;
    int rc = nn_context_create(backend, c.threads, &ctx->nn, ctx->error, sizeof ctx->error);
    if (rc != 0) {
        free(ctx);
        return rc == NN_ERR_NOMEM ? NECO_ERR_NO_MEMORY : NECO_ERR_BACKEND;
    }
    *context = ctx;
    return NECO_OK;
}

void neco_context_destroy(neco_context *context)
{
    if (!context)
        return;
    for (int i = 0; i < neco_model_count(); i++) {
        const codec_model *m = codec_find_model(neco_model_id(i));
        if (context->model_state[i] && m->unload)
            m->unload(context->model_state[i]);
    }
    nn_context_destroy(context->nn);
    for (int t = 0; context->worker_nn && t < context->config.threads; t++)
        nn_context_destroy(context->worker_nn[t]);
    free(context->worker_nn);
    free(context);
}

const char *neco_context_error(const neco_context *context)
{
    return context ? context->error : "";
}

/* ---- Encoding ----------------------------------------------------------------------------- */

void neco_encode_params_default(neco_encode_params *params)
{
    memset(params, 0, sizeof *params);
}

/* Finds the model (loading its weights) and quality of an encode request and fills the common
 * header fields. */
static neco_status encode_setup(neco_context *ctx, const neco_encode_params *params,
                                neco_media media, const codec_model **model, void **state,
                                neco_info *info)
{
    neco_encode_params p;
    if (params)
        p = *params;
    else
        neco_encode_params_default(&p);
    const codec_model *m = p.model ? codec_find_model(p.model) : codec_default_model(media);
    if (!m)
        return codec_fail(ctx, NECO_ERR_MODEL, "unknown model '%s'", p.model ? p.model : "");
    if (!(m->media & (1u << media)))
        return codec_fail(ctx, NECO_ERR_MODEL, "model '%s' does not code %s", m->id,
                          media == NECO_MEDIA_IMAGE ? "images" : "audio");
    neco_status st = codec_model_state(ctx, m, state);
    if (st != NECO_OK)
        return st;
    int levels = codec_model_levels(m, *state);
    int quality = p.quality ? p.quality : m->default_quality;
    if (quality > levels && !p.quality)
        quality = levels;
    if (quality < 1 || quality > levels)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT,
                          "quality %d out of range: model '%s' has levels 1..%d", p.quality, m->id,
                          levels);
    memset(info, 0, sizeof *info);
    info->version = CONTAINER_VERSION;
    info->media = media;
    snprintf(info->model, sizeof info->model, "%s", m->id);
    if (*state)
        memcpy(info->weights_hash, m->hash(*state), NECO_WEIGHTS_HASH_SIZE);
    info->quality = (uint32_t)quality;
    m->layout(info);
    *model = m;
    return NECO_OK;
}

static neco_status encode_finish(neco_context *ctx, bytebuf *out, uint8_t **data, size_t *size)
{
    if (out->failed) {
        bytebuf_free(out);
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    }
    *data = out->data;
    *size = out->size;
    return NECO_OK;
}

/* One encode job: the input, the model and one output buffer per unit. */
typedef struct encode_job {
    const codec_model *model;
    void *state;
    const neco_info *info;
    const neco_image *image;
    const neco_audio *audio;
    bytebuf *units;
} encode_job;

static neco_status encode_unit(neco_context *ctx, uint32_t index, void *arg)
{
    encode_job *j = arg;
    bytebuf *out = &j->units[index];
    neco_status st = j->image
                         ? j->model->encode_tile(ctx, j->state, j->image, j->info, index, out)
                         : j->model->encode_chunk(ctx, j->state, j->audio, j->info, index, out);
    if (st == NECO_OK && (out->failed || out->size > UINT32_MAX))
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    return st;
}

/* Codes every unit (in parallel where the context allows) and writes header and units. */
static neco_status encode_units(neco_context *ctx, encode_job *j, bytebuf *out)
{
    const neco_info *info = j->info;
    j->units = calloc(info->units ? info->units : 1, sizeof(bytebuf));
    if (!j->units)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    neco_status st = codec_for_each_unit(ctx, info->units, encode_unit, j);
    bytebuf_init(out);
    if (st == NECO_OK) {
        container_write_header(out, info);
        for (uint32_t i = 0; i < info->units; i++)
            container_write_unit(out, j->units[i].data, j->units[i].size);
        if (out->failed)
            st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    }
    for (uint32_t i = 0; i < info->units; i++)
        bytebuf_free(&j->units[i]);
    free(j->units);
    if (st != NECO_OK)
        bytebuf_free(out);
    return st;
}

/* Rate control: the highest quality level whose stream fits in `budget` bytes, by bisection
 * over the levels (the rate grows with the level). On NECO_ERR_LIMIT (no level fits), out->size
 * is the size of the smallest stream tried, for the message, and out holds no data. */
static neco_status encode_within(neco_context *ctx, encode_job *j, neco_info *info, double budget,
                                 bytebuf *out)
{
    int lo = 1, hi = codec_model_levels(j->model, j->state);
    bytebuf best, buf;
    bytebuf_init(&best);
    size_t smallest = SIZE_MAX;
    while (lo <= hi) {
        int q = (lo + hi) / 2;
        info->quality = (uint32_t)q;
        neco_status st = encode_units(ctx, j, &buf);
        if (st != NECO_OK) {
            bytebuf_free(&best);
            return st;
        }
        if (buf.size < smallest)
            smallest = buf.size;
        if ((double)buf.size <= budget) {
            bytebuf_free(&best);
            best = buf;
            lo = q + 1;
        } else {
            bytebuf_free(&buf);
            hi = q - 1;
        }
    }
    *out = best;
    if (!best.data) {
        out->size = smallest;
        return NECO_ERR_LIMIT;
    }
    return NECO_OK;
}

neco_status neco_encode_image(neco_context *ctx, const neco_image *image,
                              const neco_encode_params *params, uint8_t **out, size_t *out_size)
{
    if (!ctx || !image || !out || !out_size)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "NULL argument");
    *out = NULL;
    *out_size = 0;
    if (!image->data)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "image has no data");
    if (params && (params->bpp < 0 || params->bpp != params->bpp))
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "invalid bit budget");
    encode_job j = {0};
    neco_info info;
    neco_status st = encode_setup(ctx, params, NECO_MEDIA_IMAGE, &j.model, &j.state, &info);
    if (st != NECO_OK)
        return st;
    info.width = image->width;
    info.height = image->height;
    info.channels = image->channels;
    info.bit_depth = image->bit_depth;
    if ((st = container_check_info(ctx, &info)) != NECO_OK)
        return st == NECO_ERR_BITSTREAM ? NECO_ERR_INVALID_ARGUMENT : st;
    j.info = &info;
    j.image = image;
    bytebuf buf;
    if (!params || params->bpp == 0) {
        if ((st = encode_units(ctx, &j, &buf)) != NECO_OK)
            return st;
        return encode_finish(ctx, &buf, out, out_size);
    }
    /* Rate control: a budget in bits per pixel. */
    double pixels = (double)image->width * image->height;
    if ((st = encode_within(ctx, &j, &info, params->bpp * pixels / 8.0, &buf)) != NECO_OK) {
        if (st == NECO_ERR_LIMIT)
            codec_fail(ctx, st, "cannot meet %.4f bpp: the lowest quality of model '%s' needs %.4f bpp",
                       params->bpp, j.model->id, buf.size * 8.0 / pixels);
        return st;
    }
    return encode_finish(ctx, &buf, out, out_size);
}

neco_status neco_encode_audio(neco_context *ctx, const neco_audio *audio,
                              const neco_encode_params *params, uint8_t **out, size_t *out_size)
{
    if (!ctx || !audio || !out || !out_size)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "NULL argument");
    *out = NULL;
    *out_size = 0;
    if (!audio->data && audio->frames)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "audio has no data");
    if (params && (params->kbps < 0 || params->kbps != params->kbps))
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "invalid bit budget");
    encode_job j = {0};
    neco_info info;
    neco_status st = encode_setup(ctx, params, NECO_MEDIA_AUDIO, &j.model, &j.state, &info);
    if (st != NECO_OK)
        return st;
    info.sample_rate = audio->sample_rate;
    info.audio_channels = audio->channels;
    info.frames = audio->frames;
    info.sample_format = audio->format;
    if ((st = container_check_info(ctx, &info)) != NECO_OK)
        return st == NECO_ERR_BITSTREAM ? NECO_ERR_INVALID_ARGUMENT : st;
    if (audio->format == NECO_SAMPLE_S24) {
        const int32_t *s = audio->data;
        for (uint64_t i = 0; i < audio->frames * audio->channels; i++)
            if (s[i] < -(1 << 23) || s[i] >= (1 << 23))
                return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT,
                                  "24-bit sample %llu out of range", (unsigned long long)i);
    }
    j.info = &info;
    j.audio = audio;
    bytebuf buf;
    if (!params || params->kbps == 0) {
        if ((st = encode_units(ctx, &j, &buf)) != NECO_OK)
            return st;
        return encode_finish(ctx, &buf, out, out_size);
    }
    /* Rate control: a budget in kilobits per second of audio (whole file). */
    double seconds = audio->sample_rate ? (double)audio->frames / audio->sample_rate : 0;
    if ((st = encode_within(ctx, &j, &info, params->kbps * 1000.0 / 8.0 * seconds, &buf)) !=
        NECO_OK) {
        if (st == NECO_ERR_LIMIT)
            codec_fail(ctx, st, "cannot meet %.1f kbps: the lowest quality of model '%s' needs %.1f kbps",
                       params->kbps, j.model->id,
                       seconds > 0 ? buf.size * 8.0 / seconds / 1000.0 : 0.0);
        return st;
    }
    return encode_finish(ctx, &buf, out, out_size);
}

/* ---- Decoding ----------------------------------------------------------------------------- */

/* neco_read_info and neco_read_header: header parsing needs the limits; a NULL context means
 * the defaults. */
static neco_status read_header_with(neco_context *ctx, const uint8_t *data, size_t size,
                                    neco_info *info,
                                    neco_status (*parse)(neco_context *, const uint8_t *, size_t,
                                                         neco_info *))
{
    if (!data || !info)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "NULL argument");
    if (!ctx) {
        neco_context tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.config.max_pixels = CODEC_DEFAULT_MAX_PIXELS;
        tmp.config.max_frames = CODEC_DEFAULT_MAX_FRAMES;
        return parse(&tmp, data, size, info);
    }
    return parse(ctx, data, size, info);
}

neco_status neco_read_info(neco_context *ctx, const uint8_t *data, size_t size, neco_info *info)
{
    return read_header_with(ctx, data, size, info, container_read_header);
}

neco_status neco_read_header(neco_context *ctx, const uint8_t *data, size_t size,
                             neco_info *info)
{
    return read_header_with(ctx, data, size, info, container_parse_header);
}

static void hash_hex(const uint8_t *h, char out[2 * NECO_WEIGHTS_HASH_SIZE + 1])
{
    for (int i = 0; i < NECO_WEIGHTS_HASH_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

void neco_decoded_free(neco_decoded *decoded)
{
    if (!decoded)
        return;
    free(decoded->image.data);
    free(decoded->audio.data);
    memset(decoded, 0, sizeof *decoded);
}

typedef struct unit_span {
    const uint8_t *data;
    size_t size;
    neco_status status; /* not NECO_OK: the unit is damaged or missing (conceal mode) */
} unit_span;

typedef struct decode_job {
    const codec_model *model;
    void *state;
    const neco_info *info;
    unit_span *units;
    neco_image *image;
    neco_audio *audio;
} decode_job;

/* Fills a unit that cannot be decoded: mid-gray (alpha opaque) or silence. */
static void conceal_unit(const neco_info *info, uint32_t index, neco_image *img, neco_audio *au)
{
    if (info->media == NECO_MEDIA_AUDIO) {
        uint64_t first;
        uint32_t count;
        codec_chunk_span(info, index, &first, &count);
        size_t bps = neco_sample_size(au->format);
        memset((uint8_t *)au->data + first * au->channels * bps, 0,
               (size_t)count * au->channels * bps);
        return;
    }
    uint32_t x0, y0, w, h;
    codec_tile_rect(info, index, &x0, &y0, &w, &h);
    int has_alpha = img->channels == 2 || img->channels == 4;
    for (uint32_t y = y0; y < y0 + h; y++)
        for (uint32_t x = x0; x < x0 + w; x++)
            for (uint32_t c = 0; c < img->channels; c++) {
                size_t i = ((size_t)y * img->width + x) * img->channels + c;
                int alpha = has_alpha && c == img->channels - 1;
                if (img->bit_depth == 8)
                    ((uint8_t *)img->data)[i] = alpha ? 255 : 128;
                else
                    ((uint16_t *)img->data)[i] = alpha ? 65535 : 32896;
            }
}

/* The model, loaded state and checked quality of a stream about to be decoded: what
 * neco_decode and neco_decode_audio_chunk both check before decoding any unit. */
static neco_status decode_setup(neco_context *ctx, const neco_info *info,
                                const codec_model **model_out, void **state_out)
{
    const codec_model *model = codec_find_model(info->model);
    if (!model || !(model->media & (1u << info->media)))
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "the stream needs model '%s', which this decoder does not have",
                          info->model);
    void *state;
    neco_status st = codec_model_state(ctx, model, &state);
    if (st != NECO_OK)
        return st;
    /* The stream names the weights it was made with; other weights would decode garbage. */
    static const uint8_t no_weights[NECO_WEIGHTS_HASH_SIZE];
    const uint8_t *have = state ? model->hash(state) : no_weights;
    if (memcmp(have, info->weights_hash, NECO_WEIGHTS_HASH_SIZE) != 0) {
        char want[2 * NECO_WEIGHTS_HASH_SIZE + 1], got[2 * NECO_WEIGHTS_HASH_SIZE + 1];
        hash_hex(info->weights_hash, want);
        hash_hex(have, got);
        return codec_fail(ctx, NECO_ERR_MODEL,
                          "the stream needs model '%s' with weights %s; this decoder has %s",
                          model->id, want, state ? got : "no weights for it");
    }
    if (info->quality < 1 || info->quality > (uint32_t)codec_model_levels(model, state))
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "quality %u out of range for model '%s'",
                          info->quality, model->id);
    *model_out = model;
    *state_out = state;
    return NECO_OK;
}

/* Decodes the payload of unit `index` into the stream-sized image or audio (the model writes
 * the unit's pixels or frames at their place in it). */
static neco_status decode_payload(neco_context *ctx, const codec_model *model, void *state,
                                  const neco_info *info, uint32_t index, const uint8_t *payload,
                                  size_t size, neco_image *image, neco_audio *audio)
{
    if (info->media == NECO_MEDIA_IMAGE)
        return model->decode_tile(ctx, state, info, index, payload, size, image);
    /* A model writes a chunk's frames from the start of the buffer it gets: here, the view of
     * the stream-sized audio at the chunk's first frame. */
    uint64_t first;
    uint32_t count;
    codec_chunk_span(info, index, &first, &count);
    neco_audio chunk = *audio;
    chunk.data = (uint8_t *)audio->data +
                 (size_t)first * audio->channels * neco_sample_size(audio->format);
    chunk.frames = count;
    return model->decode_chunk(ctx, state, info, index, payload, size, &chunk);
}

static neco_status decode_unit(neco_context *ctx, uint32_t index, void *arg)
{
    decode_job *j = arg;
    unit_span *u = &j->units[index];
    if (u->status == NECO_OK)
        u->status = decode_payload(ctx, j->model, j->state, j->info, index, u->data, u->size,
                                   j->image, j->audio);
    if (u->status != NECO_OK && ctx->config.conceal) {
        conceal_unit(j->info, index, j->image, j->audio);
        return NECO_OK;
    }
    return u->status;
}

neco_status neco_decode(neco_context *ctx, const uint8_t *data, size_t size, neco_decoded *out)
{
    if (!ctx || !data || !out)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "NULL argument");
    memset(out, 0, sizeof *out);
    neco_info info;
    neco_status st = container_read_header(ctx, data, size, &info);
    if (st != NECO_OK)
        return st;
    const codec_model *model;
    void *state;
    if ((st = decode_setup(ctx, &info, &model, &state)) != NECO_OK)
        return st;
    /* Every unit is located and checked before the output is allocated, so a lying header
     * costs nothing. (Concealing decoders allocate the unit list first; the header check
     * already bounds it by the file size.) */
    if (!ctx->config.conceal && (st = container_check_units(ctx, &info, data, size)) != NECO_OK)
        return st;
    decode_job j = {model, state, &info, NULL, &out->image, &out->audio};
    j.units = calloc(info.units ? info.units : 1, sizeof *j.units);
    if (!j.units)
        return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    size_t pos = info.header_size;
    char first_error[sizeof ctx->error] = "";
    for (uint32_t i = 0; i < info.units; i++) {
        unit_span *u = &j.units[i];
        u->status = container_next_unit(ctx, &info, data, size, &pos, i, &u->data, &u->size);
        if (u->status == NECO_ERR_TRUNCATED)
            for (uint32_t k = i + 1; k < info.units; k++)
                j.units[k].status = NECO_ERR_TRUNCATED;
        if (u->status != NECO_OK && !first_error[0])
            memcpy(first_error, ctx->error, sizeof first_error);
        if (u->status == NECO_ERR_TRUNCATED)
            break;
    }
    if (info.media == NECO_MEDIA_IMAGE) {
        neco_image *img = &out->image;
        img->width = info.width;
        img->height = info.height;
        img->channels = info.channels;
        img->bit_depth = info.bit_depth;
        img->data = malloc(neco_image_data_size(img));
    } else {
        neco_audio *au = &out->audio;
        au->sample_rate = info.sample_rate;
        au->channels = info.audio_channels;
        au->frames = info.frames;
        au->format = info.sample_format;
        size_t bytes = (size_t)info.frames * info.audio_channels * neco_sample_size(au->format);
        au->data = malloc(bytes ? bytes : 1);
    }
    if (!out->image.data && !out->audio.data)
        st = codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    else
        st = codec_for_each_unit(ctx, info.units, decode_unit, &j);
    if (st == NECO_OK && ctx->config.conceal) {
        /* The first damaged unit in stream order explains what was concealed. */
        for (uint32_t i = 0; i < info.units; i++)
            if (j.units[i].status != NECO_OK) {
                if (!out->concealed && !first_error[0])
                    codec_fail(ctx, j.units[i].status, "%s %u could not be decoded",
                               container_unit_name(&info), i);
                out->concealed++;
            }
        if (first_error[0])
            memcpy(ctx->error, first_error, sizeof ctx->error);
    }
    free(j.units);
    if (st != NECO_OK) {
        neco_decoded_free(out);
        return st;
    }
    out->info = info;
    return NECO_OK;
}

neco_status neco_decode_audio_chunk(neco_context *ctx, const uint8_t *header, size_t header_size,
                                    uint32_t index, const uint8_t *unit, size_t unit_size,
                                    neco_audio *out)
{
    if (!ctx || !header || !out || (!unit && unit_size))
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "NULL argument");
    memset(out, 0, sizeof *out);
    if (!unit)
        unit = (const uint8_t *)""; /* a missing chunk: container_next_unit says so */
    neco_info info;
    neco_status st = container_parse_header(ctx, header, header_size, &info);
    if (st != NECO_OK)
        return st;
    if (header_size < info.header_size)
        return codec_fail(ctx, NECO_ERR_TRUNCATED, "truncated header (%zu of %llu bytes)",
                          header_size, (unsigned long long)info.header_size);
    if (info.media != NECO_MEDIA_AUDIO)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "the stream holds an image, not audio");
    if (index >= info.units)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT,
                          "chunk %u does not exist (the stream has %u)", index, info.units);
    const codec_model *model;
    void *state;
    if ((st = decode_setup(ctx, &info, &model, &state)) != NECO_OK)
        return st;
    const uint8_t *payload;
    size_t size, pos = 0;
    if ((st = container_next_unit(ctx, &info, unit, unit_size, &pos, index, &payload, &size)) !=
        NECO_OK)
        return st;
    if (pos != unit_size)
        return codec_fail(ctx, NECO_ERR_BITSTREAM, "%zu bytes of unexpected data after chunk %u",
                          unit_size - pos, index);
    uint64_t first;
    uint32_t count;
    codec_chunk_span(&info, index, &first, &count);
    size_t bps = neco_sample_size(info.sample_format);
    size_t frame_bytes = (size_t)info.audio_channels * bps;
    /* The model writes the chunk's frames from the start of the buffer (models.h). */
    void *frames = malloc(count ? (size_t)count * frame_bytes : 1);
    if (!frames) return codec_fail(ctx, NECO_ERR_NO_MEMORY, "out of memory");
    neco_audio chunk = {info.sample_rate, info.audio_channels, count, info.sample_format, frames};
    st = model->decode_chunk(ctx, state, &info, index, payload, size, &chunk);
    if (st == NECO_OK)
        *out = chunk;
    else
        free(frames);
    return st;
}

/* ---- Conformance digests ------------------------------------------------------------------ */

static void hash_samples(sha256_state *h, const void *data, size_t count, size_t width)
{
    const uint8_t *p = data;
    uint8_t buf[4096];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (width == 1) {
            buf[n] = p[i];
        } else if (width == 2) {
            store_u16(buf + n, ((const uint16_t *)data)[i]);
        } else {
            store_u32(buf + n, ((const uint32_t *)data)[i]);
        }
        n += width;
        if (n > sizeof buf - 4) {
            sha256_update(h, buf, n);
            n = 0;
        }
    }
    sha256_update(h, buf, n);
}

neco_status neco_stream_digests(neco_context *ctx, const uint8_t *data, size_t size,
                                uint8_t output_sha256[32], uint8_t symbols_sha256[32])
{
    if (!ctx || !data || !output_sha256 || !symbols_sha256)
        return codec_fail(ctx, NECO_ERR_INVALID_ARGUMENT, "NULL argument");
    neco_decoded dec;
    neco_status st = neco_decode(ctx, data, size, &dec);
    if (st != NECO_OK)
        return st;
    sha256_state h;
    sha256_init(&h);
    if (dec.info.media == NECO_MEDIA_IMAGE)
        hash_samples(&h, dec.image.data,
                     (size_t)dec.image.width * dec.image.height * dec.image.channels,
                     dec.image.bit_depth / 8);
    else
        hash_samples(&h, dec.audio.data, (size_t)dec.audio.frames * dec.audio.channels,
                     neco_sample_size(dec.audio.format));
    sha256_final(&h, output_sha256);
    const codec_model *model = codec_find_model(dec.info.model);
    void *state;
    if ((st = codec_model_state(ctx, model, &state)) == NECO_OK) {
        sha256_init(&h);
        size_t pos = dec.info.header_size;
        for (uint32_t i = 0; i < dec.info.units && st == NECO_OK; i++) {
            const uint8_t *payload;
            size_t len;
            st = container_next_unit(ctx, &dec.info, data, size, &pos, i, &payload, &len);
            if (st == NECO_OK && model->unit_symbols)
                st = model->unit_symbols(ctx, state, &dec.info, i, payload, len, &h);
            else if (st == NECO_OK)
                sha256_update(&h, payload, len);
        }
        sha256_final(&h, symbols_sha256);
    }
    neco_decoded_free(&dec);
    return st;
}
