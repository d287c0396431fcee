/*
 * Audio file I/O with libsndfile (see audioio.h).
 *
 * Files are opened with open(2) and handed to libsndfile with sf_open_fd(..., close_desc =
 * false), so that a missing or unreadable file gets errno's reason ("file not found") rather than
 * libsndfile's generic "System error", and so that the descriptor is closed exactly once, by us.
 */
#define _POSIX_C_SOURCE 200809L
#include "audioio.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Frames moved per libsndfile call: bounds the scratch buffers and the first allocation. */
#define AUDIOIO_BLOCK_FRAMES 65536

/* libsndfile's own channel limit (SF_MAX_CHANNELS in its sources); a header claiming more is
 * refused before anything is sized from it. */
#define AUDIOIO_MAX_CHANNELS 1024

static void audioio_set_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static void audioio_set_open_err(char *err, size_t err_size, int error)
{
    if (error == ENOENT)
        audioio_set_err(err, err_size, "file not found");
    else if (error == EACCES || error == EPERM)
        audioio_set_err(err, err_size, "permission denied");
    else if (error == EISDIR)
        audioio_set_err(err, err_size, "is a directory");
    else
        audioio_set_err(err, err_size, "cannot open: %s", strerror(error));
}

/* libsndfile's messages end with a period and sometimes a newline; the CLI wants one line. */
static void audioio_set_sf_err(char *err, size_t err_size, const char *prefix, const char *msg)
{
    char line[256];
    if (msg == NULL)
        msg = "unknown error";
    /* Some of them start with "Error : " ("Error : flac decoder lost sync."). */
    if (strncmp(msg, "Error : ", 8) == 0 || strncmp(msg, "error : ", 8) == 0)
        msg += 8;
    snprintf(line, sizeof line, "%s", msg);
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    while (n > 0 && (line[n - 1] == '.' || line[n - 1] == ' '))
        line[--n] = '\0';
    if (n > 0 && isupper((unsigned char)line[0]) && !isupper((unsigned char)line[1]))
        line[0] = (char)tolower((unsigned char)line[0]);
    audioio_set_err(err, err_size, "%s%s", prefix, line);
}

/*
 * The in-memory sample format for a file's subtype (audioio.h): integer codings keep their
 * exact values, everything else (float, double, lossy, companded) becomes F32.
 */
static neco_sample_format audioio_format_of_subtype(int subtype)
{
    switch (subtype) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8:
    case SF_FORMAT_PCM_16:
    case SF_FORMAT_DPCM_8:
    case SF_FORMAT_DPCM_16:
    case SF_FORMAT_DWVW_12:
    case SF_FORMAT_DWVW_16:
    case SF_FORMAT_ALAC_16:
        return NECO_SAMPLE_S16;
    case SF_FORMAT_PCM_24:
    case SF_FORMAT_DWVW_24:
    case SF_FORMAT_ALAC_20:
    case SF_FORMAT_ALAC_24:
        return NECO_SAMPLE_S24;
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_ALAC_32:
        return NECO_SAMPLE_S32;
    default:
        return NECO_SAMPLE_F32;
    }
}

/* Lossy codings whose frame count in the header may be an estimate. */
static int audioio_is_lossy(int subtype)
{
    return subtype == SF_FORMAT_VORBIS || subtype == SF_FORMAT_OPUS ||
           subtype == SF_FORMAT_MPEG_LAYER_I || subtype == SF_FORMAT_MPEG_LAYER_II ||
           subtype == SF_FORMAT_MPEG_LAYER_III;
}

static size_t audioio_sample_bytes(neco_sample_format format)
{
    switch (format) {
    case NECO_SAMPLE_S16:
        return 2;
    case NECO_SAMPLE_S24:
    case NECO_SAMPLE_S32:
    case NECO_SAMPLE_F32:
        return 4;
    }
    return 0;
}

