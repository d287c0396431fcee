/* Chunk-by-chunk audio decoding (neco_read_header, neco_decode_audio_chunk): a stream decoded
 * one chunk at a time, as it arrives, gives neco_decode's samples exactly, for the raw model and
 * aud-wave (native and resampled rates); damaged, cut and foreign chunks fail naming the chunk,
 * as neco_decode does (issue 7: chunked coding). */
#include "test.h"

#include "codec/crc32.h"

#include <neco/neco.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WEIGHTS_DIR
#define WEIGHTS_DIR "../weights"
#endif
#define PI 3.14159265358979323846

static neco_context *context(void)
{
    neco_config cfg;
    neco_config_default(&cfg);
    cfg.weights_dir = WEIGHTS_DIR;
    cfg.threads = 1;
    neco_context *ctx = NULL;
    CU_ASSERT_FATAL(neco_context_create(&cfg, &ctx) == NECO_OK);
    return ctx;
}

/* Tones and a decaying noise burst (a 32-bit LCG): deterministic, music-like, every sample
 * different from its neighbours so that a chunk put at the wrong place shows. */
static void synth(neco_audio *a)
{
    size_t n = (size_t)a->frames * a->channels;
    size_t bps = neco_sample_size(a->format);
    a->data = malloc(n * bps);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a->data);
    uint32_t seed = 777;
    for (size_t i = 0; i < n; i++) {
        size_t t = i / a->channels, c = i % a->channels;
        double tt = (double)t / a->sample_rate;
        seed = seed * 1664525u + 1013904223u;
        double v = 0.4 * sin(2 * PI * (330.0 + 110.0 * c) * tt) +
                   0.1 * exp(-fmod(tt, 0.2) * 20.0) * ((double)(seed >> 8) / 16777216.0 - 0.5);
        switch (a->format) {
        case NECO_SAMPLE_S16: ((int16_t *)a->data)[i] = (int16_t)lrint(v * 32767.0); break;
        case NECO_SAMPLE_S24: ((int32_t *)a->data)[i] = (int32_t)lrint(v * 8388607.0); break;
        case NECO_SAMPLE_S32: ((int32_t *)a->data)[i] = (int32_t)lrint(v * 2147483647.0); break;
        case NECO_SAMPLE_F32: ((float *)a->data)[i] = (float)v; break;
        }
    }
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The offset of unit `index` in a whole stream (BITSTREAM.md 1: u32 length, payload, u32 CRC). */
static size_t unit_offset(const uint8_t *stream, const neco_info *info, uint32_t index)
{
    size_t pos = (size_t)info->header_size;
    for (uint32_t i = 0; i < index; i++)
        pos += 8 + (size_t)load32(stream + pos);
    return pos;
}

/* Encodes `a` with `model`, then decodes it whole and chunk by chunk (each chunk given only its
 * own bytes, in a buffer of their exact size so that the sanitizers catch a read beyond), and
 * checks that the chunks, put end to end, are neco_decode's output. */
static void check_chunked(const char *model, neco_audio *a, uint32_t min_chunks)
{
    synth(a);
    neco_context *ctx = context();
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = model;
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_audio(ctx, a, &p, &coded, &size) == NECO_OK);
    neco_decoded whole;
    CU_ASSERT_FATAL(neco_decode(ctx, coded, size, &whole) == NECO_OK);
    neco_info info;
    /* The header alone is enough for neco_read_header; neco_read_info wants the whole file. */
    CU_ASSERT_FATAL(neco_read_header(ctx, coded, 64, &info) == NECO_OK);
    CU_ASSERT_EQUAL(neco_read_info(ctx, coded, 64, &info), NECO_ERR_TRUNCATED);
    CU_ASSERT_FATAL(neco_read_header(ctx, coded, size, &info) == NECO_OK);
    CU_ASSERT_FATAL(info.units >= min_chunks);
    uint8_t *header = malloc((size_t)info.header_size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(header);
    memcpy(header, coded, (size_t)info.header_size);
    size_t frame_bytes = (size_t)a->channels * neco_sample_size(a->format);
    uint64_t at = 0;
    size_t pos = (size_t)info.header_size;
    for (uint32_t i = 0; i < info.units; i++) {
        size_t unit_size = 8 + (size_t)load32(coded + pos);
        uint8_t *unit = malloc(unit_size);
        CU_ASSERT_PTR_NOT_NULL_FATAL(unit);
        memcpy(unit, coded + pos, unit_size);
        neco_audio chunk;
        neco_status st = neco_decode_audio_chunk(ctx, header, (size_t)info.header_size, i, unit,
                                                 unit_size, &chunk);
        CU_ASSERT_EQUAL_FATAL(st, NECO_OK);
        uint64_t want = info.frames - at < info.chunk_frames ? info.frames - at : info.chunk_frames;
        CU_ASSERT_EQUAL(chunk.frames, want);
        CU_ASSERT_EQUAL(chunk.sample_rate, a->sample_rate);
        CU_ASSERT_EQUAL(chunk.channels, a->channels);
        CU_ASSERT_EQUAL(chunk.format, a->format);
        CU_ASSERT(memcmp(chunk.data, (const uint8_t *)whole.audio.data + (size_t)at * frame_bytes,
                         (size_t)chunk.frames * frame_bytes) == 0);
        at += chunk.frames;
        pos += unit_size;
        neco_free(chunk.data);
        free(unit);
    }
    CU_ASSERT_EQUAL(at, info.frames);
    CU_ASSERT_EQUAL(pos, size);
    /* The header may come with the rest of the file behind it. */
    neco_audio chunk;
    size_t last = unit_offset(coded, &info, info.units - 1);
    CU_ASSERT_EQUAL(neco_decode_audio_chunk(ctx, coded, size, info.units - 1, coded + last,
                                            size - last, &chunk),
                    NECO_OK);
    neco_free(chunk.data);
    free(header);
    neco_decoded_free(&whole);
    neco_free(coded);
    neco_context_destroy(ctx);
    free(a->data);
}

