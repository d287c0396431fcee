/*
 * neco video filter for FFmpeg: every frame goes through the neco image codec (encode, then
 * decode), so that a pipeline shows, measures or keeps what neco makes of each picture.
 *
 * Part of neco (BSD 2-Clause). It is compiled inside FFmpeg's libavfilter by
 * apps/ffmpeg/build-ffmpeg.sh (the patch apps/ffmpeg/neco-ffmpeg-5.1.patch registers it) and
 * uses only libneco's public API (neco/neco.h) and libavfilter's internal filter API of
 * FFmpeg 5.1 (avfilter.h, internal.h, formats.h, video.h).
 *
 * Each frame is coded as one complete, independent neco stream: the image codec has no
 * inter-frame prediction, so the bits a frame costs here are exactly those of `neco encode` on
 * the same picture, and the per-frame metadata neco.bpp / neco.bytes say so (the CI test
 * tests/ffmpeg_test.sh checks it byte for byte).
 *
 * Pixel formats: neco codes 1 (gray) or 3 (RGB) channels of 8 or 16 bits. The filter offers
 * exactly those four layouts (gray, rgb24, gray16le/be, rgb48le/be) and
 * lets FFmpeg's format negotiation insert a scale filter for anything else (yuv420p, rgba, ...);
 * alpha is not coded by neco's models, so formats with alpha are converted without it.
 */
#include <math.h>
#include <string.h>

#include <neco/neco.h>

#include "config.h"
#include "libavutil/dict.h"
#include "libavutil/opt.h"
#include "libavutil/pixdesc.h"
#include "avfilter.h"
#include "formats.h"
#include "internal.h"
#include "video.h"

typedef struct NecoVideoContext {
    const AVClass *class;
    /* options */
    char *model;
    int quality;
    double bpp;
    char *backend;
    int threads;
    char *weights;
    int psnr;
    /* state */
    neco_context *neco;
    uint8_t *packed; /* the frame's samples without row padding, as neco_image wants them */
    size_t packed_size;
} NecoVideoContext;

#define OFFSET(x) offsetof(NecoVideoContext, x)
#define FLAGS (AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_FILTERING_PARAM)

/* The compact layout of FFmpeg's own option tables. */
// clang-format off
static const AVOption neco_options[] = {
    {"model", "neco model id (default: the library's default image model)", OFFSET(model),
     AV_OPT_TYPE_STRING, {.str = NULL}, 0, 0, FLAGS},
    {"quality", "quality level, 1..the model's levels (0: the model's default)", OFFSET(quality),
     AV_OPT_TYPE_INT, {.i64 = 0}, 0, 255, FLAGS},
    {"bpp", "bit budget per frame in bits per pixel: the highest quality that fits (0: off)",
     OFFSET(bpp), AV_OPT_TYPE_DOUBLE, {.dbl = 0}, 0, 1000, FLAGS},
    {"backend", "ref, onednn or cuda (default: the fastest available)", OFFSET(backend),
     AV_OPT_TYPE_STRING, {.str = NULL}, 0, 0, FLAGS},
    {"threads", "neco worker threads (0: one per CPU)", OFFSET(threads), AV_OPT_TYPE_INT,
     {.i64 = 0}, 0, 1024, FLAGS},
    {"weights", "folder of the model weights (default: the installed weights)", OFFSET(weights),
     AV_OPT_TYPE_STRING, {.str = NULL}, 0, 0, FLAGS},
    {"psnr", "attach neco.psnr (dB, against the filter's input)", OFFSET(psnr), AV_OPT_TYPE_BOOL,
     {.i64 = 0}, 0, 1, FLAGS},
    {NULL}};
// clang-format on

AVFILTER_DEFINE_CLASS(neco);

