/* neco: the command-line tool. Encodes PNG and audio files, decodes neco files, prints headers
 * and compares files. Uses the public API only (neco.h) plus the file I/O of apps/. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <neco/neco.h>

#include "audioio.h"
#ifdef NECO_WITH_LIBAV
#include "avinput.h"
#endif
#include "conformance.h"
#include "filekind.h"
#include "imageio.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exit codes, listed in --help. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,       /* bad command line */
    EXIT_INPUT = 2,       /* input missing, unreadable or of an unsupported kind */
    EXIT_BITSTREAM = 3,   /* invalid, truncated or corrupt neco file */
    EXIT_OUTPUT = 4,      /* output cannot be written */
    EXIT_MODEL = 5,       /* model, weights or backend unavailable */
    EXIT_RESOURCES = 6,   /* a size limit is exceeded or memory ran out */
};

static const char usage_text[] =
    "usage: neco COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  encode IN OUT     code a PNG image or an audio file (WAV, FLAC, OGG, ...) into OUT\n"
    "  decode IN OUT     decode a neco file; OUT's extension picks the format:\n"
    "                    .png for images; .wav, .flac, .ogg, .aiff for audio;\n"
    "                    IN - reads stdin (audio decodes as the stream arrives)\n"
    "  info FILE         print the header of a neco file and check its CRCs\n"
    "  compare A B       print the PSNR between two images or two audio files\n"
    "  models            list the models of this build\n"
    "  conformance DIR   check this decoder against the streams of DIR/MANIFEST\n"
    "                    (conformance/streams); --sweep: damage each stream and check that\n"
    "                    every damaged copy is refused; --tolerance T: for backends other\n"
    "                    than ref, the largest sample difference from ref allowed (default 2)\n"
    "\n"
    "options:\n"
    "  --model ID        model to encode with (see 'neco models')\n"
    "  --quality N       quality level, 1..the model's number of levels\n"
    "  --bpp B           images: the highest quality whose file is at most B bits per pixel\n"
    "  --kbps K          audio: the highest quality whose file is at most K kbps\n"
    "  --backend B       ref, onednn or cuda (default: the fastest available; also $NECO_BACKEND)\n"
    "  --threads N       worker threads (default: one per CPU)\n"
    "  --max-pixels N    refuse to decode images with more pixels (default 268435456)\n"
    "  --weights DIR     folder of the model weights (also $NECO_WEIGHTS_DIR; default: the\n"
    "                    installed weights, then the source tree's weights/)\n"
    "  --conceal         decode past corrupt or missing tiles/chunks, filling them (gray or\n"
    "                    silence), with a warning instead of an error\n"
    "  --quiet           no progress bar and no summary\n"
    "  --help, --version\n"
    "\n"
    "Models ('neco models' lists them): img-wave (fast; the default for images), img-swin\n"
    "(images, best rate-distortion), aud-wave (audio at 45-170 kbps), aud-grvq (speech at\n"
    "1.5-6 kbps), aud-grvq-24k (music and general audio at 2.3-9.5 kbps), and raw\n"
    "(uncompressed samples inside the container, for testing; the default for audio).\n"
    "\n"
    "exit codes:\n"
    "  0 success\n"
    "  1 bad command line\n"
    "  2 input missing, unreadable or unsupported\n"
    "  3 invalid, truncated or corrupt neco file\n"
    "  4 output cannot be written\n"
    "  5 model, weights or backend unavailable\n"
    "  6 size limit exceeded or out of memory\n";

typedef struct options {
    const char *model;
    int quality;
    double bpp;
    double kbps;
    const char *backend;
    const char *weights;
    int threads;
    unsigned long long max_pixels;
    int quiet;
    int conceal;
    int sweep;
    double tolerance;
    const char *args[2];
    int nargs;
} options;