/* Reads up to `frames` frames at `dst` in the in-memory format. */
static sf_count_t audioio_read_block(SNDFILE *snd, neco_sample_format format, void *dst,
                                     sf_count_t frames, size_t channels)
{
    switch (format) {
    case NECO_SAMPLE_S16:
        return sf_readf_short(snd, dst, frames);
    case NECO_SAMPLE_S24: {
        /* sf_read_int returns samples scaled to the full 32-bit range, i.e. a 24-bit value
         * shifted left by 8; shift back (arithmetic shift: the low 8 bits are zero). */
        int32_t *s = dst;
        sf_count_t got = sf_readf_int(snd, (int *)s, frames);
        for (size_t i = 0; got > 0 && i < (size_t)got * channels; i++)
            s[i] = (int32_t)((s[i] - (s[i] & 0xff)) / 256);
        return got;
    }
    case NECO_SAMPLE_S32:
        return sf_readf_int(snd, dst, frames);
    case NECO_SAMPLE_F32:
        return sf_readf_float(snd, dst, frames);
    }
    return -1;
}

int audioio_read(const char *path, neco_audio *audio, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    if (path == NULL || audio == NULL) {
        audioio_set_err(err, err_size, "invalid argument");
        return -1;
    }
    memset(audio, 0, sizeof *audio);

    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        audioio_set_open_err(err, err_size, errno);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        audioio_set_err(err, err_size, "cannot open: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        audioio_set_open_err(err, err_size, EISDIR);
        return -1;
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0) {
        close(fd);
        audioio_set_err(err, err_size, "empty file");
        return -1;
    }

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *snd = sf_open_fd(fd, SFM_READ, &info, SF_FALSE);
    if (snd == NULL) {
        int code = sf_error(NULL);
        if (code == SF_ERR_UNRECOGNISED_FORMAT)
            audioio_set_err(err, err_size, "unsupported audio format");
        else
            audioio_set_sf_err(err, err_size, "invalid audio file: ", sf_strerror(NULL));
        close(fd);
        return -1;
    }

    int subtype = info.format & SF_FORMAT_SUBMASK;
    neco_sample_format format = audioio_format_of_subtype(subtype);
    size_t sample_bytes = audioio_sample_bytes(format);
    void *data = NULL;
    uint64_t done = 0;

    /* Check the header before sizing anything from it. */
    if (info.channels < 1 || info.channels > AUDIOIO_MAX_CHANNELS) {
        audioio_set_err(err, err_size, "unsupported channel count %d", info.channels);
        goto fail;
    }
    if (info.samplerate < 1) {
        audioio_set_err(err, err_size, "invalid sample rate %d", info.samplerate);
        goto fail;
    }
    if (info.frames < 0) {
        audioio_set_err(err, err_size, "invalid audio length");
        goto fail;
    }
    size_t channels = (size_t)info.channels;
    size_t frame_bytes = channels * sample_bytes;
    /* SF_COUNT_MAX: the header does not know the length (a FLAC STREAMINFO with 0 total samples,
     * RFC 9639 8.2, as an empty or streamed FLAC has); read to the end of the stream. */
    int known = info.frames != SF_COUNT_MAX;
    uint64_t limit = SIZE_MAX / frame_bytes;
    uint64_t frames = known ? (uint64_t)info.frames : limit;
    if (frames > limit) {
        audioio_set_err(err, err_size, "audio too long (%llu frames)",
                        (unsigned long long)frames);
        goto fail;
    }

    /* The buffer grows with the data actually decoded rather than with the header's claim, so a
     * small file that claims hours of audio costs no more memory than it holds. */
    uint64_t capacity = 0;
    while (done < frames) {
        if (done == capacity) {
            uint64_t grown = capacity == 0 ? AUDIOIO_BLOCK_FRAMES
                             : capacity > frames / 2 ? frames
                                                     : capacity * 2;
            if (grown > frames)
                grown = frames;
            void *bigger = realloc(data, (size_t)grown * frame_bytes);
            if (bigger == NULL) {
                audioio_set_err(err, err_size, "out of memory");
                goto fail;
            }
            data = bigger;
            capacity = grown;
        }
        uint64_t want = capacity - done;
        if (want > AUDIOIO_BLOCK_FRAMES)
            want = AUDIOIO_BLOCK_FRAMES;
        sf_count_t got = audioio_read_block(snd, format, (char *)data + (size_t)done * frame_bytes,
                                            (sf_count_t)want, channels);
        if (got < 0 || (uint64_t)got > want) {
            audioio_set_sf_err(err, err_size, "read error: ", sf_strerror(snd));
            goto fail;
        }
        if (got == 0)
            break;
        done += (uint64_t)got;
    }
    if (sf_error(snd) != SF_ERR_NO_ERROR) {
        audioio_set_sf_err(err, err_size, "invalid audio data: ", sf_strerror(snd));
        goto fail;
    }
    /* A lossy stream's length in the header can be an estimate; a lossless one is exact. */
    if (known && done < frames && !audioio_is_lossy(subtype)) {
        audioio_set_err(err, err_size,
                        "truncated audio data (the header says %llu frames, found %llu)",
                        (unsigned long long)frames, (unsigned long long)done);
        goto fail;
    }
    if (done == 0) {
        free(data);
        data = NULL;
    } else if (done < capacity) {
        void *smaller = realloc(data, (size_t)done * frame_bytes);
        if (smaller != NULL)
            data = smaller;
    }

    sf_close(snd);
    close(fd);
    audio->sample_rate = (uint32_t)info.samplerate;
    audio->channels = (uint32_t)info.channels;
    audio->frames = done;
    audio->format = format;
    audio->data = data;
    return 0;

fail:
    free(data);
    sf_close(snd);
    close(fd);
    return -1;
}

