/* libFuzzer harness of the whole decoder (issue 8): container, entropy decoding, integer h_s and
 * the synthesis networks, through the public API with the shipped weights.
 *
 * The first input byte is a mode; the rest is a stream. Mode bit 0: recompute the header and
 * unit CRCs before decoding, so that mutations get past the CRC checks and reach the models'
 * payload decoders (without it almost every mutation stops at a CRC). Mode bit 1: decode with
 * conceal on. The pixel cap keeps each execution small. Sanitizers and libFuzzer's leak check
 * report the rest. Seed corpus: tests/fuzz/corpus/decode (conformance streams). */
#include <neco/neco.h>

#include "codec/crc32.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef NECO_FUZZ_WEIGHTS
#define NECO_FUZZ_WEIGHTS "weights"
#endif

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rewrites every CRC that the layout of buf allows to locate (BITSTREAM.md 1.2, 1.4). */
static void fix_crcs(uint8_t *buf, size_t size)
{
    if (size < 64)
        return;
    put32(buf + 60, crc32_update(0, buf, 60));
    size_t pos = 64;
    while (size - pos >= 8) {
        uint32_t len = get32(buf + pos);
        if ((uint64_t)len + 8 > size - pos)
            break;
        put32(buf + pos + 4 + len, crc32_update(0, buf + pos, 4 + (size_t)len));
        pos += 8 + (size_t)len;
    }
}

static neco_context *make(int conceal)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.backend = "ref";
    cfg.threads = 1;
    cfg.weights_dir = getenv("NECO_WEIGHTS_DIR") ? getenv("NECO_WEIGHTS_DIR") : NECO_FUZZ_WEIGHTS;
    cfg.max_pixels = 1 << 13; /* 90 x 90: small images keep executions fast */
    cfg.max_frames = 1 << 20;
    cfg.conceal = conceal;
    neco_context *ctx = NULL;
    if (neco_context_create(&cfg, &ctx) != NECO_OK)
        abort();
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Contexts (and the loaded weights) live for the whole run: the harness keeps them. */
    static neco_context *strict, *lenient;
    if (!strict) {
        strict = make(0);
        lenient = make(1);
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    memcpy(buf, data + 1, n);
    if (mode & 1)
        fix_crcs(buf, n);
    neco_decoded dec;
    if (neco_decode(mode & 2 ? lenient : strict, buf, n, &dec) == NECO_OK)
        neco_decoded_free(&dec);
    free(buf);
    return 0;
}
