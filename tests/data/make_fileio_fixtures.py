#!/usr/bin/env python3
"""Writes the PNG and audio fixtures of tests/test_fileio.c into tests/data/png and
tests/data/audio.

The PNGs are built byte by byte here (zlib + CRC-32, PNG spec ISO/IEC 15948) rather than with
libpng, so that the reader is checked against an independent writer: bit depths 1/2/4, palettes
with a partial tRNS, tRNS on gray and RGB, Adam7 interlacing, an APNG, and damaged files. The
WAVs are written by hand too (RIFF/WAVE, WAVE_FORMAT_EXTENSIBLE); the FLACs with the `flac`
tool and the Ogg Vorbis clip with `sox`, both from Debian.

Every sample value follows a formula that tests/test_fileio.c repeats (png_sample, pcm_*), so
the test checks exact values rather than only round trips.

Run from anywhere: python3 tests/data/make_fileio_fixtures.py
"""
import os
import struct
import subprocess
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
PNG_DIR = os.path.join(HERE, "png")
AUDIO_DIR = os.path.join(HERE, "audio")


# ---- PNG --------------------------------------------------------------------------------------

def png_sample(x, y, c, depth):
    """The stored sample at (x, y), channel c, for a bit depth; repeated in test_fileio.c."""
    if depth == 16:
        return (x * 7919 + y * 104729 + c * 1299709 + x * y * 31) % 65536
    return (x * 37 + y * 101 + c * 53 + x * y * 7) % (1 << depth)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG 11.2.2 colour types

# Adam7 passes (PNG 8.2): x0, y0, dx, dy.
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def pack_row(samples, depth):
    """Packs one row of samples (filter type 0 prepended)."""
    if depth == 16:
        return b"\0" + b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return b"\0" + bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return b"\0" + bytes(out)


def png_bytes(width, height, depth, color, pixels, palette=None, trns=None, interlace=False,
              before_idat=(), after_idat=()):
    """pixels(x, y) -> tuple of samples."""
    ch = CHANNELS[color]
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, width, dx))
        if not xs:
            continue
        for y in range(y0, height, dy):
            samples = []
            for x in xs:
                px = pixels(x, y)
                assert len(px) == ch
                samples.extend(px)
            raw += pack_row(samples, depth)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0,
                                      1 if interlace else 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    for kind, data in before_idat:
        out += chunk(kind, data)
    z = zlib.compress(bytes(raw), 9)
    # Two IDATs when possible: a reader must concatenate them (PNG 12.11).
    half = len(z) // 2
    out += chunk(b"IDAT", z[:half]) + chunk(b"IDAT", z[half:])
    for kind, data in after_idat:
        out += chunk(kind, data)
    out += chunk(b"IEND", b"")
    return out


def plain(width, height, depth, color, interlace=False):
    ch = CHANNELS[color]
    return png_bytes(width, height, depth, color,
                     lambda x, y: tuple(png_sample(x, y, c, depth) for c in range(ch)),
                     interlace=interlace)


def palette_entry(i):
    """Palette colour i; repeated in test_fileio.c."""
    return ((i * 50 + 7) % 256, (i * 90 + 3) % 256, (i * 130 + 1) % 256)


def palette_alpha(i):
    return (i * 60) % 256  # entry 0 fully transparent, others partial


def write(name, data):
    with open(os.path.join(PNG_DIR, name), "wb") as f:
        f.write(data)


