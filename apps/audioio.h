/* Audio file I/O for the CLI (libsndfile). */
#ifndef NECO_APPS_AUDIOIO_H
#define NECO_APPS_AUDIOIO_H
#include <neco/neco.h>
#include <stddef.h>

/*
 * Reads any file libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, ...), any channel count.
 * The sample format follows the file: 8/16-bit PCM -> S16 (8-bit scaled by 256), 24-bit -> S24,
 * 32-bit PCM -> S32, float/double/lossy (Vorbis, ...) -> F32. On success fills *audio (free
 * audio->data with free()) and returns 0; on failure returns -1 with a one-line reason in err.
 */
int audioio_read(const char *path, neco_audio *audio, char *err, size_t err_size);

/*
 * Writes audio; the container follows the extension of path: .wav (PCM 16/24/32 or float, as
 * audio->format), .flac (16/24-bit; S32 and F32 are refused), .ogg (Vorbis, lossy),
 * .aiff/.aif. Returns 0, or -1 with a reason in err.
 */
int audioio_write(const char *path, const neco_audio *audio, char *err, size_t err_size);

/*
 * Writes audio piece by piece, for a decoder that has the first samples before the last ones
 * exist. audioio_writer_open creates path for `frames` frames of this format, with the checks
 * of audioio_write (which is open + one put + close). audioio_writer_put appends frames (to a
 * WAV or AIFF file at once; FLAC and Vorbis encoders hold back up to a block).
 * audioio_writer_close completes the file (the header's sizes, FLAC's STREAMINFO) and frees the
 * writer; audioio_writer_abort frees it, leaving an incomplete file for the caller to remove.
 * Each returns 0, or -1 with a reason in err.
 */
typedef struct audioio_writer audioio_writer;
int audioio_writer_open(const char *path, uint32_t sample_rate, uint32_t channels,
                        neco_sample_format format, uint64_t frames, audioio_writer **writer,
                        char *err, size_t err_size);
int audioio_writer_put(audioio_writer *writer, const void *data, uint64_t frames, char *err,
                       size_t err_size);
int audioio_writer_close(audioio_writer *writer, char *err, size_t err_size);
void audioio_writer_abort(audioio_writer *writer);

#endif
