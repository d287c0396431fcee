/*
 * neco audio filter for FFmpeg ("aneco"): the audio passes through the neco audio codec (encode,
 * then decode), chunk by chunk, so that a pipeline hears, measures or keeps what neco makes of
 * it.
 *
 * Part of neco (BSD 2-Clause). It is compiled inside FFmpeg's libavfilter by
 * apps/ffmpeg/build-ffmpeg.sh (the patch apps/ffmpeg/neco-ffmpeg-5.1.patch registers it) and
 * uses only libneco's public API (neco/neco.h) and libavfilter's internal filter API of
 * FFmpeg 5.1 (avfilter.h, filters.h, internal.h, audio.h).
 *
 * Why whole codec chunks, with their neighbours: a neco audio stream is a sequence of chunks of
 * info.chunk_frames frames (conformance/BITSTREAM.md, section 1), each decodable on its own. A
 * learned model may still look past a chunk's edges when it encodes it: aud-wave codes each
 * chunk with 512 samples of the neighbouring signal on both sides, so that the decoded chunks
 * join without a seam (codec/aud_wave.c). Coding FFmpeg's frames as they come (1024, 1152,
 * 4096 samples ...) as separate streams would cut the signal where the model never cuts it and
 * put silence where the neighbours should be: that is where gaps and clicks would come from.
 * So the filter
 *   - asks the model for its chunk length once, by coding a short probe at configuration;
 *   - takes exactly one chunk per step from the input with libavfilter's activate API
 *     (ff_inlink_consume_samples with min = max = chunk; at the end of the stream the shorter
 *     remainder, just as the codec's own last chunk is shorter, so no sample is lost);
 *   - holds one chunk back, and codes chunk k as the middle chunk of the three-chunk signal
 *     (k-1, k, k+1): its payload then sees the same neighbours as inside `neco encode`'s
 *     whole-file stream (any model whose context is at most a chunk wide), so it is the same
 *     bytes and decodes to the same samples. The price is one chunk of latency and up to three
 *     times the coding work; with the raw model (no context) that is a few copies.
 * The output is therefore sample for sample what `neco decode` gives for the `neco encode` of
 * the same audio, seams included, and the CI test (tests/ffmpeg_test.sh) checks exactly that,
 * and the bytes.
 *
 * Sample formats: neco codes interleaved s16, s32 and float; FFmpeg converts anything else
 * (planar formats, u8, double) with its automatically inserted aresample.
 */
#include <math.h>
#include <string.h>

#include <neco/neco.h>

#include "libavutil/channel_layout.h"
#include "libavutil/dict.h"
#include "libavutil/opt.h"
#include "libavutil/samplefmt.h"
#include "audio.h"
#include "avfilter.h"
#include "filters.h"
#include "formats.h"
#include "internal.h"

typedef struct NecoAudioContext {
    const AVClass *class;
    /* options */
    char *model;
    int quality;
    double kbps;
    char *backend;
    int threads;
    char *weights;
    int psnr;
    /* state, set by config_input */
    neco_context *neco;
    neco_sample_format format;
    int chunk_frames;   /* samples per channel taken per call: the model's chunk length */
    int levels;         /* quality levels of the model (probed only when kbps > 0) */
    size_t header_size; /* bytes of a stream's header, counted once per stream */
    int kbps_warned;
    /* the sliding window: the chunk before the one to code next (its left context), and the
     * chunk to code next, held until the chunk after it (its right context) arrives */
    AVFrame *prev, *cur;
    uint8_t *window; /* prev, cur, next interleaved samples, back to back */
    size_t window_size;
} NecoAudioContext;

#define OFFSET(x) offsetof(NecoAudioContext, x)
#define FLAGS (AV_OPT_FLAG_AUDIO_PARAM | AV_OPT_FLAG_FILTERING_PARAM)