static void test_raw_chunks(void)
{
    /* 3 chunks of 16384 frames and a short fourth; 24-bit (3 bytes a sample in the payload). */
    neco_audio a = {48000, 2, 3 * 16384 + 1000, NECO_SAMPLE_S24, NULL};
    check_chunked("raw", &a, 4);
    neco_audio f = {8000, 3, 2 * 16384, NECO_SAMPLE_F32, NULL};
    check_chunked("raw", &f, 2);
}

static void test_aud_wave_chunks(void)
{
    /* aud-wave codes 131072-frame chunks with margins: at 44.1 kHz directly, at 32 kHz
     * through the resampler, whose grid depends on where the chunk starts. */
    neco_audio a = {44100, 2, 131072 + 20000, NECO_SAMPLE_S16, NULL};
    check_chunked("aud-wave", &a, 2);
    neco_audio r = {32000, 1, 131072 + 9000, NECO_SAMPLE_S16, NULL};
    check_chunked("aud-wave", &r, 2);
}

/* A raw stream of 3 chunks, for the error cases. */
static void raw_stream(neco_context *ctx, uint8_t **coded, size_t *size, neco_info *info)
{
    neco_audio a = {44100, 1, 2 * 16384 + 500, NECO_SAMPLE_S16, NULL};
    synth(&a);
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "raw";
    CU_ASSERT_FATAL(neco_encode_audio(ctx, &a, &p, coded, size) == NECO_OK);
    CU_ASSERT_FATAL(neco_read_info(ctx, *coded, *size, info) == NECO_OK);
    CU_ASSERT_FATAL(info->units == 3);
    free(a.data);
}

/* A failed call leaves out empty and names chunk `index` in the context's error. */
static void check_fails(neco_context *ctx, const uint8_t *header, uint32_t index,
                        const uint8_t *unit, size_t unit_size, neco_status want,
                        const char *message)
{
    neco_audio out;
    neco_status st = neco_decode_audio_chunk(ctx, header, 64, index, unit, unit_size, &out);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_PTR_NULL(out.data);
    CU_ASSERT_EQUAL(out.frames, 0);
    if (!strstr(neco_context_error(ctx), message)) {
        fprintf(stderr, "\n  error '%s' lacks '%s'\n", neco_context_error(ctx), message);
        CU_FAIL("the error does not name the chunk");
    }
    neco_free(out.data);
}