def make_pngs():
    os.makedirs(PNG_DIR, exist_ok=True)
    # Gray at every bit depth, odd widths so that packed rows end mid-byte.
    for depth in (1, 2, 4, 8, 16):
        write(f"gray{depth}.png", plain(13, 7, depth, 0))
    write("ga8.png", plain(5, 3, 8, 4))
    write("ga16.png", plain(5, 3, 16, 4))
    write("rgb8.png", plain(9, 6, 8, 2))
    write("rgb16.png", plain(9, 6, 16, 2))
    write("rgba8.png", plain(7, 5, 8, 6))
    write("rgba16.png", plain(7, 5, 16, 6))
    # Palettes: 8-bit index with a partial tRNS (5 of 16 entries; the rest opaque) -> RGBA,
    # 2-bit index without tRNS -> RGB.
    pal16 = [palette_entry(i) for i in range(16)]
    write("pal8_trns.png",
          png_bytes(11, 4, 8, 3, lambda x, y: (png_sample(x, y, 0, 8) % 16,), palette=pal16,
                    trns=bytes(palette_alpha(i) for i in range(5))))
    pal4 = [palette_entry(i) for i in range(4)]
    write("pal2.png", png_bytes(10, 3, 2, 3, lambda x, y: (png_sample(x, y, 0, 2),),
                                palette=pal4))
    # tRNS on gray (8-bit key 101 = sample at (0, 1)) and on 16-bit RGB (key = pixel (1, 1)).
    write("gray8_trns.png", png_bytes(13, 7, 8, 0, lambda x, y: (png_sample(x, y, 0, 8),),
                                      trns=struct.pack(">H", png_sample(0, 1, 0, 8))))
    key = tuple(png_sample(1, 1, c, 16) for c in range(3))
    write("rgb16_trns.png",
          png_bytes(9, 6, 16, 2, lambda x, y: tuple(png_sample(x, y, c, 16) for c in range(3)),
                    trns=struct.pack(">HHH", *key)))
    # Adam7: sizes smaller than 8 leave some passes empty.
    write("rgb8_adam7.png", plain(11, 9, 8, 2, interlace=True))
    write("gray1_adam7.png", plain(13, 7, 1, 0, interlace=True))
    write("rgba16_adam7.png", plain(5, 3, 16, 6, interlace=True))
    write("gray8_adam7_1x1.png", plain(1, 1, 8, 0, interlace=True))
    # APNG: acTL (2 frames, loop forever) before IDAT, as the APNG spec requires. The same chunk
    # after IDAT is ignored by APNG decoders, so that file is a plain PNG.
    actl = struct.pack(">II", 2, 0)
    write("apng.png", png_bytes(4, 4, 8, 2, lambda x, y: tuple(png_sample(x, y, c, 8)
                                                             for c in range(3)),
                                before_idat=[(b"acTL", actl)]))
    write("actl_after_idat.png", png_bytes(4, 4, 8, 2, lambda x, y: tuple(png_sample(x, y, c, 8)
                                                                        for c in range(3)),
                                           after_idat=[(b"acTL", actl)]))
    # Damaged files.
    good = plain(9, 6, 8, 2)
    write("truncated.png", good[: len(good) * 2 // 3])
    idat = good.index(b"IDAT")
    bad_crc = bytearray(good)
    bad_crc[idat + 4 + 2] ^= 0x01  # a data byte of the first IDAT, CRC left as it was
    write("bad_crc.png", bytes(bad_crc))
    # Valid chunk CRCs around a zlib stream that is not one.
    width, height = 9, 6
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0,
                                                          0, 0))
    out += chunk(b"IDAT", b"\x78\x9c" + bytes(range(40))) + chunk(b"IEND", b"")
    write("bad_zlib.png", out)
    # An IHDR that claims 70000 x 70000 (over the 65535 limit) with a valid CRC.
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 70000, 70000, 8, 2, 0,
                                                          0, 0))
    out += chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    write("huge.png", out)
    write("not_png.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")


# ---- Audio ------------------------------------------------------------------------------------

def pcm_s16(f, c):
    if f == 0 and c == 0:
        return -32768
    if f == 1 and c == 0:
        return 32767
    return (f * 7919 + c * 104729 + f * c * 31) % 65536 - 32768


def pcm_s24(f, c):
    if f == 0 and c == 0:
        return -8388608
    if f == 1 and c == 0:
        return 8388607
    return (f * 7919 * 13 + c * 104729 + f * c * 31) % 16777216 - 8388608