/* The compact layout of FFmpeg's own option tables. */
// clang-format off
static const AVOption aneco_options[] = {
    {"model", "neco model id (default: the library's default audio model)", OFFSET(model),
     AV_OPT_TYPE_STRING, {.str = NULL}, 0, 0, FLAGS},
    {"quality", "quality level, 1..the model's levels (0: the model's default)", OFFSET(quality),
     AV_OPT_TYPE_INT, {.i64 = 0}, 0, 255, FLAGS},
    {"kbps", "rate budget per chunk in kbit/s: the highest quality that fits (0: off)",
     OFFSET(kbps), AV_OPT_TYPE_DOUBLE, {.dbl = 0}, 0, 1e6, FLAGS},
    {"backend", "ref, onednn or cuda (default: the fastest available)", OFFSET(backend),
     AV_OPT_TYPE_STRING, {.str = NULL}, 0, 0, FLAGS},
    {"threads", "neco worker threads (0: one per CPU)", OFFSET(threads), AV_OPT_TYPE_INT,
     {.i64 = 0}, 0, 1024, FLAGS},
    {"weights", "folder of the model weights (default: the installed weights)", OFFSET(weights),
     AV_OPT_TYPE_STRING, {.str = NULL}, 0, 0, FLAGS},
    {"psnr", "attach neco.psnr (dB full scale, against the filter's input)", OFFSET(psnr),
     AV_OPT_TYPE_BOOL, {.i64 = 0}, 0, 1, FLAGS},
    {NULL}};
// clang-format on

AVFILTER_DEFINE_CLASS(aneco);

static const enum AVSampleFormat neco_sample_fmts[] = {AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S32,
                                                       AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_NONE};

static neco_sample_format neco_format(enum AVSampleFormat format)
{
    switch (format) {
    case AV_SAMPLE_FMT_S16:
        return NECO_SAMPLE_S16;
    case AV_SAMPLE_FMT_S32:
        return NECO_SAMPLE_S32;
    case AV_SAMPLE_FMT_FLT:
        return NECO_SAMPLE_F32;
    default:
        return 0;
    }
}

/* Maps a neco failure to an FFmpeg error code, logging the context's detailed message. */
static int neco_fail(AVFilterContext *ctx, neco_context *neco, neco_status st, const char *what)
{
    const char *detail = neco ? neco_context_error(neco) : "";

    av_log(ctx, AV_LOG_ERROR, "%s: %s\n", what, *detail ? detail : neco_status_string(st));
    switch (st) {
    case NECO_ERR_NO_MEMORY:
        return AVERROR(ENOMEM);
    case NECO_ERR_INVALID_ARGUMENT:
    case NECO_ERR_LIMIT:
        return AVERROR(EINVAL);
    case NECO_ERR_MODEL:
    case NECO_ERR_BACKEND:
        return AVERROR(ENOSYS);
    default:
        return AVERROR_EXTERNAL;
    }
}

static av_cold int init(AVFilterContext *ctx)
{
    NecoAudioContext *s = ctx->priv;
    neco_config config;
    neco_status st;

    if (s->model) {
        int known = 0;
        for (int i = 0; i < neco_model_count(); i++)
            known |= strcmp(neco_model_id(i), s->model) == 0;
        if (!known) {
            av_log(ctx, AV_LOG_ERROR, "unknown neco model '%s'; this libneco has:", s->model);
            for (int i = 0; i < neco_model_count(); i++)
                av_log(ctx, AV_LOG_ERROR, " %s", neco_model_id(i));
            av_log(ctx, AV_LOG_ERROR, "\n");
            return AVERROR(EINVAL);
        }
    }
    if (s->kbps > 0 && s->quality > 0)
        av_log(ctx, AV_LOG_WARNING,
               "both kbps and quality given: kbps decides, quality is ignored\n");
    neco_config_default(&config);
    config.backend = s->backend;
    config.threads = s->threads;
    config.weights_dir = s->weights;
    st = neco_context_create(&config, &s->neco);
    if (st != NECO_OK) return neco_fail(ctx, NULL, st, "cannot create the neco context");
    return 0;
}

static av_cold void uninit(AVFilterContext *ctx)
{
    NecoAudioContext *s = ctx->priv;

    neco_context_destroy(s->neco);
    s->neco = NULL;
    av_frame_free(&s->prev);
    av_frame_free(&s->cur);
    av_freep(&s->window);
    s->window_size = 0;
}

/* Codes audio at a quality level (0: the model's default) into a complete stream. */
static neco_status encode(NecoAudioContext *s, const neco_audio *audio, int quality,
                          uint8_t **coded, size_t *coded_size)
{
    neco_encode_params params;

    neco_encode_params_default(&params);
    params.model = s->model;
    params.quality = quality;
    return neco_encode_audio(s->neco, audio, &params, coded, coded_size);
}

/* Learns the model's chunk length, header size and (for kbps) quality levels by coding 100 ms of
 * silence in the stream's own format: the public API exposes them only through a stream's
 * header. A sample rate or channel count the model refuses fails here, before any data flows. */