static void fail_line(const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void fail_line(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "neco: ");
    if (name)
        fprintf(stderr, "%s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int exit_for_status(neco_status st)
{
    switch (st) {
    case NECO_OK: return EXIT_OK;
    case NECO_ERR_INVALID_ARGUMENT: return EXIT_USAGE;
    case NECO_ERR_BITSTREAM:
    case NECO_ERR_TRUNCATED:
    case NECO_ERR_CRC:
    case NECO_ERR_UNSUPPORTED: return EXIT_BITSTREAM;
    case NECO_ERR_MODEL:
    case NECO_ERR_BACKEND: return EXIT_MODEL;
    case NECO_ERR_LIMIT:
    case NECO_ERR_NO_MEMORY: return EXIT_RESOURCES;
    }
    return EXIT_BITSTREAM;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 0; /* one per online CPU */
    o->tolerance = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = 1;
            continue;
        }
        if (strcmp(a, "--conceal") == 0) {
            o->conceal = 1;
            continue;
        }
        if (strcmp(a, "--sweep") == 0) {
            o->sweep = 1;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            if (!val) {
                fail_line(NULL, "option %s needs a value", a);
                return -1;
            }
            if (strcmp(a, "--model") == 0) {
                o->model = val;
            } else if (strcmp(a, "--backend") == 0) {
                o->backend = val;
            } else if (strcmp(a, "--weights") == 0) {
                o->weights = val;
            } else if (strcmp(a, "--quality") == 0) {
                if (parse_int(val, 1, 255, &v)) {
                    fail_line(NULL, "--quality needs a level from 1 to 255, not '%s'", val);
                    return -1;
                }
                o->quality = (int)v;
            } else if (strcmp(a, "--kbps") == 0) {
                char *end;
                o->kbps = strtod(val, &end);
                if (*end || end == val || !(o->kbps > 0) || o->kbps > 100000) {
                    fail_line(NULL, "--kbps needs a positive bitrate in kbps, not '%s'", val);
                    return -1;
                }
            } else if (strcmp(a, "--bpp") == 0) {
                char *end;
                o->bpp = strtod(val, &end);
                if (*end || end == val || !(o->bpp > 0) || o->bpp > 1000) {
                    fail_line(NULL, "--bpp needs a positive number of bits per pixel, not '%s'",
                              val);
                    return -1;
                }
            } else if (strcmp(a, "--tolerance") == 0) {
                char *end;
                o->tolerance = strtod(val, &end);
                if (*end || end == val || !(o->tolerance >= 0)) {
                    fail_line(NULL, "--tolerance needs a number >= 0, not '%s'", val);
                    return -1;
                }
            } else if (strcmp(a, "--threads") == 0) {
                if (parse_int(val, 1, 1024, &v)) {
                    fail_line(NULL, "--threads needs a number from 1 to 1024, not '%s'", val);
                    return -1;
                }
                o->threads = (int)v;
            } else if (strcmp(a, "--max-pixels") == 0) {
                if (parse_int(val, 1, LLONG_MAX, &v)) {
                    fail_line(NULL, "--max-pixels needs a positive number, not '%s'", val);
                    return -1;
                }
                o->max_pixels = (unsigned long long)v;
            } else {
                fail_line(NULL, "unknown option %s (see neco --help)", a);
                return -1;
            }
            i++;
            continue;
        }
        if (o->nargs == 2) {
            fail_line(NULL, "too many arguments (see neco --help)");
            return -1;
        }
        o->args[o->nargs++] = a;
    }
    return 0;
}

/* ---- Progress bar ------------------------------------------------------------------------- */

static void progress_bar(void *user, double fraction)
{
    const char *label = user;
    int width = 30, filled = (int)(fraction * width + 0.5);
    fprintf(stderr, "\r%s [", label);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : ' ', stderr);
    fprintf(stderr, "] %3d%%", (int)(fraction * 100 + 0.5));
    if (fraction >= 1.0)
        fprintf(stderr, "\r%*s\r", width + 16 + (int)strlen(label), "");
    fflush(stderr);
}

/* Creates the context for a command; on failure prints why and sets *rc. */
static neco_context *make_context(const options *o, const char *label, int *rc)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.backend = o->backend ? o->backend : getenv("NECO_BACKEND");
    cfg.threads = o->threads;
    cfg.max_pixels = o->max_pixels;
    cfg.conceal = o->conceal;
    cfg.weights_dir = o->weights ? o->weights : getenv("NECO_WEIGHTS_DIR");
    if (!o->quiet && isatty(STDERR_FILENO)) {
        cfg.progress = progress_bar;
        cfg.progress_user = (void *)label;
    }
    neco_context *ctx;
    neco_status st = neco_context_create(&cfg, &ctx);
    if (st != NECO_OK) {
        char why[256];
        if (st == NECO_ERR_BACKEND && neco_backend_check(cfg.backend, why, sizeof why) != NECO_OK)
            fail_line(NULL, "%s", why);
        else if (st == NECO_ERR_BACKEND)
            fail_line(NULL, "backend '%s' cannot be used", cfg.backend ? cfg.backend : "");
        else if (st == NECO_ERR_INVALID_ARGUMENT)
            fail_line(NULL, "unknown backend '%s' (use ref, onednn or cuda)",
                      cfg.backend ? cfg.backend : "");
        else
            fail_line(NULL, "cannot create a context: %s", neco_status_string(st));
        *rc = exit_for_status(st);
        return NULL;
    }
    return ctx;
}

