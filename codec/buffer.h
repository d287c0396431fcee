/* A growable byte buffer for writing bitstreams. */
#ifndef NECO_CODEC_BUFFER_H
#define NECO_CODEC_BUFFER_H
#include <stddef.h>
#include <stdint.h>

typedef struct bytebuf {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int failed; /* an allocation failed: later writes are ignored */
} bytebuf;

void bytebuf_init(bytebuf *b);
void bytebuf_free(bytebuf *b);
/* Makes room for n more bytes and returns where they go (NULL after a failed allocation). */
uint8_t *bytebuf_extend(bytebuf *b, size_t n);
void bytebuf_put(bytebuf *b, const void *data, size_t n);
void bytebuf_put_u32(bytebuf *b, uint32_t v);

/* Little-endian loads and stores (BITSTREAM.md: all integers are little-endian). */
static inline void store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void store_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t load_u64(const uint8_t *p)
{
    return (uint64_t)load_u32(p) | (uint64_t)load_u32(p + 4) << 32;
}
#endif
