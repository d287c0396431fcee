/* The container: a 64-byte file header, then length-prefixed tiles (images) or chunks (audio),
 * each with a CRC-32. BITSTREAM.md section 1 is the normative description. */
#ifndef NECO_CODEC_CONTAINER_H
#define NECO_CODEC_CONTAINER_H
#include "buffer.h"
#include "context.h"

#define CONTAINER_MAGIC "NECO"
#define CONTAINER_VERSION 1
#define CONTAINER_HEADER_SIZE 64
#define CONTAINER_UNIT_OVERHEAD 8 /* u32 length + u32 CRC */
#define CONTAINER_MAX_DIMENSION 65535u
#define CONTAINER_MAX_TILE_DIMENSION 65536u
#define CONTAINER_MAX_UNITS (UINT32_C(1) << 24)
#define CONTAINER_MAX_CHANNELS 255u
#define CONTAINER_MAX_SAMPLE_RATE 768000u
#define CONTAINER_MAX_CHUNK_FRAMES (UINT32_C(1) << 24)

/* Checks the fields of info that a header carries (ranges, consistency) and computes
 * info->units and info->header_size. Used by the writer and, after parsing, the reader. */
neco_status container_check_info(neco_context *ctx, neco_info *info);

/* Appends the header for info (checked by container_check_info) to out. */
void container_write_header(bytebuf *out, const neco_info *info);

/* Parses and checks the header at the start of data[0..size): magic, version, CRC, every field,
 * and the limits of ctx (max_pixels, max_frames). data may hold the header alone (a stream read
 * piece by piece). Allocates nothing. */
neco_status container_parse_header(neco_context *ctx, const uint8_t *data, size_t size,
                                   neco_info *info);

/* container_parse_header for a whole file at data[0..size): also checks that the file is long
 * enough for the units the header announces (their lengths and CRCs at least). */
neco_status container_read_header(neco_context *ctx, const uint8_t *data, size_t size,
                                  neco_info *info);

/* Appends a unit (tile or chunk): length, payload, CRC. */
void container_write_unit(bytebuf *out, const uint8_t *payload, size_t size);

/* Walks units in order. *pos starts at info->header_size; on success *payload and *size describe
 * unit number index and *pos moves past it. Fails (naming the unit) when it runs past the end
 * of the data (NECO_ERR_TRUNCATED, *pos unchanged) or its CRC does not match (NECO_ERR_CRC,
 * *payload, *size and *pos set as on success, so that a concealing decoder can go on). */
neco_status container_next_unit(neco_context *ctx, const neco_info *info, const uint8_t *data,
                                size_t data_size, size_t *pos, uint32_t index,
                                const uint8_t **payload, size_t *size);

/* Checks every unit (bounds and CRC) and that nothing follows the last one, before a decoder
 * allocates its output. */
neco_status container_check_units(neco_context *ctx, const neco_info *info, const uint8_t *data,
                                  size_t size);

/* "tile" or "chunk". */
const char *container_unit_name(const neco_info *info);

#endif