static int config_input(AVFilterLink *inlink)
{
    AVFilterContext *ctx = inlink->dst;
    NecoAudioContext *s = ctx->priv;
    int channels = inlink->ch_layout.nb_channels;
    neco_audio probe = {.sample_rate = (uint32_t)inlink->sample_rate,
                        .channels = (uint32_t)channels};
    uint8_t *coded = NULL;
    size_t coded_size;
    neco_info info;
    neco_status st;
    int ret = 0;

    s->format = neco_format(inlink->format);
    if (!s->format || channels < 1 || inlink->sample_rate < 1) return AVERROR(EINVAL);
    probe.format = s->format;
    probe.frames = FFMAX(1, inlink->sample_rate / 10);
    probe.data = av_calloc(probe.frames * channels, neco_sample_size(s->format));
    if (!probe.data) return AVERROR(ENOMEM);

    st = encode(s, &probe, s->kbps > 0 ? 0 : s->quality, &coded, &coded_size);
    if (st == NECO_OK) st = neco_read_info(s->neco, coded, coded_size, &info);
    neco_free(coded);
    if (st != NECO_OK) {
        ret = neco_fail(ctx, s->neco, st, "neco cannot code this audio");
        goto end;
    }
    if (info.chunk_frames < 1 || info.chunk_frames > INT_MAX) {
        av_log(ctx, AV_LOG_ERROR, "model '%s' reports a chunk of %u frames\n", info.model,
               info.chunk_frames);
        ret = AVERROR_BUG;
        goto end;
    }
    s->chunk_frames = (int)info.chunk_frames;
    s->header_size = (size_t)info.header_size;

    if (s->kbps > 0) {
        /* The levels are 1..L: find L as the first level the encoder refuses as out of range. */
        for (s->levels = 0; s->levels < 255; s->levels++) {
            st = encode(s, &probe, s->levels + 1, &coded, &coded_size);
            neco_free(coded);
            if (st == NECO_ERR_INVALID_ARGUMENT) break;
            if (st != NECO_OK) {
                ret = neco_fail(ctx, s->neco, st, "neco encode");
                goto end;
            }
        }
        if (s->levels == 1)
            av_log(ctx, AV_LOG_WARNING,
                   "model '%s' has a single quality level: kbps cannot change its rate\n",
                   info.model);
    }
    av_log(ctx, AV_LOG_VERBOSE, "model %s, chunks of %d frames (%.3f s)\n", info.model,
           s->chunk_frames, (double)s->chunk_frames / inlink->sample_rate);
end:
    av_free(probe.data);
    return ret;
}

/* The bytes unit `index` takes in a stream (its length and CRC fields included), read from the
 * unit lengths (BITSTREAM.md section 1: after the header, each unit is a u32 little-endian
 * length L, L bytes of payload and a u32 CRC). 0 when the stream has no such unit. */
static size_t unit_bytes(const uint8_t *data, size_t size, size_t header_size, uint32_t index)
{
    size_t pos = header_size, length;

    for (uint32_t u = 0; pos <= size && size - pos >= 8; u++, pos += length + 8) {
        length = (size_t)data[pos] | (size_t)data[pos + 1] << 8 | (size_t)data[pos + 2] << 16 |
                 (size_t)data[pos + 3] << 24;
        if (length > size - pos - 8) return 0;
        if (u == index) return length + 8;
    }
    return 0;
}

/* Rate control for kbps: the highest level whose chunk `unit` fits the budget, by bisection
 * over the levels (the rate grows with the level), as neco_encode_image does for bpp over a
 * whole image. When even level 1 does not fit, level 1 is used (a filter in a pipeline goes on
 * rather than stop in the middle of a stream) and a warning says so. */
static neco_status encode_at_rate(AVFilterContext *ctx, const neco_audio *audio, uint32_t unit,
                                  double seconds, uint8_t **coded, size_t *coded_size)
{
    NecoAudioContext *s = ctx->priv;
    double budget = s->kbps * 1000.0 * seconds / 8.0; /* bytes of the chunk */
    uint8_t *best = NULL, *data;
    size_t best_size = 0, size;
    int lo = 1, hi = s->levels;
    neco_status st;

    while (lo <= hi) {
        int q = (lo + hi) / 2;
        if ((st = encode(s, audio, q, &data, &size)) != NECO_OK) {
            neco_free(best);
            return st;
        }
        if ((double)unit_bytes(data, size, s->header_size, unit) <= budget) {
            neco_free(best);
            best = data;
            best_size = size;
            lo = q + 1;
        } else {
            neco_free(data);
            hi = q - 1;
        }
    }
    if (!best) {
        av_log(ctx, s->kbps_warned ? AV_LOG_VERBOSE : AV_LOG_WARNING,
               "a chunk needs more than %g kbps even at the lowest quality; coding it there\n",
               s->kbps);
        s->kbps_warned = 1;
        return encode(s, audio, 1, coded, coded_size);
    }
    *coded = best;
    *coded_size = best_size;
    return NECO_OK;
}