static void test_damaged_chunks(void)
{
    neco_context *ctx = context();
    uint8_t *coded;
    size_t size;
    neco_info info;
    raw_stream(ctx, &coded, &size, &info);
    size_t at1 = unit_offset(coded, &info, 1), at2 = unit_offset(coded, &info, 2);
    size_t len1 = at2 - at1;
    uint8_t *unit = malloc(len1 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(unit);

    /* A flipped payload bit: neco_decode and the chunk call name the same chunk. */
    memcpy(unit, coded + at1, len1);
    unit[100] ^= 0x10;
    check_fails(ctx, coded, 1, unit, len1, NECO_ERR_CRC, "CRC mismatch in chunk 1");
    coded[at1 + 100] ^= 0x10;
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, coded, size, &dec), NECO_ERR_CRC);
    CU_ASSERT_PTR_NOT_NULL(strstr(neco_context_error(ctx), "CRC mismatch in chunk 1"));
    coded[at1 + 100] ^= 0x10;

    /* Cut short (the stream ends inside the chunk), or missing altogether. */
    check_fails(ctx, coded, 1, coded + at1, len1 - 1, NECO_ERR_TRUNCATED, "chunk 1 claims");
    check_fails(ctx, coded, 2, coded + at2, 2, NECO_ERR_TRUNCATED, "chunk 2 of 3 is missing");
    check_fails(ctx, coded, 2, NULL, 0, NECO_ERR_TRUNCATED, "chunk 2 of 3 is missing");

    /* A byte after the CRC: the caller split the stream wrongly. */
    memcpy(unit, coded + at1, len1);
    unit[len1] = 0;
    check_fails(ctx, coded, 1, unit, len1 + 1, NECO_ERR_BITSTREAM, "after chunk 1");

    /* A payload of the wrong size with a valid CRC: the model refuses it, naming the chunk. */
    memcpy(unit, coded + at1, len1);
    uint32_t short_len = (uint32_t)len1 - 8 - 2;
    store32(unit, short_len);
    store32(unit + 4 + short_len, crc32_update(0, unit, 4 + (size_t)short_len));
    check_fails(ctx, coded, 1, unit, (size_t)short_len + 8, NECO_ERR_BITSTREAM, "chunk 1");

    /* Chunk 1 handed over as chunk 2: its CRC matches, but its payload is not chunk 2's
     * (raw: the last chunk is shorter), so the model refuses it. */
    check_fails(ctx, coded, 2, coded + at1, len1, NECO_ERR_BITSTREAM, "chunk 2");

    /* Arguments: no such chunk, an image stream, NULL pointers. */
    neco_audio out;
    CU_ASSERT_EQUAL(neco_decode_audio_chunk(ctx, coded, size, 3, coded + at1, len1, &out),
                    NECO_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(neco_decode_audio_chunk(ctx, coded, size, 0, NULL, 5, &out),
                    NECO_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(neco_decode_audio_chunk(ctx, NULL, 0, 0, coded + 64, 8, &out),
                    NECO_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(neco_decode_audio_chunk(ctx, coded, 63, 0, coded + 64, 8, &out),
                    NECO_ERR_TRUNCATED);
    uint8_t pixel[3] = {1, 2, 3};
    neco_image img = {1, 1, 3, 8, pixel};
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "raw";
    uint8_t *image;
    size_t image_size;
    CU_ASSERT_FATAL(neco_encode_image(ctx, &img, &p, &image, &image_size) == NECO_OK);
    CU_ASSERT_EQUAL(neco_decode_audio_chunk(ctx, image, image_size, 0, image + 64,
                                            image_size - 64, &out),
                    NECO_ERR_INVALID_ARGUMENT);
    neco_free(image);
    free(unit);
    neco_free(coded);
    neco_context_destroy(ctx);
}

/* A stream that names other weights than the decoder's is refused before any chunk is read, as
 * neco_decode refuses it. */
static void test_foreign_weights(void)
{
    neco_context *ctx = context();
    neco_audio a = {44100, 1, 4096, NECO_SAMPLE_S16, NULL};
    synth(&a);
    neco_encode_params p;
    neco_encode_params_default(&p);
    p.model = "aud-wave";
    uint8_t *coded;
    size_t size;
    CU_ASSERT_FATAL(neco_encode_audio(ctx, &a, &p, &coded, &size) == NECO_OK);
    coded[24] ^= 1; /* the weights hash (BITSTREAM.md 1.2), then the header CRC again */
    store32(coded + 60, crc32_update(0, coded, 60));
    neco_decoded dec;
    CU_ASSERT_EQUAL(neco_decode(ctx, coded, size, &dec), NECO_ERR_MODEL);
    check_fails(ctx, coded, 0, coded + 64, size - 64, NECO_ERR_MODEL, "weights");
    /* And a model this decoder does not have. */
    memcpy(coded + 8, "no-such-model", 13);
    store32(coded + 60, crc32_update(0, coded, 60));
    check_fails(ctx, coded, 0, coded + 64, size - 64, NECO_ERR_MODEL, "no-such-model");
    neco_free(coded);
    neco_context_destroy(ctx);
    free(a.data);
}

void neco_test_register(void)
{
    NECO_SUITE("stream", {"raw: chunk by chunk = whole", test_raw_chunks},
               {"aud-wave: chunk by chunk = whole", test_aud_wave_chunks},
               {"damaged, cut and misplaced chunks", test_damaged_chunks},
               {"foreign weights and models", test_foreign_weights});
}
