/* CRC-32 (IEEE 802.3, the one of zlib and PNG): reflected polynomial 0xEDB88320,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. BITSTREAM.md section 1.4. */
#ifndef NECO_CODEC_CRC32_H
#define NECO_CODEC_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: crc32_update(0, data, n) is the CRC of data; feeding pieces gives the same. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t size);

#endif