/* A sample as a fraction of full scale, as `neco compare` reads audio. */
static double full_scale(neco_sample_format format, const void *data, size_t i)
{
    switch (format) {
    case NECO_SAMPLE_S16:
        return ((const int16_t *)data)[i] / 32768.0;
    case NECO_SAMPLE_S24:
        return ((const int32_t *)data)[i] / 8388608.0;
    case NECO_SAMPLE_S32:
        return ((const int32_t *)data)[i] / 2147483648.0;
    case NECO_SAMPLE_F32:
        return ((const float *)data)[i];
    }
    return 0;
}

static int set_metadata(AVFrame *frame, const char *key, const char *fmt, double value)
{
    char text[64];

    if (isinf(value))
        snprintf(text, sizeof text, "inf");
    else
        snprintf(text, sizeof text, fmt, value);
    return av_dict_set(&frame->metadata, key, text, 0);
}

/* Codes s->cur between its neighbours s->prev and next (either may be NULL: the stream's first
 * or last chunk), sends it on, and slides the window by one chunk. Takes ownership of next. */
static int code_chunk(AVFilterContext *ctx, AVFrame *next)
{
    NecoAudioContext *s = ctx->priv;
    AVFilterLink *outlink = ctx->outputs[0];
    AVFrame *cur = s->cur, *out = NULL;
    int channels = cur->ch_layout.nb_channels;
    size_t frame_bytes = (size_t)channels * neco_sample_size(s->format);
    size_t n_prev = s->prev ? (size_t)s->prev->nb_samples : 0;
    size_t n_cur = (size_t)cur->nb_samples, n_next = next ? (size_t)next->nb_samples : 0;
    size_t total = n_prev + n_cur + n_next;
    uint32_t unit = s->prev ? 1 : 0; /* cur's chunk in the window's stream */
    double seconds = (double)n_cur / cur->sample_rate;
    neco_audio audio;
    uint8_t *coded = NULL;
    size_t coded_size = 0, bytes;
    neco_decoded decoded;
    neco_status st;
    int ret;

    if (total * frame_bytes > s->window_size) {
        av_freep(&s->window);
        s->window_size = 0;
        if (!(s->window = av_malloc(total * frame_bytes))) {
            av_frame_free(&next);
            return AVERROR(ENOMEM);
        }
        s->window_size = total * frame_bytes;
    }
    /* Interleaved formats only (the negotiated ones): all samples are in data[0]. */
    if (s->prev) memcpy(s->window, s->prev->data[0], n_prev * frame_bytes);
    memcpy(s->window + n_prev * frame_bytes, cur->data[0], n_cur * frame_bytes);
    if (next)
        memcpy(s->window + (n_prev + n_cur) * frame_bytes, next->data[0], n_next * frame_bytes);
    audio = (neco_audio){.sample_rate = (uint32_t)cur->sample_rate,
                         .channels = (uint32_t)channels,
                         .frames = total,
                         .format = s->format,
                         .data = s->window};

    st = s->kbps > 0 ? encode_at_rate(ctx, &audio, unit, seconds, &coded, &coded_size)
                     : encode(s, &audio, s->quality, &coded, &coded_size);
    if (st != NECO_OK) {
        av_frame_free(&next);
        return neco_fail(ctx, s->neco, st, "neco encode");
    }
    bytes = unit_bytes(coded, coded_size, s->header_size, unit);
    st = neco_decode(s->neco, coded, coded_size, &decoded);
    neco_free(coded);
    if (st != NECO_OK) {
        av_frame_free(&next);
        return neco_fail(ctx, s->neco, st, "neco decode");
    }
    if (decoded.info.media != NECO_MEDIA_AUDIO || decoded.audio.frames != audio.frames ||
        decoded.audio.channels != audio.channels || decoded.audio.format != audio.format ||
        decoded.info.units != unit + 1 + (next ? 1 : 0) || !bytes ||
        decoded.info.chunk_frames != (uint32_t)s->chunk_frames) {
        av_log(ctx, AV_LOG_ERROR, "neco coded the window in another layout than expected\n");
        ret = AVERROR_BUG;
        goto fail;
    }
    out = ff_get_audio_buffer(outlink, cur->nb_samples);
    if (!out) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = av_frame_copy_props(out, cur)) < 0) goto fail;
    memcpy(out->data[0], (const uint8_t *)decoded.audio.data + n_prev * frame_bytes,
           n_cur * frame_bytes);

    /* The chunk's share of a stream: its unit (length, payload, CRC) without the file header,
     * which a stream carries once; so `neco encode`'s file size is the header plus the sum of
     * neco.bytes over the frames. */
    if ((ret = set_metadata(out, "neco.bytes", "%.0f", (double)bytes)) < 0 ||
        (ret = set_metadata(out, "neco.kbps", "%.3f", bytes * 8.0 / seconds / 1000.0)) < 0 ||
        (ret = set_metadata(out, "neco.quality", "%.0f", decoded.info.quality)) < 0)
        goto fail;
    if (s->psnr) {
        size_t first = n_prev * channels, n = n_cur * channels;
        double sse = 0;
        for (size_t i = first; i < first + n; i++) {
            double d =
                full_scale(s->format, s->window, i) - full_scale(s->format, decoded.audio.data, i);
            sse += d * d;
        }
        if ((ret = set_metadata(out, "neco.psnr", "%.3f",
                                sse == 0 ? INFINITY : 10.0 * log10(n / sse))) < 0)
            goto fail;
    }
    neco_decoded_free(&decoded);
    av_frame_free(&s->prev);
    s->prev = s->cur;
    s->cur = next;
    return ff_filter_frame(outlink, out);

