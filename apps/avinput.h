/* Input files that libpng and libsndfile cannot read (JPEG, WebP, TIFF, GIF, MP3, AAC, Opus,
 * video files ...), read with libavformat/libavcodec, so that `neco encode` codes anything
 * FFmpeg decodes. Used by the CLI only when the file is neither a PNG nor an audio file that
 * libsndfile knows (see apps/filekind.h). */
#ifndef NECO_APPS_AVINPUT_H
#define NECO_APPS_AVINPUT_H
#include <neco/neco.h>

#include <stddef.h>
#include <stdint.h>

typedef struct avinput_options {
    /* What to read: NECO_MEDIA_IMAGE (a picture, or one frame of a video or animation),
     * NECO_MEDIA_AUDIO (the audio of the file), or 0: the file decides: its picture or video
     * when it has one that is not just cover art, otherwise its audio. */
    int media;
    /* Images: which frame of a video or animation, counted from 0 in decoding output order. */
    int64_t frame;
} avinput_options;

/*
 * Reads path. On success sets *media to what was read and fills *image or *audio (free its data
 * with free()), and returns 0. On failure returns -1 and writes a one-line reason (without the
 * file name, without a newline) to err[0..err_size).
 *
 * Images keep what the source has: gray or colour (YUV is converted to RGB with the matrix and
 * range the stream declares), with or without alpha, 8 bits, or 16 when a component has more
 * than 8. Audio is interleaved: 8/16-bit integer sources -> S16 (8-bit scaled by 256, as
 * apps/audioio.c does), 32-bit integer -> S32, or S24 when the stream says 24 bits are used,
 * everything else (float, double, 64-bit, lossy decoders' float output) -> F32.
 */
int avinput_read(const char *path, const avinput_options *options, neco_media *media,
                 neco_image *image, neco_audio *audio, char *err, size_t err_size);

#endif
