/* rANS entropy coder of neco (conformance/BITSTREAM.md section 2.1).
 *
 * A range-variant asymmetric numeral system coder after J. Duda, "Asymmetric numeral systems"
 * (arXiv:1311.2540), in the form of F. Giesen's ryg_rans rans64.h: a 64-bit state kept in
 * [2^31, 2^63) and renormalised 32 bits at a time, with NECO_RANS_LANES states interleaved
 * round-robin in one stream (Giesen, "Interleaved entropy coders", arXiv:1402.3392).
 *
 * The interface to a learned model is CompressAI's encode_with_indexes: each element has an
 * integer value and the index of the table that models it. A value outside its table's support
 * is coded as the escape symbol followed by bypass bits (section 2.4), so every int32 value
 * round-trips.
 *
 * The encoder collects symbols in order and writes the stream at flush (rANS codes in
 * reverse); the decoder reads in order. Several calls may share one stream, e.g. hyper-latents
 * z with a factorized set and then latents y with a Gaussian set. Decoder functions never read
 * outside the given buffer and return a status; corrupt input yields an error or some symbols. */
#ifndef NECO_ENTROPY_RANS_H
#define NECO_ENTROPY_RANS_H
#include <stddef.h>
#include <stdint.h>

#include "entropy/cdf.h"

/* Interleaved states per stream, a format constant (section 2.1). The benchmark builds variants
 * with RANS_LANES set to 1 or 4 to measure the choice; neco's own build never sets it. */
#ifdef RANS_LANES
#define NECO_RANS_LANES RANS_LANES
#else
#define NECO_RANS_LANES 2
#endif

#define NECO_RANS_STATE_LOW (1ull << 31) /* L: states live in [L, 2^32 L) */

typedef struct neco_rans_encoder {
    uint64_t *ops; /* coded operations in decoding order: start | freq << 25 | precision << 50 */
    size_t count;
    size_t capacity;
} neco_rans_encoder;

void neco_rans_encoder_init(neco_rans_encoder *enc);
void neco_rans_encoder_release(neco_rans_encoder *enc);

/* Appends n values; element i is coded with table indexes[i] of the set. Fails with
 * NECO_ENTROPY_ERR_ARG (appending nothing) on a bad index, or on a value outside the support of
 * a table without escape. */
int neco_rans_encode_with_indexes(neco_rans_encoder *enc, const neco_cdf_tables *tables,
                                  const int32_t *values, const int32_t *indexes, size_t n);
/* Appends nbits (0..32) raw bits of value, coded uniformly. */
int neco_rans_encode_bits(neco_rans_encoder *enc, uint32_t value, int nbits);

/* Bytes the stream of what was appended so far takes at most. */
size_t neco_rans_encoder_bound(const neco_rans_encoder *enc);
/* Writes the stream to out (capacity bytes, at least neco_rans_encoder_bound()) and empties
 * the encoder for a new stream. */
int neco_rans_encoder_flush(neco_rans_encoder *enc, uint8_t *out, size_t capacity, size_t *size);

typedef struct neco_rans_decoder {
    const uint8_t *data;
    size_t size;
    size_t pos;                      /* next unread byte */
    uint64_t state[NECO_RANS_LANES]; /* state[0] decodes the next symbol */
    int status;                      /* first error met; every later call returns it */
} neco_rans_decoder;

/* Starts decoding a stream of size bytes; data must outlive the decoder. */
int neco_rans_decoder_init(neco_rans_decoder *dec, const uint8_t *data, size_t size);
/* Decodes n values with the tables indexes[i], the mirror of neco_rans_encode_with_indexes. */
int neco_rans_decode_with_indexes(neco_rans_decoder *dec, const neco_cdf_tables *tables,
                                  const int32_t *indexes, size_t n, int32_t *values);
int neco_rans_decode_bits(neco_rans_decoder *dec, int nbits, uint32_t *value);
/* NECO_ENTROPY_OK when the whole stream was consumed and every state is back at its initial
 * value L, as after decoding exactly what the encoder wrote; NECO_ENTROPY_ERR_CORRUPT
 * otherwise. It catches most damage (random corruption rarely ends in exactly that state), but it
 * is no checksum: the container's CRC is. */
int neco_rans_decoder_finish(const neco_rans_decoder *dec);

#endif