def pcm_s32(f, c):
    if f == 0 and c == 0:
        return -2147483648
    if f == 1 and c == 0:
        return 2147483647
    u = (f * 2654435761 + c * 40503 + 12345) & 0xFFFFFFFF
    return u - (1 << 32) if u >= 1 << 31 else u


def pcm_f32(f, c):
    return ((f * 37 + c * 11) % 2001 - 1000) / 1024.0


def pcm_u8(f, c):
    return (f * 37 + c * 11) % 256


def wav_bytes(rate, channels, frames, bits, fmt_tag, sample, pack, extensible=False):
    data = b"".join(pack(sample(f, c)) for f in range(frames) for c in range(channels))
    block = channels * bits // 8
    if extensible:
        # WAVE_FORMAT_EXTENSIBLE: cbSize 22, valid bits, channel mask, sub-format GUID.
        mask = {6: 0x3F}.get(channels, 0)
        guid = struct.pack("<H", fmt_tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22,
                          bits, mask) + guid
    else:
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if fmt_tag == 3:
        body += b"fact" + struct.pack("<II", 4, frames)
    body += b"data" + struct.pack("<I", len(data)) + data
    if len(data) % 2:
        body += b"\0"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_audio(name, data):
    with open(os.path.join(AUDIO_DIR, name), "wb") as f:
        f.write(data)


def make_audio():
    os.makedirs(AUDIO_DIR, exist_ok=True)
    s16 = lambda v: struct.pack("<h", v)
    s24 = lambda v: struct.pack("<i", v)[:3]
    s32 = lambda v: struct.pack("<i", v)
    f32 = lambda v: struct.pack("<f", v)
    u8 = lambda v: struct.pack("<B", v)
    write_audio("s16_stereo.wav", wav_bytes(44100, 2, 300, 16, 1, pcm_s16, s16))
    write_audio("s16_mono.wav", wav_bytes(8000, 1, 123, 16, 1, pcm_s16, s16))
    write_audio("s24_mono.wav", wav_bytes(48000, 1, 257, 24, 1, pcm_s24, s24))
    write_audio("s24_stereo.wav", wav_bytes(96000, 2, 100, 24, 1, pcm_s24, s24))
    write_audio("s32_stereo.wav", wav_bytes(44100, 2, 150, 32, 1, pcm_s32, s32))
    write_audio("f32_stereo.wav", wav_bytes(22050, 2, 200, 32, 3, pcm_f32, f32))
    write_audio("u8_mono.wav", wav_bytes(11025, 1, 99, 8, 1, pcm_u8, u8))
    write_audio("s16_6ch.wav", wav_bytes(48000, 6, 100, 16, 1, pcm_s16, s16, extensible=True))
    write_audio("empty.wav", wav_bytes(16000, 1, 0, 16, 1, pcm_s16, s16))
    # A RIFF/WAVE whose fmt chunk names a codec libsndfile does not know (tag 0x1234).
    write_audio("unknown_codec.wav", wav_bytes(8000, 1, 10, 16, 0x1234, pcm_s16, s16))
    write_audio("not_audio.wav", b"This is plain text, not audio.\n")
    # FLAC from the WAVs (flac keeps the samples bit-exact).
    for src in ("s16_stereo", "s24_mono", "s16_6ch"):
        subprocess.run(["flac", "--silent", "--force", "-8", "--no-padding", "-o",
                        os.path.join(AUDIO_DIR, src + ".flac"),
                        os.path.join(AUDIO_DIR, src + ".wav")], check=True)
    with open(os.path.join(AUDIO_DIR, "s16_stereo.flac"), "rb") as f:
        flac = f.read()
    write_audio("truncated.flac", flac[: len(flac) * 2 // 3])
    # Ogg Vorbis: 0.25 s of a 440 Hz sine at half scale, 44.1 kHz stereo.
    subprocess.run(["sox", "-D", "-n", "-r", "44100", "-c", "2", "-C", "0",
                    os.path.join(AUDIO_DIR, "sine440.ogg"), "synth", "0.25", "sine", "440",
                    "vol", "0.5"], check=True)


if __name__ == "__main__":
    make_pngs()
    make_audio()