/* neco's image layouts, in the order FFmpeg should prefer them. 16-bit samples come in both
 * byte orders: neco_image wants host order, and the filter swaps the other one on the way in and
 * out, so that a chain ending in a big-endian-only encoder (PNG: rgb48be, gray16be) keeps its 16
 * bits instead of being negotiated down to 8 (the filter's input and output share one format). */
static const enum AVPixelFormat neco_pix_fmts[] = {
    AV_PIX_FMT_RGB24,    AV_PIX_FMT_GRAY8,    AV_PIX_FMT_RGB48LE, AV_PIX_FMT_RGB48BE,
    AV_PIX_FMT_GRAY16LE, AV_PIX_FMT_GRAY16BE, AV_PIX_FMT_NONE};

/* The neco layout of a pixel format, and whether its 16-bit samples are in the other byte order
 * than the host's. */
static int neco_layout(enum AVPixelFormat format, uint32_t *channels, uint32_t *bit_depth,
                       int *swap)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(format);

    switch (format) {
    case AV_PIX_FMT_RGB24:
        *channels = 3, *bit_depth = 8;
        break;
    case AV_PIX_FMT_GRAY8:
        *channels = 1, *bit_depth = 8;
        break;
    case AV_PIX_FMT_RGB48LE:
    case AV_PIX_FMT_RGB48BE:
        *channels = 3, *bit_depth = 16;
        break;
    case AV_PIX_FMT_GRAY16LE:
    case AV_PIX_FMT_GRAY16BE:
        *channels = 1, *bit_depth = 16;
        break;
    default:
        return AVERROR(EINVAL);
    }
    *swap = *bit_depth == 16 && !!(desc->flags & AV_PIX_FMT_FLAG_BE) != HAVE_BIGENDIAN;
    return 0;
}

