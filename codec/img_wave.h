/* Internal entry points of the img-wave model beyond its codec_model (models.h). */
#ifndef NECO_CODEC_IMG_WAVE_H
#define NECO_CODEC_IMG_WAVE_H
#include "context.h"

/* Entropy-decodes tile `index` of an img-wave stream and returns its symbols: z_hat (*nz
 * values) and y_hat (*ny values), each in C order (free both with free()). For conformance
 * checks and the agreement test with the Python decoder (tests/test_img_wave.c). */
neco_status img_wave_tile_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y,
                                  size_t *ny);

#endif
