#include "buffer.h"

#include <stdlib.h>
#include <string.h>

void bytebuf_init(bytebuf *b) { memset(b, 0, sizeof *b); }

void bytebuf_free(bytebuf *b)
{
    free(b->data);
    bytebuf_init(b);
}

uint8_t *bytebuf_extend(bytebuf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (n > SIZE_MAX - b->size) {
        b->failed = 1;
        return NULL;
    }
    if (b->size + n > b->capacity) {
        size_t cap = b->capacity ? b->capacity : 4096;
        while (cap < b->size + n)
            cap = cap > SIZE_MAX / 2 ? b->size + n : cap * 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return NULL;
        }
        b->data = p;
        b->capacity = cap;
    }
    uint8_t *at = b->data + b->size;
    b->size += n;
    return at;
}

void bytebuf_put(bytebuf *b, const void *data, size_t n)
{
    uint8_t *p = bytebuf_extend(b, n);
    if (p && n)
        memcpy(p, data, n);
}

void bytebuf_put_u32(bytebuf *b, uint32_t v)
{
    uint8_t *p = bytebuf_extend(b, 4);
    if (p)
        store_u32(p, v);
}