fail:
    neco_decoded_free(&decoded);
    av_frame_free(&out);
    av_frame_free(&next);
    return ret;
}

static int activate(AVFilterContext *ctx)
{
    NecoAudioContext *s = ctx->priv;
    AVFilterLink *inlink = ctx->inputs[0];
    AVFilterLink *outlink = ctx->outputs[0];
    AVFrame *in = NULL;
    int64_t pts;
    int ret, status;

    FF_FILTER_FORWARD_STATUS_BACK(outlink, inlink);

    /* Exactly one codec chunk; once the input has ended, consume_samples lowers min to what is
     * left, so the last, shorter chunk is taken too and no sample is lost. */
    ret = ff_inlink_consume_samples(inlink, s->chunk_frames, s->chunk_frames, &in);
    if (ret < 0) return ret;
    if (ret > 0) {
        if (s->cur) {
            /* in is the right neighbour that s->cur waited for. */
            ret = code_chunk(ctx, in);
            if (ret >= 0 && ff_inlink_check_available_samples(inlink, s->chunk_frames) > 0)
                ff_filter_set_ready(ctx, 100);
            return ret;
        }
        s->cur = in; /* the first chunk: wait for its right neighbour */
        if (ff_inlink_check_available_samples(inlink, s->chunk_frames) > 0) {
            ff_filter_set_ready(ctx, 100);
            return 0;
        }
    }
    if (ff_inlink_acknowledge_status(inlink, &status, &pts)) {
        /* The end: the held chunk is the last one and has no right neighbour. */
        ret = s->cur ? code_chunk(ctx, NULL) : 0;
        ff_outlink_set_status(outlink, status, pts);
        return ret;
    }
    FF_FILTER_FORWARD_WANTED(outlink, inlink);
    return in ? 0 : FFERROR_NOT_READY;
}

static const AVFilterPad aneco_inputs[] = {
    {
        .name = "default",
        .type = AVMEDIA_TYPE_AUDIO,
        .config_props = config_input,
    },
};

static const AVFilterPad aneco_outputs[] = {
    {
        .name = "default",
        .type = AVMEDIA_TYPE_AUDIO,
    },
};

const AVFilter ff_af_aneco = {
    .name = "aneco",
    .description = NULL_IF_CONFIG_SMALL("Pass audio through the neco learned audio codec."),
    .priv_size = sizeof(NecoAudioContext),
    .priv_class = &aneco_class,
    .init = init,
    .uninit = uninit,
    .activate = activate,
    FILTER_INPUTS(aneco_inputs),
    FILTER_OUTPUTS(aneco_outputs),
    FILTER_SAMPLEFMTS_ARRAY(neco_sample_fmts),
};