/* The container for an output path, from its extension (case-insensitive). */
static int audioio_container_of_path(const char *path)
{
    static const struct {
        const char *ext;
        int container;
    } table[] = {{"wav", SF_FORMAT_WAV},   {"flac", SF_FORMAT_FLAC}, {"ogg", SF_FORMAT_OGG},
                 {"oga", SF_FORMAT_OGG},   {"aif", SF_FORMAT_AIFF},  {"aiff", SF_FORMAT_AIFF},
                 {"aifc", SF_FORMAT_AIFF}};
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash != NULL ? slash : path, '.');
    if (dot == NULL)
        return 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *a = dot + 1, *b = table[i].ext;
        while (*a != '\0' && tolower((unsigned char)*a) == *b) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return table[i].container;
    }
    return 0;
}

/* Writes `frames` frames from `src` (in-memory format) through the scratch buffer if needed. */
static int audioio_write_block(SNDFILE *snd, neco_sample_format format, const void *src,
                               sf_count_t frames, size_t channels, int32_t *scratch)
{
    sf_count_t put = -1;
    switch (format) {
    case NECO_SAMPLE_S16:
        put = sf_writef_short(snd, src, frames);
        break;
    case NECO_SAMPLE_S24: {
        /* The inverse of the read side: sf_write_int takes full-scale 32-bit samples. */
        const int32_t *s = src;
        for (size_t i = 0; i < (size_t)frames * channels; i++)
            scratch[i] = (int32_t)((uint32_t)s[i] << 8);
        put = sf_writef_int(snd, (const int *)scratch, frames);
        break;
    }
    case NECO_SAMPLE_S32:
        put = sf_writef_int(snd, src, frames);
        break;
    case NECO_SAMPLE_F32:
        put = sf_writef_float(snd, src, frames);
        break;
    }
    return put == frames ? 0 : -1;
}

struct audioio_writer {
    SNDFILE *snd;
    int fd;
    neco_sample_format format;
    size_t channels;
    int32_t *scratch; /* S24: samples shifted into sf_write_int's range */
};

static void audioio_writer_free(audioio_writer *w)
{
    if (w->snd != NULL)
        sf_close(w->snd);
    if (w->fd >= 0)
        close(w->fd);
    free(w->scratch);
    free(w);
}

/* The libsndfile format for writing this audio to path (its extension picks the container),
 * or -1 with the reason in err when that container cannot hold it. */