/* Copies one row of n bytes, swapping the bytes of each 16-bit sample when asked. */
static void copy_row(uint8_t *dst, const uint8_t *src, size_t n, int swap)
{
    if (!swap) {
        memcpy(dst, src, n);
        return;
    }
    for (size_t i = 0; i + 1 < n; i += 2) {
        dst[i] = src[i + 1];
        dst[i + 1] = src[i];
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
    NecoVideoContext *s = ctx->priv;
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
    if (s->bpp > 0 && s->quality > 0)
        av_log(ctx, AV_LOG_WARNING,
               "both bpp and quality given: bpp decides, quality is ignored\n");
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
    NecoVideoContext *s = ctx->priv;
    neco_context_destroy(s->neco);
    s->neco = NULL;
    av_freep(&s->packed);
    s->packed_size = 0;
}

/* PSNR over all samples against the peak of the bit depth, as `neco compare` computes it. */
static double image_psnr(const neco_image *a, const void *b)
{
    size_t n = (size_t)a->width * a->height * a->channels;
    double sse = 0, peak = a->bit_depth == 8 ? 255.0 : 65535.0;

    if (a->bit_depth == 8) {
        const uint8_t *x = a->data, *y = b;
        for (size_t i = 0; i < n; i++) {
            double d = (double)x[i] - y[i];
            sse += d * d;
        }
    } else {
        const uint16_t *x = a->data, *y = b;
        for (size_t i = 0; i < n; i++) {
            double d = (double)x[i] - y[i];
            sse += d * d;
        }
    }
    if (sse == 0) return INFINITY;
    return 10.0 * log10(peak * peak / (sse / (double)n));
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

static int filter_frame(AVFilterLink *inlink, AVFrame *in)
{
    AVFilterContext *ctx = inlink->dst;
    NecoVideoContext *s = ctx->priv;
    AVFilterLink *outlink = ctx->outputs[0];
    neco_image image = {.width = (uint32_t)in->width, .height = (uint32_t)in->height};
    neco_encode_params params;
    neco_decoded decoded;
    uint8_t *coded = NULL;
    size_t coded_size = 0, row, size;
    const uint8_t *decoded_rows;
    AVFrame *out = NULL;
    neco_status st;
    int swap;
    int ret = neco_layout(in->format, &image.channels, &image.bit_depth, &swap);

    if (ret < 0) {
        av_frame_free(&in);
        return ret;
    }
    /* Pack the rows: an AVFrame's lines are padded (and may run bottom-up, with a negative
     * linesize), a neco_image's are not. */
    row = (size_t)in->width * image.channels * (image.bit_depth / 8);
    size = row * (size_t)in->height;
    if (size > s->packed_size) {
        av_freep(&s->packed);
        s->packed_size = 0;
        if (!(s->packed = av_malloc(size))) {
            av_frame_free(&in);
            return AVERROR(ENOMEM);
        }
        s->packed_size = size;
    }
    for (int y = 0; y < in->height; y++)
        copy_row(s->packed + row * y, in->data[0] + (ptrdiff_t)y * in->linesize[0], row, swap);
    image.data = s->packed;

    neco_encode_params_default(&params);
    params.model = s->model;
    params.quality = s->quality;
    params.bpp = s->bpp;
    st = neco_encode_image(s->neco, &image, &params, &coded, &coded_size);
    if (st != NECO_OK) {
        av_frame_free(&in);
        return neco_fail(ctx, s->neco, st, "neco encode");
    }
    st = neco_decode(s->neco, coded, coded_size, &decoded);
    neco_free(coded);
    if (st != NECO_OK) {
        av_frame_free(&in);
        return neco_fail(ctx, s->neco, st, "neco decode");
    }
    if (decoded.info.media != NECO_MEDIA_IMAGE || decoded.image.width != image.width ||
        decoded.image.height != image.height || decoded.image.channels != image.channels ||
        decoded.image.bit_depth != image.bit_depth) {
        av_log(ctx, AV_LOG_ERROR, "neco decoded a different layout than it was given\n");
        ret = AVERROR_BUG;
        goto fail;
    }

    out = ff_get_video_buffer(outlink, outlink->w, outlink->h);
    if (!out) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = av_frame_copy_props(out, in)) < 0) goto fail;
    decoded_rows = decoded.image.data;
    for (int y = 0; y < out->height; y++)
        copy_row(out->data[0] + (ptrdiff_t)y * out->linesize[0], decoded_rows + row * y, row, swap);

    /* bpp as `neco encode` prints it: the whole stream (header included) over the pixels. */
    if ((ret = set_metadata(out, "neco.bpp", "%.4f",
                            coded_size * 8.0 / ((double)image.width * image.height))) < 0 ||
        (ret = set_metadata(out, "neco.bytes", "%.0f", (double)coded_size)) < 0 ||
        (ret = set_metadata(out, "neco.quality", "%.0f", decoded.info.quality)) < 0)
        goto fail;
    if (s->psnr &&
        (ret = set_metadata(out, "neco.psnr", "%.3f", image_psnr(&image, decoded.image.data))) < 0)
        goto fail;
    neco_decoded_free(&decoded);
    av_frame_free(&in);
    return ff_filter_frame(outlink, out);

fail:
    neco_decoded_free(&decoded);
    av_frame_free(&out);
    av_frame_free(&in);
    return ret;
}

static const AVFilterPad neco_inputs[] = {
    {
        .name = "default",
        .type = AVMEDIA_TYPE_VIDEO,
        .filter_frame = filter_frame,
    },
};

static const AVFilterPad neco_outputs[] = {
    {
        .name = "default",
        .type = AVMEDIA_TYPE_VIDEO,
    },
};

const AVFilter ff_vf_neco = {
    .name = "neco",
    .description = NULL_IF_CONFIG_SMALL("Pass frames through the neco learned image codec."),
    .priv_size = sizeof(NecoVideoContext),
    .priv_class = &neco_class,
    .init = init,
    .uninit = uninit,
    FILTER_INPUTS(neco_inputs),
    FILTER_OUTPUTS(neco_outputs),
    FILTER_PIXFMTS_ARRAY(neco_pix_fmts),
};
