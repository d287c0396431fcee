/*
 * File kind from the first bytes (see filekind.h). The signatures are those of each format's
 * specification: PNG (ISO/IEC 15948, 5.2), RIFF/WAVE and RF64 (EBU Tech 3306), BW64
 * (ITU-R BS.2088), Sony Wave64, FLAC (RFC 9639, 8.1), Ogg (RFC 3533), AIFF/AIFF-C (Apple),
 * CAF (Apple), Sun/NeXT .au, IFF 8SVX, Creative VOC, NIST SPHERE, MPEG audio (ID3v2 or a frame
 * sync, ISO/IEC 11172-3 2.4.2.3).
 */
#define _POSIX_C_SOURCE 200809L
#include "filekind.h"

#include <stdio.h>
#include <string.h>

#define FILEKIND_HEAD 32

static int filekind_has(const unsigned char *head, size_t n, size_t offset, const char *magic,
                        size_t length)
{
    return n >= offset + length && memcmp(head + offset, magic, length) == 0;
}

/* An MPEG-1/2/2.5 audio frame header: 11 sync bits, a version that is not "reserved", a layer
 * that is not "reserved", a bitrate index that is not "bad" and a sample rate that is not
 * "reserved". Checking the reserved values keeps random data from matching. */
static int filekind_is_mpeg_frame(const unsigned char *h, size_t n)
{
    if (n < 4 || h[0] != 0xff || (h[1] & 0xe0) != 0xe0)
        return 0;
    int version = (h[1] >> 3) & 3, layer = (h[1] >> 1) & 3;
    int bitrate = h[2] >> 4, rate = (h[2] >> 2) & 3;
    return version != 1 && layer != 0 && bitrate != 15 && rate != 3;
}

static file_kind filekind_classify(const unsigned char *h, size_t n)
{
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char w64[16] = {'r',  'i',  'f',  'f',  0x2e, 0x91, 0xcf, 0x11,
                                          0xa5, 0xd6, 0x28, 0xdb, 0x04, 0xc1, 0x00, 0x00};
    if (filekind_has(h, n, 0, "NECO", 4))
        return FILE_KIND_NECO;
    if (n >= 8 && memcmp(h, png, 8) == 0)
        return FILE_KIND_PNG;
    if ((filekind_has(h, n, 0, "RIFF", 4) || filekind_has(h, n, 0, "RIFX", 4) ||
         filekind_has(h, n, 0, "RF64", 4) || filekind_has(h, n, 0, "BW64", 4)) &&
        filekind_has(h, n, 8, "WAVE", 4))
        return FILE_KIND_AUDIO;
    if (n >= 16 && memcmp(h, w64, 16) == 0)
        return FILE_KIND_AUDIO;
    if (filekind_has(h, n, 0, "FORM", 4) &&
        (filekind_has(h, n, 8, "AIFF", 4) || filekind_has(h, n, 8, "AIFC", 4) ||
         filekind_has(h, n, 8, "8SVX", 4)))
        return FILE_KIND_AUDIO;
    if (filekind_has(h, n, 0, "fLaC", 4) || filekind_has(h, n, 0, "OggS", 4) ||
        filekind_has(h, n, 0, "caff", 4) || filekind_has(h, n, 0, ".snd", 4) ||
        filekind_has(h, n, 0, "dns.", 4) || filekind_has(h, n, 0, "NIST_1A\n", 8) ||
        filekind_has(h, n, 0, "Creative Voice File\x1a", 20))
        return FILE_KIND_AUDIO;
    if (filekind_has(h, n, 0, "ID3", 3) || filekind_is_mpeg_frame(h, n))
        return FILE_KIND_AUDIO;
    return FILE_KIND_UNKNOWN;
}

file_kind filekind_detect(const char *path)
{
    if (path == NULL)
        return FILE_KIND_UNKNOWN;
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return FILE_KIND_UNKNOWN;
    unsigned char head[FILEKIND_HEAD];
    size_t n = fread(head, 1, sizeof head, file);
    fclose(file);
    return filekind_classify(head, n);
}