static int audioio_output_format(const char *path, uint32_t sample_rate, uint32_t channels_in,
                                 neco_sample_format format, uint64_t frames, SF_INFO *out,
                                 char *err, size_t err_size)
{
    size_t sample_bytes = audioio_sample_bytes(format);
    if (sample_bytes == 0) {
        audioio_set_err(err, err_size, "unknown sample format %d", (int)format);
        return -1;
    }
    if (channels_in < 1 || channels_in > AUDIOIO_MAX_CHANNELS) {
        audioio_set_err(err, err_size, "unsupported channel count %u", channels_in);
        return -1;
    }
    if (sample_rate < 1 || sample_rate > INT32_MAX) {
        audioio_set_err(err, err_size, "invalid sample rate %u", sample_rate);
        return -1;
    }
    size_t channels = channels_in;
    if (frames > SIZE_MAX / (channels * sample_bytes)) {
        audioio_set_err(err, err_size, "audio too long");
        return -1;
    }

    int container = audioio_container_of_path(path);
    int subtype = 0;
    switch (format) {
    case NECO_SAMPLE_S16:
        subtype = SF_FORMAT_PCM_16;
        break;
    case NECO_SAMPLE_S24:
        subtype = SF_FORMAT_PCM_24;
        break;
    case NECO_SAMPLE_S32:
        subtype = SF_FORMAT_PCM_32;
        break;
    case NECO_SAMPLE_F32:
        subtype = SF_FORMAT_FLOAT;
        break;
    }
    switch (container) {
    case 0:
        audioio_set_err(err, err_size,
                        "unsupported audio output extension (use .wav, .flac, .ogg, .aif or "
                        ".aiff)");
        return -1;
    case SF_FORMAT_WAV:
        /* WAVE_FORMAT_EXTENSIBLE carries the channel mask that files with more than two
         * channels need (Microsoft, "Multiple channel audio data and WAVE files"). */
        if (channels > 2)
            container = SF_FORMAT_WAVEX;
        break;
    case SF_FORMAT_FLAC:
        /* FLAC (RFC 9639) codes integers up to 32 bits, but libFLAC as used by libsndfile
         * stops at 24, and it has no float mode: refuse rather than silently lose bits. */
        if (format == NECO_SAMPLE_S32 || format == NECO_SAMPLE_F32) {
            audioio_set_err(err, err_size,
                            "FLAC output supports 16- and 24-bit integer samples only, not %s "
                            "(write .wav instead)",
                            format == NECO_SAMPLE_S32 ? "32-bit integer" : "float");
            return -1;
        }
        if (channels > 8) {
            audioio_set_err(err, err_size, "FLAC supports at most 8 channels, not %zu",
                            channels);
            return -1;
        }
        break;
    case SF_FORMAT_OGG:
        subtype = SF_FORMAT_VORBIS; /* lossy whatever the input format */
        if (channels > 255) {
            audioio_set_err(err, err_size, "Ogg Vorbis supports at most 255 channels");
            return -1;
        }
        break;
    default:
        break;
    }
    /* RIFF/WAVE and AIFF sizes are 32-bit fields: more data would give a file with wrapped
     * sizes that readers cut short. */
    if (container != SF_FORMAT_FLAC && container != SF_FORMAT_OGG) {
        uint64_t file_sample_bytes = format == NECO_SAMPLE_S16   ? 2
                                     : format == NECO_SAMPLE_S24 ? 3
                                                                 : 4;
        if (frames > (UINT32_MAX - 4096u) / (file_sample_bytes * channels)) {
            audioio_set_err(err, err_size,
                            "too much audio for a WAV or AIFF file (4 GiB limit); use .flac");
            return -1;
        }
    }

    memset(out, 0, sizeof *out);
    out->samplerate = (int)sample_rate;
    out->channels = (int)channels;
    out->format = container | subtype;
    if (!sf_format_check(out)) {
        audioio_set_err(err, err_size, "this container cannot store this audio format");
        return -1;
    }
    return 0;
}

/* Checks that S24 samples fit in 24 bits, or the shift into sf_write_int's range would wrap. */
static int audioio_check_s24(const int32_t *s, size_t count, char *err, size_t err_size)
{
    for (size_t i = 0; i < count; i++) {
        if (s[i] < -8388608 || s[i] > 8388607) {
            audioio_set_err(err, err_size, "24-bit sample out of range at index %zu", i);
            return -1;
        }
    }
    return 0;
}

