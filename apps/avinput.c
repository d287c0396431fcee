/*
 * Input files through libavformat/libavcodec (see avinput.h): FFmpeg 5.1's demux and decode
 * API (avformat_open_input, av_read_frame, avcodec_send_packet / avcodec_receive_frame) and
 * libswscale for pixel formats.
 *
 * Two process-wide things of the libav* libraries are touched, both scoped to one call:
 * their log level is set to quiet while a file is read (the CLI promises one-line errors, and
 * the reason for a failure is returned in err instead), and restored afterwards.
 */
#define _POSIX_C_SOURCE 200809L
#include "avinput.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FFmpeg's libraries are opened when a file needs them (dlopen), not linked: they and their
 * dependencies are over a hundred shared libraries, whose loading was most of the `neco`
 * command's start-up time (30 ms of `neco --version`), paid by every PNG and WAV too. The
 * functions used, resolved by name; their types come from FFmpeg's headers (the version this
 * file is compiled against names the libraries: libavformat.so.<LIBAVFORMAT_VERSION_MAJOR> ...). */
#define AV_FUNCS(X)                                                                                \
    X(av_find_best_stream)                                                                         \
    X(av_frame_alloc)                                                                              \
    X(av_frame_free)                                                                               \
    X(av_frame_unref)                                                                              \
    X(av_get_bytes_per_sample)                                                                     \
    X(av_get_packed_sample_fmt)                                                                    \
    X(av_log_get_level)                                                                            \
    X(av_log_set_level)                                                                            \
    X(av_packet_alloc)                                                                             \
    X(av_packet_free)                                                                              \
    X(av_packet_unref)                                                                             \
    X(av_pix_fmt_desc_get)                                                                         \
    X(av_read_frame)                                                                               \
    X(av_sample_fmt_is_planar)                                                                     \
    X(av_strerror)                                                                                 \
    X(avcodec_alloc_context3)                                                                      \
    X(avcodec_find_decoder)                                                                        \
    X(avcodec_free_context)                                                                        \
    X(avcodec_get_name)                                                                            \
    X(avcodec_open2)                                                                               \
    X(avcodec_parameters_to_context)                                                               \
    X(avcodec_receive_frame)                                                                       \
    X(avcodec_send_packet)                                                                         \
    X(avformat_close_input)                                                                        \
    X(avformat_find_stream_info)                                                                   \
    X(avformat_open_input)                                                                         \
    X(sws_freeContext)                                                                             \
    X(sws_getCoefficients)                                                                         \
    X(sws_getColorspaceDetails)                                                                    \
    X(sws_getContext)                                                                              \
    X(sws_scale)                                                                                   \
    X(sws_setColorspaceDetails)

typedef struct av_api {
#define AV_FIELD(name) __typeof__(name) *name;
    AV_FUNCS(AV_FIELD)
#undef AV_FIELD
} av_api;

#define AV_LIB(name, major) "lib" name ".so." AV_STRINGIFY(major)

/* Fills api from the four libraries; the handles stay open for the process (dlopen counts
 * references, so later calls are cheap). Returns 0, or -1 with the reason in err. */
static int av_load(av_api *api, char *err, size_t err_size)
{
    static const char *const libs[4] = {
        AV_LIB("avutil", LIBAVUTIL_VERSION_MAJOR), AV_LIB("swscale", LIBSWSCALE_VERSION_MAJOR),
        AV_LIB("avcodec", LIBAVCODEC_VERSION_MAJOR), AV_LIB("avformat", LIBAVFORMAT_VERSION_MAJOR)};
    void *h[4];
    for (int i = 0; i < 4; i++)
        if (!(h[i] = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL))) {
            snprintf(err, err_size, "reading this kind of file needs FFmpeg's %s (%s)", libs[i],
                     dlerror());
            return -1;
        }
