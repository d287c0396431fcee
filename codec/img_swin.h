/* Internal entry points of the img-swin model beyond its codec_model (models.h); the model is
 * img-wave's graph with Swin stages (img_wave.c). */
#ifndef NECO_CODEC_IMG_SWIN_H
#define NECO_CODEC_IMG_SWIN_H
#include "context.h"

/* Entropy-decodes tile `index` of an img-swin stream and returns its symbols: z_hat (*nz values)
 * and the residuals of y (*ny values), each in C order (free both with free()). For conformance
 * checks and the agreement test with the Python decoder (tests/test_img_swin.c). */
neco_status img_swin_tile_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                  uint32_t index, int32_t **z, size_t *nz, int32_t **y,
                                  size_t *ny);

#endif