int audioio_writer_open(const char *path, uint32_t sample_rate, uint32_t channels,
                        neco_sample_format format, uint64_t frames, audioio_writer **writer,
                        char *err, size_t err_size)
{
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    if (writer != NULL)
        *writer = NULL;
    if (path == NULL || writer == NULL) {
        audioio_set_err(err, err_size, "invalid argument");
        return -1;
    }
    SF_INFO info;
    if (audioio_output_format(path, sample_rate, channels, format, frames, &info, err,
                              err_size) != 0)
        return -1;
    int container = info.format & SF_FORMAT_TYPEMASK;

    audioio_writer *w = calloc(1, sizeof *w);
    if (w == NULL) {
        audioio_set_err(err, err_size, "out of memory");
        return -1;
    }
    w->fd = -1;
    w->format = format;
    w->channels = channels;
    if (format == NECO_SAMPLE_S24) {
        w->scratch = malloc(sizeof(int32_t) * AUDIOIO_BLOCK_FRAMES * channels);
        if (w->scratch == NULL) {
            audioio_set_err(err, err_size, "out of memory");
            audioio_writer_free(w);
            return -1;
        }
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (w->fd < 0) {
        audioio_set_open_err(err, err_size, errno);
        audioio_writer_free(w);
        return -1;
    }
    w->snd = sf_open_fd(w->fd, SFM_WRITE, &info, SF_FALSE);
    if (w->snd == NULL) {
        audioio_set_sf_err(err, err_size, "cannot write audio: ", sf_strerror(NULL));
        audioio_writer_free(w);
        return -1;
    }

    /* libsndfile's FLAC writer emits STREAMINFO on the first write; a file without frames still
     * needs it to be a valid (empty) stream. (Not for Ogg: its writer has already written the
     * Vorbis headers, and asking again writes them twice.) */
    if (frames == 0 && container == SF_FORMAT_FLAC)
        sf_command(w->snd, SFC_UPDATE_HEADER_NOW, NULL, 0);
    *writer = w;
    return 0;
}

int audioio_writer_put(audioio_writer *w, const void *data, uint64_t frames, char *err,
                       size_t err_size)
{
    if (w == NULL || (data == NULL && frames > 0)) {
        audioio_set_err(err, err_size, "invalid argument");
        return -1;
    }
    if (w->format == NECO_SAMPLE_S24 &&
        audioio_check_s24(data, (size_t)frames * w->channels, err, err_size) != 0)
        return -1;
    const char *src = data;
    size_t frame_bytes = w->channels * audioio_sample_bytes(w->format);
    for (uint64_t done = 0; done < frames;) {
        uint64_t n = frames - done;
        if (n > AUDIOIO_BLOCK_FRAMES)
            n = AUDIOIO_BLOCK_FRAMES;
        if (audioio_write_block(w->snd, w->format, src + (size_t)done * frame_bytes,
                                (sf_count_t)n, w->channels, w->scratch) != 0) {
            audioio_set_sf_err(err, err_size, "write error: ", sf_strerror(w->snd));
            return -1;
        }
        done += n;
    }
    return 0;
}

int audioio_writer_close(audioio_writer *w, char *err, size_t err_size)
{
    if (w == NULL)
        return 0;
    /* sf_close writes the final header (sizes, FLAC STREAMINFO); its failure is a write error. */
    int rc = sf_close(w->snd);
    w->snd = NULL;
    if (rc != 0) {
        audioio_set_sf_err(err, err_size, "write error: ", sf_error_number(rc));
        audioio_writer_free(w);
        return -1;
    }
    rc = close(w->fd);
    w->fd = -1;
    if (rc != 0) {
        audioio_set_err(err, err_size, "write error: %s", strerror(errno));
        audioio_writer_free(w);
        return -1;
    }
    audioio_writer_free(w);
    return 0;
}

void audioio_writer_abort(audioio_writer *w)
{
    if (w != NULL)
        audioio_writer_free(w);
}

int audioio_write(const char *path, const neco_audio *audio, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    if (path == NULL || audio == NULL || (audio->data == NULL && audio->frames > 0)) {
        audioio_set_err(err, err_size, "invalid argument");
        return -1;
    }
    /* Everything is checked before the file is created, out-of-range 24-bit samples included,
     * so that a refused write leaves no file behind. */
    SF_INFO info;
    if (audioio_output_format(path, audio->sample_rate, audio->channels, audio->format,
                              audio->frames, &info, err, err_size) != 0)
        return -1;
    if (audio->format == NECO_SAMPLE_S24 &&
        audioio_check_s24(audio->data, (size_t)audio->frames * audio->channels, err,
                          err_size) != 0)
        return -1;
    audioio_writer *w;
    if (audioio_writer_open(path, audio->sample_rate, audio->channels, audio->format,
                            audio->frames, &w, err, err_size) != 0)
        return -1;
    if (audioio_writer_put(w, audio->data, audio->frames, err, err_size) != 0) {
        audioio_writer_abort(w);
        return -1;
    }
    return audioio_writer_close(w, err, err_size);
}
