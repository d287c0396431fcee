"""A Python decoder of neco streams, written from conformance/BITSTREAM.md alone: the
container (section 1), the rANS stream with escapes (2.1, 2.4) and the img-wave tile payload
(3.1).  It is the independent second implementation that tests/test_img_wave.c is checked
against (through train/make_codec_fixture.py): the symbols it decodes must equal the C
decoder's, bit for bit.  Slow (pure Python), meant for small fixtures."""
import bisect
import struct
import zlib

L = 1 << 31
LANES = 2
MASK64 = (1 << 64) - 1


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
        else:
            raise ValueError("only images are supported here")
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

    def tile_rect(self, i):
        cols = -(-self.width // self.tile_width)
        x, y = (i % cols) * self.tile_width, (i // cols) * self.tile_height
        return x, y, min(self.tile_width, self.width - x), min(self.tile_height, self.height - y)


class Table:
    """One CDF table (2.2): cdf C[0..n], offset, with or without escape."""

    def __init__(self, cdf, offset, escape, precision):
        self.cdf = [int(v) for v in cdf]
        self.offset, self.escape, self.precision = int(offset), escape, precision
        self.n = len(cdf) - 1


class Decoder:
    def __init__(self, data):
        if len(data) < 8 * LANES:
            raise ValueError("truncated stream")
        self.data, self.pos = data, 8 * LANES
        self.state = [struct.unpack_from("<Q", data, 8 * k)[0] for k in range(LANES)]
        for x in self.state:
            if not (L <= x < (1 << 63)):
                raise ValueError("corrupt stream")
        self.op = 0

    def _operation(self, precision, find):
        k = self.op % LANES
        x = self.state[k]
        slot = x & ((1 << precision) - 1)
        start, freq, result = find(slot)
        x = freq * (x >> precision) + slot - start
        if x < L:
            if len(self.data) - self.pos < 4:
                raise ValueError("truncated stream")
            x = ((x << 32) | struct.unpack_from("<I", self.data, self.pos)[0]) & MASK64
            self.pos += 4
        self.state[k] = x
        self.op += 1
        return result

    def raw(self, bits):
        return self._operation(bits, lambda slot: (slot, 1, slot))

    def symbol(self, t):
        def find(slot):
            s = bisect.bisect_right(t.cdf, slot) - 1
            return t.cdf[s], t.cdf[s + 1] - t.cdf[s], s
        s = self._operation(t.precision, find)
        if t.escape and s == t.n - 1:
            ln = self.raw(6)
            if ln > 34:
                raise ValueError("corrupt escape")
            m, shift, left = 1 << ln, 0, ln
            while left > 0:
                b = min(16, left)
                m |= self.raw(b) << shift
                shift += b
                left -= b
            e = m - 1
            u = -(e + 1) // 2 if e % 2 else e // 2 + (t.n - 1)
            return t.offset + u
        return t.offset + s

    def finish(self):
        if self.pos != len(self.data) or any(x != L for x in self.state):
            raise ValueError("stream not complete")