#define AV_RESOLVE(name)                                                                           \
    {                                                                                              \
        void *f = NULL;                                                                            \
        for (int i = 0; i < 4 && !f; i++)                                                          \
            f = dlsym(h[i], #name);                                                                \
        if (!f) {                                                                                  \
            snprintf(err, err_size, "FFmpeg's libraries lack %s", #name);                          \
            return -1;                                                                             \
        }                                                                                          \
        /* POSIX: a dlsym result converts to a function pointer (XSH 2.12.3) */                    \
        memcpy(&api->name, &f, sizeof f);                                                          \
    }
    AV_FUNCS(AV_RESOLVE)
#undef AV_RESOLVE
    return 0;
}

static void fail(char *err, size_t err_size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static const char *error_text(const av_api *av, int code, char *buf, size_t size)
{
    if (av->av_strerror(code, buf, size) < 0) snprintf(buf, size, "error %d", code);
    return buf;
}

/* One decoded stream of an open file. */
typedef struct avinput_stream {
    const av_api *av;
    AVFormatContext *format;
    AVCodecContext *codec;
    AVPacket *packet;
    AVFrame *frame;
    int index;
    int flushed; /* the end of the file was reached and the decoder told so */
    int64_t bad; /* packets or frames the decoder refused as invalid, skipped */
} avinput_stream;

static void stream_close(avinput_stream *s)
{
    const av_api *av = s->av;
    av->av_frame_free(&s->frame);
    av->av_packet_free(&s->packet);
    av->avcodec_free_context(&s->codec);
    av->avformat_close_input(&s->format);
}

/* Opens path and the decoder of the stream to read (options->media, or chosen as avinput.h
 * says), setting *media to its kind. */
static int stream_open(avinput_stream *s, const char *path, int want, neco_media *media, char *err,
                       size_t err_size)
{
    const av_api *av = s->av;
    char text[AV_ERROR_MAX_STRING_SIZE];
    int ret = av->avformat_open_input(&s->format, path, NULL, NULL);
    if (ret < 0) {
        fail(err, err_size, "not a file FFmpeg reads: %s", error_text(av, ret, text, sizeof text));
        return -1;
    }
    if ((ret = av->avformat_find_stream_info(s->format, NULL)) < 0) {
        fail(err, err_size, "cannot read the streams: %s", error_text(av, ret, text, sizeof text));
        return -1;
    }
    int video = av->av_find_best_stream(s->format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int audio = av->av_find_best_stream(s->format, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    /* An MP3's or FLAC's cover art is a video stream too; such a file is read as audio. */
    int cover =
        video >= 0 && (s->format->streams[video]->disposition & AV_DISPOSITION_ATTACHED_PIC);
    if (want == NECO_MEDIA_IMAGE || (want == 0 && video >= 0 && (!cover || audio < 0))) {
        if (video < 0) {
            fail(err, err_size, "has no picture or video");
            return -1;
        }
        s->index = video;
        *media = NECO_MEDIA_IMAGE;
    } else {
        if (audio < 0) {
            fail(err, err_size, want ? "has no audio" : "has neither a picture nor audio");
            return -1;
        }
        s->index = audio;
        *media = NECO_MEDIA_AUDIO;
    }
    const AVCodecParameters *par = s->format->streams[s->index]->codecpar;
    const AVCodec *decoder = av->avcodec_find_decoder(par->codec_id);
    if (!decoder) {
        fail(err, err_size, "no decoder for %s in this FFmpeg",
             av->avcodec_get_name(par->codec_id));
        return -1;
    }
    s->codec = av->avcodec_alloc_context3(decoder);
    s->packet = av->av_packet_alloc();
    s->frame = av->av_frame_alloc();
    if (!s->codec || !s->packet || !s->frame) {
        fail(err, err_size, "out of memory");
        return -1;
    }
    if ((ret = av->avcodec_parameters_to_context(s->codec, par)) < 0 ||
        (ret = av->avcodec_open2(s->codec, decoder, NULL)) < 0) {
        fail(err, err_size, "cannot open the %s decoder: %s", decoder->name,
             error_text(av, ret, text, sizeof text));
        return -1;
    }
    return 0;
}

/* Decodes the next frame of the stream into s->frame. Returns 1, 0 at the end, -1 on error.
 * Data the decoder calls invalid (a damaged packet, junk before the first MP3 frame) is
 * skipped, as FFmpeg's own tools do; a file with nothing decodable fails in the caller. */
static int stream_next(avinput_stream *s, char *err, size_t err_size)
{
    const av_api *av = s->av;
    char text[AV_ERROR_MAX_STRING_SIZE];
    for (;;) {
        int ret = av->avcodec_receive_frame(s->codec, s->frame);
        if (ret == 0) return 1;
        if (ret == AVERROR_EOF) return 0;
        if (ret == AVERROR_INVALIDDATA) {
            s->bad++;
            continue;
        }
        if (ret != AVERROR(EAGAIN)) {
            fail(err, err_size, "decoding failed: %s", error_text(av, ret, text, sizeof text));
            return -1;
        }
        if (s->flushed) return 0;
        ret = av->av_read_frame(s->format, s->packet);
        if (ret == AVERROR_EOF) {
            s->flushed = 1;
            ret = av->avcodec_send_packet(s->codec, NULL);
        } else if (ret < 0) {
            fail(err, err_size, "read error: %s", error_text(av, ret, text, sizeof text));
            return -1;
        } else {
            ret = s->packet->stream_index == s->index ? av->avcodec_send_packet(s->codec, s->packet)
                                                      : 0;
            av->av_packet_unref(s->packet);
        }
        if (ret == AVERROR_INVALIDDATA) {
            s->bad++;
        } else if (ret < 0 && ret != AVERROR_EOF) {
            fail(err, err_size, "decoding failed: %s", error_text(av, ret, text, sizeof text));
            return -1;
        }
    }
}

/* ---- Images ------------------------------------------------------------------------------ */

/* Converts a decoded picture to a neco_image of the layout avinput.h describes. */
static int convert_image(const av_api *av, const AVFrame *f, neco_image *image, char *err,
                         size_t err_size)
{
    const AVPixFmtDescriptor *d = av->av_pix_fmt_desc_get(f->format);
    if (!d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL) || f->width < 1 || f->height < 1) {
        fail(err, err_size, "the decoder gave a picture in no usable format");
        return -1;
    }
    int palette = (d->flags & AV_PIX_FMT_FLAG_PAL) != 0;
    int gray = !palette && !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components <= 2;
    int alpha = (d->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
    int depth = 0;
    for (int i = 0; i < d->nb_components; i++)
        depth = d->comp[i].depth > depth ? d->comp[i].depth : depth;
    int deep = !palette && depth > 8;
    enum AVPixelFormat target = gray ? (alpha ? (deep ? AV_PIX_FMT_YA16 : AV_PIX_FMT_YA8)
                                              : (deep ? AV_PIX_FMT_GRAY16 : AV_PIX_FMT_GRAY8))
                                     : (alpha ? (deep ? AV_PIX_FMT_RGBA64 : AV_PIX_FMT_RGBA)
                                              : (deep ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24));
    uint32_t channels = (gray ? 1 : 3) + (alpha ? 1 : 0);
    uint32_t bytes = deep ? 2 : 1;

    /* Bicubic with exact rounding and full-resolution chroma: a codec's input should be the
     * best RGB the source allows, not a fast preview. */
    struct SwsContext *sws = av->sws_getContext(
        f->width, f->height, f->format, f->width, f->height, target,
        SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
    if (!sws) {
        fail(err, err_size, "cannot convert pixel format %s", d->name);
        return -1;
    }
    if (!gray && !palette && !(d->flags & AV_PIX_FMT_FLAG_RGB)) {
        /* YUV: the matrix and range the stream declares (AVCOL_SPC_* values are SWS_CS_*);
         * where it declares none, swscale's defaults (BT.601, limited range unless the format
         * is a full-range "J" one). */
        int *inv_table, *table, src_range, dst_range, brightness, contrast, saturation;
        av->sws_getColorspaceDetails(sws, &inv_table, &src_range, &table, &dst_range, &brightness,
                                     &contrast, &saturation);
        if (f->colorspace != AVCOL_SPC_UNSPECIFIED && f->colorspace != AVCOL_SPC_RGB)
            inv_table = (int *)av->sws_getCoefficients(f->colorspace);
        if (f->color_range == AVCOL_RANGE_JPEG)
            src_range = 1;
        else if (f->color_range == AVCOL_RANGE_MPEG)
            src_range = 0;
        av->sws_setColorspaceDetails(sws, inv_table, src_range, table, dst_range, brightness,
                                     contrast, saturation);
    }
    size_t row = (size_t)f->width * channels * bytes;
    uint8_t *data = malloc(row * (size_t)f->height);
    if (!data || row > INT_MAX) {
        av->sws_freeContext(sws);
        free(data);
        fail(err, err_size, "out of memory");
        return -1;
    }
    uint8_t *dst[4] = {data, NULL, NULL, NULL};
    int stride[4] = {(int)row, 0, 0, 0};
    int rows =
        av->sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
    av->sws_freeContext(sws);
    if (rows != f->height) {
        free(data);
        fail(err, err_size, "cannot convert pixel format %s", d->name);
        return -1;
    }

    /* Alpha that is opaque everywhere (a palette format always has an alpha channel; many
     * RGBA files never use theirs) carries nothing: drop it, as neco's models code none. */
    size_t pixels = (size_t)f->width * f->height;
    if (alpha) {
        int opaque = 1;
        for (size_t i = 0; i < pixels && opaque; i++) {
            size_t a = i * channels + channels - 1;
            opaque = bytes == 1 ? data[a] == 0xff : ((uint16_t *)data)[a] == 0xffff;
        }
        if (opaque) {
            size_t pixel = (size_t)(channels - 1) * bytes, stride_in = (size_t)channels * bytes;
            for (size_t i = 0; i < pixels; i++) /* forward: the target never passes the source */
                memmove(data + i * pixel, data + i * stride_in, pixel);
            channels--;
        }
    }
    image->width = (uint32_t)f->width;
    image->height = (uint32_t)f->height;
    image->channels = channels;
    image->bit_depth = bytes * 8;
    image->data = data;
    return 0;
}

static int read_image(avinput_stream *s, int64_t frame, neco_image *image, char *err,
                      size_t err_size)
{
    const av_api *av = s->av;
    int64_t seen = 0;
    int ret;
    while ((ret = stream_next(s, err, err_size)) == 1 && seen < frame) {
        seen++;
        av->av_frame_unref(s->frame);
    }
    if (ret < 0) return -1;
    if (ret == 0) {
        if (seen == 0)
            fail(err, err_size, "no picture could be decoded");
        else
            fail(err, err_size, "has %lld frames; frame %lld does not exist", (long long)seen,
                 (long long)frame);
        return -1;
    }
    return convert_image(s->av, s->frame, image, err, err_size);
}

/* ---- Audio ------------------------------------------------------------------------------- */

/* One sample of a decoded frame, converted to the neco format of the whole file. */
static void convert_sample(const uint8_t *p, enum AVSampleFormat packed, neco_sample_format to,
                           uint8_t *out)
{
    switch (packed) {
    case AV_SAMPLE_FMT_U8: {
        int16_t v = (int16_t)(((int)p[0] - 128) * 256); /* as audioio.c scales 8-bit PCM */
        memcpy(out, &v, 2);
        return;
    }
    case AV_SAMPLE_FMT_S16:
        memcpy(out, p, 2);
        return;
    case AV_SAMPLE_FMT_S32: {
        int32_t v;
        memcpy(&v, p, 4);
        if (to == NECO_SAMPLE_S24)
            v /= 256; /* 24 significant bits in the top of 32: the low byte is zero, exact */
        memcpy(out, &v, 4);
        return;
    }
    case AV_SAMPLE_FMT_FLT:
        memcpy(out, p, 4);
        return;
    case AV_SAMPLE_FMT_DBL: {
        double v;
        memcpy(&v, p, 8);
        float x = (float)v;
        memcpy(out, &x, 4);
        return;
    }
    case AV_SAMPLE_FMT_S64: {
        int64_t v;
        memcpy(&v, p, 8);
        float x = (float)((double)v / 9223372036854775808.0);
        memcpy(out, &x, 4);
        return;
    }
    default:
        memset(out, 0, neco_sample_size(to));
        return;
    }
}

static int read_audio(avinput_stream *s, neco_audio *audio, char *err, size_t err_size)
{
    const av_api *av = s->av;
    uint8_t *data = NULL;
    size_t capacity = 0; /* bytes */
    uint64_t frames = 0;
    uint32_t rate = 0, channels = 0;
    neco_sample_format format = 0;
    enum AVSampleFormat packed = AV_SAMPLE_FMT_NONE;
    int ret;
    while ((ret = stream_next(s, err, err_size)) == 1) {
        const AVFrame *f = s->frame;
        enum AVSampleFormat fp = av->av_get_packed_sample_fmt(f->format);
        if (!format) {
            rate = (uint32_t)f->sample_rate;
            channels = (uint32_t)f->ch_layout.nb_channels;
            packed = fp;
            switch (fp) {
            case AV_SAMPLE_FMT_U8:
            case AV_SAMPLE_FMT_S16:
                format = NECO_SAMPLE_S16;
                break;
            case AV_SAMPLE_FMT_S32:
                format = s->codec->bits_per_raw_sample == 24 ? NECO_SAMPLE_S24 : NECO_SAMPLE_S32;
                break;
            case AV_SAMPLE_FMT_FLT:
            case AV_SAMPLE_FMT_DBL:
            case AV_SAMPLE_FMT_S64:
                format = NECO_SAMPLE_F32;
                break;
            default:
                fail(err, err_size, "the decoder gave samples in no usable format");
                free(data);
                return -1;
            }
            if (rate < 1 || channels < 1) {
                fail(err, err_size, "the decoder gave no sample rate or no channels");
                free(data);
                return -1;
            }
        } else if ((uint32_t)f->sample_rate != rate ||
                   (uint32_t)f->ch_layout.nb_channels != channels || fp != packed) {
            fail(err, err_size, "the sample rate, channels or sample format change mid-stream");
            free(data);
            return -1;
        }
        size_t in_size = (size_t)av->av_get_bytes_per_sample(f->format);
        size_t out_size = neco_sample_size(format);
        size_t frame_bytes = (size_t)channels * out_size;
        size_t used = (size_t)frames * frame_bytes;
        size_t need = used + (size_t)f->nb_samples * frame_bytes;
        if (need > capacity) {
            size_t grown = capacity ? capacity : (size_t)1 << 20;
            while (grown < need && grown <= SIZE_MAX / 2)
                grown *= 2;
            uint8_t *bigger = grown >= need ? realloc(data, grown) : NULL;
            if (!bigger) {
                fail(err, err_size, "out of memory");
                free(data);
                return -1;
            }
            data = bigger;
            capacity = grown;
        }
        int planar = av->av_sample_fmt_is_planar(f->format);
        uint8_t *out = data + used;
        for (int i = 0; i < f->nb_samples; i++)
            for (uint32_t c = 0; c < channels; c++, out += out_size) {
                const uint8_t *p = planar
                                       ? f->extended_data[c] + (size_t)i * in_size
                                       : f->extended_data[0] + ((size_t)i * channels + c) * in_size;
                convert_sample(p, packed, format, out);
            }
        frames += (uint64_t)f->nb_samples;
    }
    if (ret < 0 || frames == 0) {
        if (ret == 0) fail(err, err_size, "no audio could be decoded");
        free(data);
        return -1;
    }
    audio->sample_rate = rate;
    audio->channels = channels;
    audio->frames = frames;
    audio->format = format;
    audio->data = data;
    return 0;
}

/* ---- Entry ------------------------------------------------------------------------------- */

int avinput_read(const char *path, const avinput_options *options, neco_media *media,
                 neco_image *image, neco_audio *audio, char *err, size_t err_size)
{
    avinput_options o = {0, 0};
    if (options) o = *options;
    if (o.frame < 0 ||
        (o.media != 0 && o.media != NECO_MEDIA_IMAGE && o.media != NECO_MEDIA_AUDIO)) {
        fail(err, err_size, "invalid reading options");
        return -1;
    }
    memset(image, 0, sizeof *image);
    memset(audio, 0, sizeof *audio);
    av_api api;
    if (av_load(&api, err, err_size) != 0) return -1;
    const av_api *av = &api;
    int level = av->av_log_get_level();
    av->av_log_set_level(AV_LOG_QUIET);
    avinput_stream s = {.av = av};
    int ret = stream_open(&s, path, o.media, media, err, err_size);
    if (ret == 0)
        ret = *media == NECO_MEDIA_IMAGE ? read_image(&s, o.frame, image, err, err_size)
                                         : read_audio(&s, audio, err, err_size);
    stream_close(&s);
    av->av_log_set_level(level);
    return ret;
}
