/* Internal entry points of the aud-wave model beyond its codec_model (models.h). */
#ifndef NECO_CODEC_AUD_WAVE_H
#define NECO_CODEC_AUD_WAVE_H
#include "context.h"

/* Entropy-decodes chunk `index` of an aud-wave stream and returns its symbols y_hat (*n values,
 * in coding order: coded channel, latent channel, frame; free with free()), and the number of
 * latent frames of the chunk in *frames. For the agreement test with PyTorch
 * (tests/test_aud_wave.c) and conformance checks. */
neco_status aud_wave_chunk_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                   uint32_t index, int32_t **symbols, size_t *n, int *frames);

/* The quality level (1-based) whose nominal bitrate (metadata nominal_kbps: kbps of stereo
 * music, mid/side coded) is closest to kbps on a log scale: the mapping of `--kbps K`. */
neco_status aud_wave_quality_for_kbps(neco_context *ctx, double kbps, int *quality);

/* Resamples x (nx samples at in_rate, zeros outside) to y[0..ny) at out_rate with the filter of
 * BITSTREAM.md 3.2; one rate must be 44100 and the other one that aud-wave resamples. 0, or -1
 * for other rates or when out of memory. For tests of the filter. */
int aud_wave_resample(uint32_t in_rate, uint32_t out_rate, const float *x, size_t nx, float *y,
                      size_t ny);

#endif
