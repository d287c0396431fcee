"""The neco container (conformance/BITSTREAM.md section 1) in Python, written from the
specification alone: with neco_cdf.RansDecoder (sections 2.1, 2.4) it is the independent second
decoder that train/make_codec_fixture.py uses to check the C decoder symbol for symbol."""
import struct
import zlib


class Container:
    def __init__(self, data):
        if data[:4] != b"NECO" or len(data) < 64:
            raise ValueError("not a neco file")
        if zlib.crc32(data[:60]) != struct.unpack_from("<I", data, 60)[0]:
            raise ValueError("header CRC")
        self.version, self.media, self.quality, self.flags = data[4], data[5], data[6], data[7]
        self.model = data[8:24].rstrip(b"\0").decode()
        self.weights_hash = data[24:40]
        m = 40
        if self.media == 1:
            self.width, self.height = struct.unpack_from("<II", data, m)
            self.channels, self.bit_depth = data[m + 8], data[m + 9]
            self.tile_width, self.tile_height = struct.unpack_from("<II", data, m + 12)
            cols = -(-self.width // self.tile_width)
            rows = -(-self.height // self.tile_height)
            n = cols * rows
        elif self.media == 2:
            self.sample_rate, self.channels = struct.unpack_from("<IH", data, m)
            self.sample_format = data[m + 6]
            self.frames, self.chunk_frames = struct.unpack_from("<QI", data, m + 8)
            n = -(-self.frames // self.chunk_frames)
        else:
            raise ValueError("unknown media %d" % self.media)
        self.units = []
        pos = 64
        for _ in range(n):
            (ln,) = struct.unpack_from("<I", data, pos)
            payload = data[pos + 4: pos + 4 + ln]
            if len(payload) != ln or zlib.crc32(data[pos: pos + 4 + ln]) != struct.unpack_from("<I", data, pos + 4 + ln)[0]:
                raise ValueError("unit CRC or length")
            self.units.append(payload)
            pos += 8 + ln
        if pos != len(data):
            raise ValueError("trailing data")

    def chunk_span(self, i):
        first = i * self.chunk_frames
        return first, min(self.chunk_frames, self.frames - first)

    def tile_rect(self, i):
        cols = -(-self.width // self.tile_width)
        x, y = (i % cols) * self.tile_width, (i // cols) * self.tile_height
        return x, y, min(self.tile_width, self.width - x), min(self.tile_height, self.height - y)