/* ---- Files -------------------------------------------------------------------------------- */

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail_line(path, "%s", strerror(errno));
        return EXIT_INPUT;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) {
        fail_line(path, "out of memory reading the file");
        return EXIT_RESOURCES;
    }
    if (err) {
        free(buf);
        fail_line(path, "read error");
        return EXIT_INPUT;
    }
    *data = buf;
    *size = n;
    return EXIT_OK;
}

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static int ext_is(const char *path, const char *ext) { return strcasecmp(extension(path), ext) == 0; }

static int is_audio_ext(const char *path)
{
    return ext_is(path, "wav") || ext_is(path, "flac") || ext_is(path, "ogg") ||
           ext_is(path, "aiff") || ext_is(path, "aif");
}

/* An output file is written under a temporary name in the same folder (keeping the extension,
 * which picks the format) and renamed over OUT only when complete, so a failure never leaves a
 * partial or clobbered file. */
typedef struct tmpout {
    char path[PATH_MAX];
    const char *final;
} tmpout;

static int tmpout_open(tmpout *t, const char *final)
{
    t->final = final;
    const char *slash = strrchr(final, '/');
    const char *base = slash ? slash + 1 : final;
    int dirlen = slash ? (int)(slash - final + 1) : 0;
    const char *ext = extension(final);
    int n = snprintf(t->path, sizeof t->path, "%.*s.%s.tmp-XXXXXX%s%s", dirlen, final, base,
                     *ext ? "." : "", ext);
    if (n < 0 || (size_t)n >= sizeof t->path) {
        fail_line(final, "path too long");
        return -1;
    }
    int fd = mkstemps(t->path, *ext ? (int)strlen(ext) + 1 : 0);
    if (fd < 0) {
        fail_line(final, "cannot create output: %s", strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

static int tmpout_commit(tmpout *t)
{
    /* mkstemps creates the file 0600; give it the permissions a new file normally gets. */
    mode_t mask = umask(0);
    umask(mask);
    chmod(t->path, 0666 & ~mask);
    if (rename(t->path, t->final) != 0) {
        fail_line(t->final, "cannot write output: %s", strerror(errno));
        unlink(t->path);
        return -1;
    }
    return 0;
}

static void tmpout_abort(tmpout *t) { unlink(t->path); }

static int write_bytes(const char *final, const uint8_t *data, size_t size)
{
    tmpout t;
    if (tmpout_open(&t, final))
        return EXIT_OUTPUT;
    FILE *f = fopen(t.path, "wb");
    int ok = f && fwrite(data, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        fail_line(final, "cannot write output: %s", strerror(errno));
        tmpout_abort(&t);
        return EXIT_OUTPUT;
    }
    return tmpout_commit(&t) ? EXIT_OUTPUT : EXIT_OK;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static const char *channel_name(uint32_t channels)
{
    static const char *const names[] = {"?", "gray", "gray+alpha", "RGB", "RGBA"};
    return channels <= 4 ? names[channels] : "?";
}

static const char *format_name(neco_sample_format f)
{
    switch (f) {
    case NECO_SAMPLE_S16: return "16-bit";
    case NECO_SAMPLE_S24: return "24-bit";
    case NECO_SAMPLE_S32: return "32-bit";
    case NECO_SAMPLE_F32: return "float";
    }
    return "?";
}

/* ---- Commands ----------------------------------------------------------------------------- */

static int cmd_encode(const options *o)
{
    if (o->nargs != 2) {
        fail_line(NULL, "encode needs IN and OUT (see neco --help)");
        return EXIT_USAGE;
    }
    const char *in = o->args[0], *out = o->args[1];
    if (same_file(in, out)) {
        fail_line(out, "refusing to overwrite the input file");
        return EXIT_USAGE;
    }
    char err[256] = "";
    file_kind kind = filekind_detect(in);
    if (kind == FILE_KIND_UNKNOWN && access(in, R_OK) != 0) {
        fail_line(in, "%s", strerror(errno));
        return EXIT_INPUT;
    }
    neco_encode_params params;
    neco_encode_params_default(&params);
    params.model = o->model;
    params.quality = o->quality;
    params.bpp = o->bpp;
    params.kbps = o->kbps;
    uint8_t *coded = NULL;
    size_t coded_size = 0;
    neco_status st;
    int rc;
    neco_context *ctx = make_context(o, "encoding", &rc);
    if (!ctx)
        return rc;
    double units = 0; /* pixels or seconds, for the summary */
    char what[128];
    neco_media av_media = 0; /* set when FFmpeg's libraries read the input */
    neco_image av_img = {0};
    neco_audio av_au = {0};
#ifdef NECO_WITH_LIBAV
    /* What libpng and libsndfile do not read, FFmpeg's libraries may (JPEG, WebP, MP4, AAC,
     * ...): read it here, then code it as a PNG or an audio file would be. */
    if (kind == FILE_KIND_UNKNOWN) {
        if (avinput_read(in, NULL, &av_media, &av_img, &av_au, err, sizeof err)) {
            fail_line(in, "unsupported input: %s", err);
            neco_context_destroy(ctx);
            return EXIT_INPUT;
        }
        kind = av_media == NECO_MEDIA_IMAGE ? FILE_KIND_PNG : FILE_KIND_AUDIO;
    }
#endif
    if (kind == FILE_KIND_PNG) {
        neco_image img = av_img;
        if (av_media != NECO_MEDIA_IMAGE && imageio_read_png(in, &img, err, sizeof err)) {
            fail_line(in, "%s", err);
            neco_context_destroy(ctx);
            return EXIT_INPUT;
        }
        st = neco_encode_image(ctx, &img, &params, &coded, &coded_size);
        units = (double)img.width * img.height;
        snprintf(what, sizeof what, "%ux%u %s %u-bit", img.width, img.height,
                 channel_name(img.channels), img.bit_depth);
        free(img.data);
    } else if (kind == FILE_KIND_AUDIO) {
        neco_audio au = av_au;
        if (av_media != NECO_MEDIA_AUDIO && audioio_read(in, &au, err, sizeof err)) {
            fail_line(in, "%s", err);
            neco_context_destroy(ctx);
            return EXIT_INPUT;
        }
        st = neco_encode_audio(ctx, &au, &params, &coded, &coded_size);
        units = au.sample_rate ? (double)au.frames / au.sample_rate : 0;
        snprintf(what, sizeof what, "%.2f s, %u Hz, %u channel%s, %s", units, au.sample_rate,
                 au.channels, au.channels == 1 ? "" : "s", format_name(au.format));
        free(au.data);
    } else if (kind == FILE_KIND_NECO) {
        fail_line(in, "already a neco file (use 'neco decode')");
        neco_context_destroy(ctx);
        return EXIT_INPUT;
    } else {
        fail_line(in, "unsupported input: neither a PNG image nor an audio file");
        neco_context_destroy(ctx);
        return EXIT_INPUT;
    }
    if (st != NECO_OK) {
        fail_line(in, "%s", *neco_context_error(ctx) ? neco_context_error(ctx)
                                                      : neco_status_string(st));
        neco_context_destroy(ctx);
        return exit_for_status(st);
    }
    neco_info info;
    neco_read_info(ctx, coded, coded_size, &info);
    neco_context_destroy(ctx);
    rc = write_bytes(out, coded, coded_size);
    if (rc == EXIT_OK && !o->quiet) {
        if (kind == FILE_KIND_PNG)
            printf("%s: %s -> %s: %zu bytes, %.4f bpp (model %s, quality %u)\n", in, what, out,
                   coded_size, coded_size * 8.0 / units, info.model, info.quality);
        else
            printf("%s: %s -> %s: %zu bytes, %.1f kbps (model %s, quality %u)\n", in, what, out,
                   coded_size, units > 0 ? coded_size * 8.0 / units / 1000.0 : 0.0, info.model,
                   info.quality);
    }
    neco_free(coded);
    return rc;
}

/* Prints the one-line summary of a decode. */
static void decode_summary(const char *in, const char *out, const neco_info *info)
{
    if (info->media == NECO_MEDIA_IMAGE)
        printf("%s -> %s: %ux%u %s %u-bit (model %s, quality %u)\n", in, out, info->width,
               info->height, channel_name(info->channels), info->bit_depth, info->model,
               info->quality);
    else
        printf("%s -> %s: %llu frames, %u Hz, %u channel%s, %s (model %s, quality %u)\n", in, out,
               (unsigned long long)info->frames, info->sample_rate, info->audio_channels,
               info->audio_channels == 1 ? "" : "s", format_name(info->sample_format),
               info->model, info->quality);
}

/* OUT's extension must suit the stream's media: EXIT_OK, or prints why and returns EXIT_USAGE. */
static int check_output_kind(const char *in, const char *out, const neco_info *info)
{
    int want_image = info->media == NECO_MEDIA_IMAGE;
    if (want_image ? ext_is(out, "png") : is_audio_ext(out))
        return EXIT_OK;
    fail_line(out, "%s holds %s: name the output .%s", in, want_image ? "an image" : "audio",
              want_image ? "png" : "wav, .flac, .ogg or .aiff");
    return EXIT_USAGE;
}

/* Prints the context's message for a failed call and returns its exit code. */
static int fail_status(const char *in, const neco_context *ctx, neco_status st)
{
    fail_line(in, "%s", *neco_context_error(ctx) ? neco_context_error(ctx)
                                                  : neco_status_string(st));
    return exit_for_status(st);
}

/* Decodes a whole neco file held in memory to OUT. Frees data and destroys ctx (before the
 * output is written, so that the model's memory is given back first). */
static int decode_buffer(const options *o, neco_context *ctx, const char *in, uint8_t *data,
                         size_t size, const char *out)
{
    /* Check OUT's format against the stream's media before decoding anything. */
    neco_info info;
    neco_status st = neco_read_info(ctx, data, size, &info);
    int rc;
    if (st == NECO_OK && (rc = check_output_kind(in, out, &info)) != EXIT_OK) {
        free(data);
        neco_context_destroy(ctx);
        return rc;
    }
    neco_decoded dec;
    if (st == NECO_OK)
        st = neco_decode(ctx, data, size, &dec);
    free(data);
    if (st != NECO_OK) {
        rc = fail_status(in, ctx, st);
        neco_context_destroy(ctx);
        return rc;
    }
    if (dec.concealed)
        fail_line(in, "warning: concealed %u of %u %s (first: %s)", dec.concealed, info.units,
                  info.media == NECO_MEDIA_IMAGE ? "tiles" : "chunks", neco_context_error(ctx));
    neco_context_destroy(ctx);
    char err[256] = "";
    tmpout t;
    if (tmpout_open(&t, out)) {
        neco_decoded_free(&dec);
        return EXIT_OUTPUT;
    }
    int bad = info.media == NECO_MEDIA_IMAGE ? imageio_write_png(t.path, &dec.image, err, sizeof err)
                                             : audioio_write(t.path, &dec.audio, err, sizeof err);
    if (bad) {
        fail_line(out, "%s", err);
        tmpout_abort(&t);
        neco_decoded_free(&dec);
        return EXIT_OUTPUT;
    }
    rc = tmpout_commit(&t) ? EXIT_OUTPUT : EXIT_OK;
    if (rc == EXIT_OK && !o->quiet)
        decode_summary(in, out, &info);
    neco_decoded_free(&dec);
    return rc;
}

/* The name of standard input in messages. */
#define STDIN_NAME "stdin"

/* Appends up to `want` bytes of stdin to *buf (holding *size bytes, room for *cap), as many as
 * arrive before the input ends. The buffer grows only as bytes come, so a length field that
 * lies costs no more memory than the input itself. Returns EXIT_OK, or an exit code after
 * printing why. */
static int read_stdin(uint8_t **buf, size_t *size, size_t *cap, uint64_t want)
{
    while (want > 0) {
        if (*size == *cap) {
            size_t bigger = *cap < ((size_t)1 << 16) ? (size_t)1 << 16
                            : *cap > SIZE_MAX / 2   ? 0
                                                    : *cap * 2;
            uint8_t *p = bigger ? realloc(*buf, bigger) : NULL;
            if (!p) {
                fail_line(STDIN_NAME, "out of memory reading the stream");
                return EXIT_RESOURCES;
            }
            *buf = p;
            *cap = bigger;
        }
        size_t step = *cap - *size;
        if (step > want)
            step = (size_t)want;
        size_t got = fread(*buf + *size, 1, step, stdin);
        *size += got;
        want -= got;
        if (got < step)
            break;
    }
    if (ferror(stdin)) {
        fail_line(STDIN_NAME, "read error: %s", strerror(errno));
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

/* Writes `frames` frames of silence (zero samples: 0 and 0.0f alike) from a zeroed buffer of
 * `room` frames. */
static int put_silence(audioio_writer *w, const void *zeros, uint64_t room, uint64_t frames,
                       const char *out)
{
    char err[256] = "";
    for (uint64_t done = 0; done < frames;) {
        uint64_t n = frames - done < room ? frames - done : room;
        if (audioio_writer_put(w, zeros, n, err, sizeof err)) {
            fail_line(out, "%s", err);
            return EXIT_OUTPUT;
        }
        done += n;
    }
    return EXIT_OK;
}

/*
 * Decodes an audio stream from stdin while it arrives (chunks decode independently,
 * BITSTREAM.md section 1): the header first, then one chunk at a time, each chunk's frames
 * written out as soon as they are decoded. The output is a temporary file renamed over OUT at
 * the end, as for a whole file, so a failure still leaves nothing behind. head holds the first
 * head_size bytes of the stream, info their header. Frees head and destroys ctx.
 */
static int decode_audio_stdin(const options *o, neco_context *ctx, uint8_t *head,
                              size_t head_size, size_t head_cap, const neco_info *info,
                              const char *out)
{
    uint8_t *unit = NULL, *silence = NULL;
    size_t unit_size = 0, unit_cap = 0;
    audioio_writer *w = NULL;
    tmpout t;
    int have_tmp = 0;
    char err[256] = "", first_error[256] = "";
    uint32_t concealed = 0;
    int rc = check_output_kind(STDIN_NAME, out, info);
    if (rc == EXIT_OK && info->header_size > head_size)
        rc = read_stdin(&head, &head_size, &head_cap, info->header_size - head_size);
    if (rc == EXIT_OK) {
        if (tmpout_open(&t, out))
            rc = EXIT_OUTPUT;
        else
            have_tmp = 1;
    }
    if (rc == EXIT_OK && audioio_writer_open(t.path, info->sample_rate, info->audio_channels,
                                             info->sample_format, info->frames, &w, err,
                                             sizeof err)) {
        fail_line(out, "%s", err);
        rc = EXIT_OUTPUT;
    }
    int show_progress = !o->quiet && isatty(STDERR_FILENO);
    for (uint32_t i = 0; rc == EXIT_OK && i < info->units; i++) {
        /* A unit: u32 length (little-endian), payload, u32 CRC. Whatever arrives of it goes to
         * the decoder, which names the chunk when it is cut short or corrupt. */
        unit_size = 0;
        if ((rc = read_stdin(&unit, &unit_size, &unit_cap, 4)) != EXIT_OK)
            break;
        if (unit_size == 4) {
            uint64_t len = (uint64_t)unit[0] | (uint64_t)unit[1] << 8 |
                           (uint64_t)unit[2] << 16 | (uint64_t)unit[3] << 24;
            if ((rc = read_stdin(&unit, &unit_size, &unit_cap, len + 4)) != EXIT_OK)
                break;
        }
        neco_audio chunk;
        neco_status st = neco_decode_audio_chunk(ctx, head, head_size, i, unit, unit_size,
                                                 &chunk);
        if (st == NECO_OK) {
            if (audioio_writer_put(w, chunk.data, chunk.frames, err, sizeof err)) {
                fail_line(out, "%s", err);
                rc = EXIT_OUTPUT;
            }
            neco_free(chunk.data);
        } else if (o->conceal &&
                   (st == NECO_ERR_CRC || st == NECO_ERR_BITSTREAM || st == NECO_ERR_TRUNCATED)) {
            /* As neco_decode conceals: silence for a damaged chunk, and for every chunk from
             * the one where the stream is cut. */
            if (!first_error[0])
                snprintf(first_error, sizeof first_error, "%s", neco_context_error(ctx));
            uint64_t first = (uint64_t)i * info->chunk_frames;
            uint64_t missing = st == NECO_ERR_TRUNCATED ? info->frames - first
                               : info->frames - first < info->chunk_frames
                                   ? info->frames - first
                                   : info->chunk_frames;
            concealed += st == NECO_ERR_TRUNCATED ? info->units - i : 1;
            if (!silence && !(silence = calloc(info->chunk_frames,
                                               (size_t)info->audio_channels *
                                                   neco_sample_size(info->sample_format)))) {
                fail_line(STDIN_NAME, "out of memory");
                rc = EXIT_RESOURCES;
            }
            if (rc == EXIT_OK)
                rc = put_silence(w, silence, info->chunk_frames, missing, out);
            if (st == NECO_ERR_TRUNCATED)
                break;
        } else {
            rc = fail_status(STDIN_NAME, ctx, st);
        }
        if (rc == EXIT_OK && show_progress)
            progress_bar("decoding", (i + 1.0) / info->units);
    }
    /* Without --conceal a stream must end after its last chunk, as a file must
     * (neco_decode). */
    if (rc == EXIT_OK && !o->conceal) {
        uint8_t rest[4096];
        size_t extra = 0, got;
        while ((got = fread(rest, 1, sizeof rest, stdin)) > 0)
            extra += got;
        if (extra) {
            fail_line(STDIN_NAME, "%zu bytes of unexpected data after the last chunk", extra);
            rc = EXIT_BITSTREAM;
        }
    }
    if (w && rc == EXIT_OK && audioio_writer_close(w, err, sizeof err)) {
        fail_line(out, "%s", err);
        rc = EXIT_OUTPUT;
    } else if (w && rc != EXIT_OK) {
        audioio_writer_abort(w);
    }
    if (have_tmp && rc != EXIT_OK)
        tmpout_abort(&t);
    else if (have_tmp && tmpout_commit(&t))
        rc = EXIT_OUTPUT;
    if (rc == EXIT_OK && concealed)
        fail_line(STDIN_NAME, "warning: concealed %u of %u chunks (first: %s)", concealed,
                  info->units, first_error);
    if (rc == EXIT_OK && !o->quiet)
        decode_summary(STDIN_NAME, out, info);
    free(head);
    free(unit);
    free(silence);
    neco_context_destroy(ctx);
    return rc;
}

/* `neco decode - OUT`: audio decodes while the stream arrives; an image (whose tiles all go
 * into one PNG) is read whole first, then decoded as a file is. Destroys ctx. */
static int decode_stdin(const options *o, neco_context *ctx, const char *out)
{
    uint8_t *data = NULL;
    size_t size = 0, cap = 0;
    /* The fixed 64-byte header says the media and the header's full size. */
    int rc = read_stdin(&data, &size, &cap, 64);
    neco_info info;
    neco_status st = NECO_OK;
    if (rc == EXIT_OK && (st = neco_read_header(ctx, data, size, &info)) != NECO_OK)
        rc = fail_status(STDIN_NAME, ctx, st);
    /* A stream without chunks has nothing to stream: it is decoded whole, like an image. */
    if (rc == EXIT_OK && info.media == NECO_MEDIA_AUDIO && info.units > 0)
        return decode_audio_stdin(o, ctx, data, size, cap, &info, out);
    if (rc == EXIT_OK && (rc = read_stdin(&data, &size, &cap, UINT64_MAX)) == EXIT_OK)
        return decode_buffer(o, ctx, STDIN_NAME, data, size, out);
    free(data);
    neco_context_destroy(ctx);
    return rc;
}

static int cmd_decode(const options *o)
{
    if (o->nargs != 2) {
        fail_line(NULL, "decode needs IN and OUT (see neco --help)");
        return EXIT_USAGE;
    }
    const char *in = o->args[0], *out = o->args[1];
    int from_stdin = strcmp(in, "-") == 0;
    if (!from_stdin && same_file(in, out)) {
        fail_line(out, "refusing to overwrite the input file");
        return EXIT_USAGE;
    }
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = from_stdin ? EXIT_OK : read_file(in, &data, &size);
    if (rc)
        return rc;
    neco_context *ctx = make_context(o, "decoding", &rc);
    if (!ctx) {
        free(data);
        return rc;
    }
    return from_stdin ? decode_stdin(o, ctx, out) : decode_buffer(o, ctx, in, data, size, out);
}

static int cmd_info(const options *o)
{
    if (o->nargs != 1) {
        fail_line(NULL, "info needs one FILE (see neco --help)");
        return EXIT_USAGE;
    }
    const char *in = o->args[0];
    uint8_t *data;
    size_t size;
    int rc = read_file(in, &data, &size);
    if (rc)
        return rc;
    neco_context *ctx = make_context(o, "checking", &rc);
    if (!ctx) {
        free(data);
        return rc;
    }
    neco_info info;
    neco_status st = neco_read_info(ctx, data, size, &info);
    if (st == NECO_OK) {
        printf("file:          %s (%zu bytes)\n", in, size);
        printf("version:       %u\n", info.version);
        printf("media:         %s\n", info.media == NECO_MEDIA_IMAGE ? "image" : "audio");
        printf("model:         %s\n", info.model);
        printf("weights hash:  ");
        for (int i = 0; i < NECO_WEIGHTS_HASH_SIZE; i++)
            printf("%02x", info.weights_hash[i]);
        printf("\nquality:       %u\n", info.quality);
        if (info.media == NECO_MEDIA_IMAGE) {
            printf("size:          %ux%u\n", info.width, info.height);
            printf("channels:      %u (%s)\n", info.channels, channel_name(info.channels));
            printf("bit depth:     %u\n", info.bit_depth);
            printf("tiles:         %u of %ux%u\n", info.units, info.tile_width, info.tile_height);
            printf("bpp:           %.4f\n", size * 8.0 / ((double)info.width * info.height));
        } else {
            double secs = (double)info.frames / info.sample_rate;
            printf("sample rate:   %u Hz\n", info.sample_rate);
            printf("channels:      %u\n", info.audio_channels);
            printf("format:        %s\n", format_name(info.sample_format));
            printf("frames:        %llu (%.3f s)\n", (unsigned long long)info.frames, secs);
            printf("chunks:        %u of %u frames\n", info.units, info.chunk_frames);
            if (secs > 0)
                printf("kbps:          %.1f\n", size * 8.0 / secs / 1000.0);
        }
        /* A full decode checks every CRC and payload; its digests are the conformance
         * checksums (BITSTREAM.md section 4). */
        uint8_t out[32], sym[32];
        st = neco_stream_digests(ctx, data, size, out, sym);
        if (st == NECO_OK) {
            printf("check:         ok\noutput sha256: ");
            for (int i = 0; i < 32; i++)
                printf("%02x", out[i]);
            printf("\nsymbols sha256:");
            for (int i = 0; i < 32; i++)
                printf("%s%02x", i ? "" : " ", sym[i]);
            printf("\n");
        }
    }
    free(data);
    if (st != NECO_OK)
        fail_line(in, "%s", *neco_context_error(ctx) ? neco_context_error(ctx)
                                                      : neco_status_string(st));
    neco_context_destroy(ctx);
    return exit_for_status(st);
}

/* PSNR over all samples, against the peak of the format (255, 65535, 2^15, 2^23, 2^31, 1). */
static double psnr(double sse, double count, double peak)
{
    if (sse == 0)
        return INFINITY;
    return 10.0 * log10(peak * peak / (sse / count));
}

static double audio_sample(const neco_audio *a, size_t i)
{
    switch (a->format) {
    case NECO_SAMPLE_S16: return ((const int16_t *)a->data)[i] / 32768.0;
    case NECO_SAMPLE_S24: return ((const int32_t *)a->data)[i] / 8388608.0;
    case NECO_SAMPLE_S32: return ((const int32_t *)a->data)[i] / 2147483648.0;
    case NECO_SAMPLE_F32: return ((const float *)a->data)[i];
    }
    return 0;
}

static int cmd_compare(const options *o)
{
    if (o->nargs != 2) {
        fail_line(NULL, "compare needs two files (see neco --help)");
        return EXIT_USAGE;
    }
    const char *a = o->args[0], *b = o->args[1];
    char err[256];
    file_kind ka = filekind_detect(a), kb = filekind_detect(b);
    if (ka != kb || (ka != FILE_KIND_PNG && ka != FILE_KIND_AUDIO)) {
        fail_line(NULL, "compare needs two PNG images or two audio files");
        return EXIT_INPUT;
    }
    if (ka == FILE_KIND_PNG) {
        neco_image x, y;
        if (imageio_read_png(a, &x, err, sizeof err)) {
            fail_line(a, "%s", err);
            return EXIT_INPUT;
        }
        if (imageio_read_png(b, &y, err, sizeof err)) {
            fail_line(b, "%s", err);
            free(x.data);
            return EXIT_INPUT;
        }
        int rc = EXIT_OK;
        if (x.width != y.width || x.height != y.height || x.channels != y.channels ||
            x.bit_depth != y.bit_depth) {
            fail_line(NULL, "the images differ in size, channels or bit depth");
            rc = EXIT_INPUT;
        } else {
            size_t n = (size_t)x.width * x.height * x.channels;
            double sse = 0;
            for (size_t i = 0; i < n; i++) {
                double d = x.bit_depth == 8
                               ? (double)((uint8_t *)x.data)[i] - ((uint8_t *)y.data)[i]
                               : (double)((uint16_t *)x.data)[i] - ((uint16_t *)y.data)[i];
                sse += d * d;
            }
            printf("PSNR %.3f dB\n", psnr(sse, (double)n, x.bit_depth == 8 ? 255.0 : 65535.0));
        }
        free(x.data);
        free(y.data);
        return rc;
    }
    neco_audio x, y;
    if (audioio_read(a, &x, err, sizeof err)) {
        fail_line(a, "%s", err);
        return EXIT_INPUT;
    }
    if (audioio_read(b, &y, err, sizeof err)) {
        fail_line(b, "%s", err);
        free(x.data);
        return EXIT_INPUT;
    }
    int rc = EXIT_OK;
    if (x.channels != y.channels || x.frames != y.frames) {
        fail_line(NULL, "the audio files differ in channels or length");
        rc = EXIT_INPUT;
    } else {
        size_t n = (size_t)x.frames * x.channels;
        double sse = 0;
        for (size_t i = 0; i < n; i++) {
            double d = audio_sample(&x, i) - audio_sample(&y, i);
            sse += d * d;
        }
        printf("PSNR %.3f dB (full scale)\n", psnr(sse, (double)n, 1.0));
    }
    free(x.data);
    free(y.data);
    return rc;
}

static int cmd_models(void)
{
    for (int i = 0; i < neco_model_count(); i++)
        printf("%-12s %s\n", neco_model_id(i), neco_model_description(i));
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("neco %s\n", neco_version_string());
        return EXIT_OK;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
    options o;
    if (parse_options(argc - 2, argv + 2, &o))
        return EXIT_USAGE;
    if (strcmp(cmd, "encode") == 0)
        return cmd_encode(&o);
    if (strcmp(cmd, "decode") == 0)
        return cmd_decode(&o);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(&o);
    if (strcmp(cmd, "compare") == 0)
        return cmd_compare(&o);
    if (strcmp(cmd, "models") == 0)
        return cmd_models();
    if (strcmp(cmd, "conformance") == 0) {
        if (o.nargs != 1) {
            fail_line(NULL, "conformance needs one folder (see neco --help)");
            return EXIT_USAGE;
        }
        conformance_options c = {o.args[0], o.backend ? o.backend : getenv("NECO_BACKEND"),
                                 o.weights ? o.weights : getenv("NECO_WEIGHTS_DIR"),
                                 o.threads, o.tolerance, o.sweep, !o.quiet};
        return conformance_run(&c);
    }
    fail_line(NULL, "unknown command '%s' (see neco --help)", cmd);
    return EXIT_USAGE;
}
