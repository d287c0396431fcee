/* SHA-256 (FIPS 180-4). neco names the weights a stream was made with by the first 16 bytes of
 * the SHA-256 of the weights file (BITSTREAM.md section 1.2), so `sha256sum` checks it too. */
#ifndef NECO_CODEC_SHA256_H
#define NECO_CODEC_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct sha256_state {
    uint32_t h[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
} sha256_state;

void sha256_init(sha256_state *s);
void sha256_update(sha256_state *s, const void *data, size_t size);
void sha256_final(sha256_state *s, uint8_t digest[32]);

#endif
