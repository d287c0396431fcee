/* Internal entry points of the aud-grvq model beyond its codec_model (models.h). */
#ifndef NECO_CODEC_AUD_GRVQ_H
#define NECO_CODEC_AUD_GRVQ_H
#include "context.h"

/* Entropy-decodes chunk `index` of an aud-grvq stream and returns its codeword indices (*n
 * values in coding order: coded channel, group, stage, frame; free with free()) and the number
 * of latent frames of the chunk in *frames. For the agreement test with PyTorch
 * (tests/test_aud_grvq.c). */
neco_status aud_grvq_chunk_symbols(neco_context *ctx, const uint8_t *data, size_t size,
                                   uint32_t index, int32_t **symbols, size_t *n, int *frames);

#endif
