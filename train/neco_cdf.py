"""Python twin of neco's integer CDF construction and Gaussian-conditional tables.

This file mirrors entropy/cdf.c and entropy/gaussian.c bit for bit; conformance/BITSTREAM.md
section 2 is the normative text both follow. The model exporter uses it to turn learned pmfs
into the integer CDF tables stored in weights/, and the C test suite checks against fixtures it
writes (tests/data/entropy/), so any divergence between the twins fails a test.

Only integer arithmetic decides a table. The two constant tables (the erf table and the default
scale table) are computed here with the `decimal` module at 80 significant digits and rounded to
integers, so no platform libm is involved anywhere; their C copies are committed in
entropy/gaussian_tables.c (written by `python3 train/neco_cdf.py c-tables`).

Usage:
  python3 train/neco_cdf.py c-tables  > entropy/gaussian_tables.c
  python3 train/neco_cdf.py fixtures  tests/data/entropy
  python3 train/neco_cdf.py check     tests/data/entropy entropy/gaussian_tables.c  (ctest)
"""

import bisect
import decimal
import os
import sys

# Normative constants (BITSTREAM.md 2.3).
ERF_STEPS_PER_UNIT = 256          # the erf table samples t = j / 256 (t in units of sigma)
ERF_TABLE_LAST = 8 * ERF_STEPS_PER_UNIT  # j = 0..2048, t in [0, 8]
ERF_ONE = 1 << 32                 # erf values are in Q32
SCALE_ONE = 1 << 16               # scales are in Q16
TAIL_SIGMAS = 7                   # a table covers |v| <= ceil(7 * scale)
DEFAULT_NUM_SCALES = 64
DEFAULT_SCALE_MIN = "0.11"
DEFAULT_SCALE_MAX = "256"
PRECISION_MIN = 4
PRECISION_MAX = 24
WEIGHT_TOTAL_MAX = 1 << 40
MAX_SYMBOLS = 65536


def _ctx():
    return decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)


def _pi(ctx):
    # Machin's formula: pi = 16 atan(1/5) - 4 atan(1/239).
    def atan_inv(n):
        x = ctx.divide(1, n)
        x2 = ctx.multiply(x, x)
        term, total, k = x, x, 1
        while True:
            term = ctx.multiply(term, -x2)
            delta = ctx.divide(term, 2 * k + 1)
            if ctx.add(total, delta) == total:
                return total
            total = ctx.add(total, delta)
            k += 1

    return ctx.subtract(ctx.multiply(16, atan_inv(5)), ctx.multiply(4, atan_inv(239)))


def _erf(x, ctx, two_over_sqrt_pi):
    # Maclaurin series erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); at 80 digits the
    # cancellation for x <= 8/sqrt(2) (terms up to ~1e13) leaves more than 60 correct digits.
    x2 = ctx.multiply(x, x)
    term = x  # (-1)^n x^(2n+1) / n!
    total = x
    n = 0
    while True:
        n += 1
        term = ctx.divide(ctx.multiply(term, -x2), n)
        delta = ctx.divide(term, 2 * n + 1)
        if abs(delta) < decimal.Decimal("1e-70"):
            break
        total = ctx.add(total, delta)
    return ctx.multiply(total, two_over_sqrt_pi)


def erf_table():
    """G[j] = round(2^32 * erf(j / (256 * sqrt(2)))), j = 0..2048 (BITSTREAM.md 2.3)."""
    ctx = _ctx()
    two_over_sqrt_pi = ctx.divide(2, ctx.sqrt(_pi(ctx)))
    sqrt2 = ctx.sqrt(decimal.Decimal(2))
    out = []
    for j in range(ERF_TABLE_LAST + 1):
        x = ctx.divide(decimal.Decimal(j), ctx.multiply(ERF_STEPS_PER_UNIT, sqrt2))
        v = ctx.multiply(_erf(x, ctx, two_over_sqrt_pi), ERF_ONE)
        out.append(int(v.to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
    return out


def default_scales_q16(num=DEFAULT_NUM_SCALES, smin=DEFAULT_SCALE_MIN, smax=DEFAULT_SCALE_MAX):
    """S_i = round(2^16 * exp(ln(smin) + i * (ln(smax) - ln(smin)) / (num - 1)))."""
    ctx = _ctx()
    lo = ctx.ln(decimal.Decimal(smin))
    hi = ctx.ln(decimal.Decimal(smax))
    out = []
    for i in range(num):
        e = ctx.add(lo, ctx.divide(ctx.multiply(i, ctx.subtract(hi, lo)), num - 1))
        v = ctx.multiply(ctx.exp(e), SCALE_ONE)
        out.append(int(v.to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))
    return out


def cdf_from_weights(weights, precision):
    """Integer CDF construction (BITSTREAM.md 2.2): C_i = i + floor(S_i * (2^P - n) / W).

    Every symbol gets at least one count, C_0 = 0 and C_n = 2^P exactly."""
    n = len(weights)
    total = sum(weights)
    if not (PRECISION_MIN <= precision <= PRECISION_MAX):
        raise ValueError("precision out of range")
    if n < 1 or n > MAX_SYMBOLS or n > (1 << precision):
        raise ValueError("bad number of symbols")
    if any(w < 0 for w in weights) or total < 1 or total > WEIGHT_TOTAL_MAX:
        raise ValueError("bad weights")
    spare = (1 << precision) - n
    cdf = []
    acc = 0
    for i in range(n + 1):
        cdf.append(i + (acc * spare) // total)
        if i < n:
            acc += weights[i]
    return cdf


def gaussian_weights(scale_q16, erf_q32):
    """Integer weights of a zero-mean Gaussian table (BITSTREAM.md 2.3).

    Returns (weights, offset): weights for the values -R..R then the escape symbol, in units of
    2^-33 (they sum to 2^33 exactly); offset = -R."""
    if scale_q16 < 1 or scale_q16 > 1024 * SCALE_ONE:
        raise ValueError("scale out of range")
    r = (TAIL_SIGMAS * scale_q16 + SCALE_ONE - 1) >> 16

    def h(k):
        # erf((k + 1/2) / s / sqrt 2) in Q32, by linear interpolation of the erf table at
        # pos = floor(256 * 65536 * (k + 1/2) / s) = floor((2k+1) * 2^39 / S).
        pos = ((2 * k + 1) << 39) // scale_q16
        j, f = pos >> 16, pos & 0xFFFF
        if j >= ERF_TABLE_LAST:
            return erf_q32[ERF_TABLE_LAST]
        return erf_q32[j] + (((erf_q32[j + 1] - erf_q32[j]) * f) >> 16)

    hs = [h(k) for k in range(r + 1)]
    side = [hs[k] - hs[k - 1] for k in range(1, r + 1)]
    weights = side[::-1] + [2 * hs[0]] + side + [2 * (erf_q32[ERF_TABLE_LAST] - hs[r])]
    return weights, -r


def gaussian_tables(precision, scales_q16, erf_q32):
    """[(offset, cdf)] for each scale: the table set the C decoder builds."""
    out = []
    for s in scales_q16:
        w, off = gaussian_weights(s, erf_q32)
        out.append((off, cdf_from_weights(w, precision)))
    return out


def vq_tables(counts, precision):
    """CDFs of the VQ index tables (BITSTREAM.md 2.5), one per row of integer counts; a row that
    sums to 0 gives the uniform table. Twin of entropy/vq.c neco_vq_tables_create()."""
    out = []
    for row in counts:
        w = [int(c) for c in row]
        if sum(w) == 0:
            w = [1] * len(w)
        out.append(cdf_from_weights(w, precision))
    return out


# ---------------------------------------------------------------------------------------
# A second, independent implementation of the stream (BITSTREAM.md 2.1 and 2.4), written from
# the text of the spec: slow, but it proves the text is enough to code neco streams bit for bit.
# `check` re-encodes and decodes the C golden stream with it.

RANS_L = 1 << 31
RANS_LANES = 2


class RansEncoder:
    """Collects operations in decoding order; flush() codes them backwards."""

    def __init__(self):
        self.ops = []  # (start, freq, precision)

    def raw(self, value, nbits):
        while nbits > 0:
            b = min(nbits, 16)
            self.ops.append((value & ((1 << b) - 1), 1, b))
            value >>= b
            nbits -= b

    def symbol(self, value, cdf, offset, has_escape):
        n = len(cdf) - 1
        precision = cdf[-1].bit_length() - 1
        regular = n - 1 if has_escape else n
        u = value - offset
        if 0 <= u < regular:
            self.ops.append((cdf[u], cdf[u + 1] - cdf[u], precision))
            return
        if not has_escape:
            raise ValueError("value outside a table without escape")
        self.ops.append((cdf[regular], cdf[regular + 1] - cdf[regular], precision))
        e = 2 * (-u) - 1 if u < 0 else 2 * (u - regular)
        m = e + 1
        length = m.bit_length() - 1
        self.raw(length, 6)
        self.raw(m & ((1 << length) - 1), length)

    def flush(self):
        x = [RANS_L] * RANS_LANES
        words = []
        for j in range(len(self.ops) - 1, -1, -1):
            start, freq, precision = self.ops[j]
            v = x[j % RANS_LANES]
            if v >= ((RANS_L >> precision) << 32) * freq:
                words.append(v & 0xFFFFFFFF)
                v >>= 32
            x[j % RANS_LANES] = (v // freq << precision) + v % freq + start
        out = b"".join(v.to_bytes(8, "little") for v in x)
        out += b"".join(w.to_bytes(4, "little") for w in reversed(words))
        self.ops = []
        return out


class RansDecoder:
    """Raises ValueError on a truncated or corrupt stream."""

    def __init__(self, data):
        if len(data) < 8 * RANS_LANES:
            raise ValueError("truncated")
        self.x = [int.from_bytes(data[8 * k:8 * k + 8], "little") for k in range(RANS_LANES)]
        if any(v < RANS_L or v >= 1 << 63 for v in self.x):
            raise ValueError("corrupt")
        self.data, self.pos = data, 8 * RANS_LANES

    def _op(self, precision, find):
        v = self.x[0]
        slot = v & ((1 << precision) - 1)
        sym, start, freq = find(slot)
        v = freq * (v >> precision) + slot - start
        if v < RANS_L:
            if len(self.data) - self.pos < 4:
                raise ValueError("truncated")
            v = v << 32 | int.from_bytes(self.data[self.pos:self.pos + 4], "little")
            self.pos += 4
        self.x = self.x[1:] + [v]
        return sym

    def raw(self, nbits):
        value, shift = 0, 0
        while shift < nbits:
            b = min(nbits - shift, 16)
            value |= self._op(b, lambda slot: (slot, slot, 1)) << shift
            shift += b
        return value

    def symbol(self, cdf, offset, has_escape):
        n = len(cdf) - 1
        precision = cdf[-1].bit_length() - 1

        def find(slot):
            s = bisect.bisect_right(cdf, slot) - 1
            return s, cdf[s], cdf[s + 1] - cdf[s]

        s = self._op(precision, find)
        if not has_escape or s < n - 1:
            return offset + s
        length = self.raw(6)
        if length > 34:
            raise ValueError("corrupt")
        e = ((1 << length) | self.raw(length)) - 1
        u = -((e + 1) // 2) if e & 1 else (n - 1) + e // 2
        if not -(1 << 31) <= offset + u < 1 << 31:
            raise ValueError("corrupt")
        return offset + u

    def finish(self):
        return self.pos == len(self.data) and all(v == RANS_L for v in self.x)


def _splitmix64(seed):
    # The generator of tests/test_entropy_tables.c.
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        yield z ^ (z >> 31)


def golden_case(precision=20):
    """The tables and symbols of tests/data/entropy/golden_mixed.bin, as golden_make() in
    tests/test_entropy_tables.c makes them: [(cdf, offset, has_escape, value) or
    ("bits", nbits, value)] in stream order."""
    fact = []
    for c in range(4):
        n = 9 + 4 * c + 1
        w = [(1 + (i if i < (n - 1) // 2 else n - 2 - i)) * (c + 1) * 1000 for i in range(n - 1)]
        fact.append((cdf_from_weights(w + [3], precision), -((n - 1) // 2)))
    erf = erf_table()
    scales = default_scales_q16()
    gauss = gaussian_tables(precision, scales, erf)
    vq = vq_tables([[(i * 37) % 11 for i in range(64)], [0] * 64], precision)
    rng = _splitmix64(20261127)
    items = []
    for i in range(256):
        cdf, off = fact[i % 4]
        items.append((cdf, off, True, next(rng) % 15 - 7 + (1000 if i % 97 == 0 else 0)))
    for i in range(1500):
        t = next(rng) % 64
        spread = (scales[t] * 2 >> 16) + 1
        v = next(rng) % (2 * spread + 1) - spread
        if i % 211 == 0:
            v = -(1 << 31) if i % 2 else (1 << 31) - 1 - i
        items.append((gauss[t][1], gauss[t][0], True, v))
    for i in range(400):
        items.append((vq[i % 2], 0, False, next(rng) % 64))
    for i in range(8):
        items.append(("bits", 32 - 4 * i, (next(rng) & 0xFFFFFFFF) >> (4 * i)))
    return items


def check_golden(path):
    """True when this module's own coder writes and reads the C golden stream identically."""
    items = golden_case()
    enc = RansEncoder()
    for it in items:
        if it[0] == "bits":
            enc.raw(it[2], it[1])
        else:
            enc.symbol(it[3], it[0], it[1], it[2])
    with open(path, "rb") as f:
        golden = f.read()
    if enc.flush() != golden:
        sys.stderr.write("the Python encoder does not write %s\n" % path)
        return False
    dec = RansDecoder(golden)
    for it in items:
        got = dec.raw(it[1]) if it[0] == "bits" else dec.symbol(it[0], it[1], it[2])
        if got != (it[2] if it[0] == "bits" else it[3]):
            sys.stderr.write("the Python decoder misreads %s\n" % path)
            return False
    if not dec.finish():
        sys.stderr.write("the Python decoder does not end %s cleanly\n" % path)
        return False
    return True


def fnv1a64(values, width=4):
    """FNV-1a 64 over the values as little-endian words of width bytes (BITSTREAM.md 2.3)."""
    h = 0xCBF29CE484222325
    for v in values:
        for b in v.to_bytes(width, "little"):
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _lcg(seed):
    # Numerical Recipes LCG, 64-bit; only makes fixture inputs, never decides a table.
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield state >> 33


def write_c_tables(out):
    erf = erf_table()
    scales = default_scales_q16()
    out.write("/* Generated by `python3 train/neco_cdf.py c-tables`; do not edit.\n"
              " * Normative constants of conformance/BITSTREAM.md section 2.3, computed with\n"
              " * 80-digit decimal arithmetic and rounded to the nearest integer. */\n")
    out.write('#include "entropy/gaussian.h"\n\n/* clang-format off */\n')
    out.write("const uint32_t neco_gc_default_scales_q16[NECO_GC_DEFAULT_NUM_SCALES] = {\n")
    for i in range(0, len(scales), 8):
        out.write("    " + ", ".join("%uu" % v for v in scales[i:i + 8]) + ",\n")
    out.write("};\n\n")
    out.write("/* gc_erf_q32[j] = round(2^32 * erf(j / (256 * sqrt(2)))), j = 0..2048; the last\n"
              " * entries reach 2^32, so the type is 64-bit. */\n")
    out.write("const uint64_t gc_erf_q32[GC_ERF_TABLE_SIZE] = {\n")
    for i in range(0, len(erf), 6):
        out.write("    " + ", ".join("%uu" % v for v in erf[i:i + 6]) + ",\n")
    out.write("};\n")


def write_fixtures(folder):
    """Writes the cross-check fixtures read by tests/test_entropy_tables.c."""
    os.makedirs(folder, exist_ok=True)
    erf = erf_table()
    scales = default_scales_q16()
    with open(os.path.join(folder, "gaussian_tables.txt"), "w") as f:
        f.write("# neco Gaussian-conditional tables, written by train/neco_cdf.py fixtures\n")
        f.write("# erf_hash <fnv1a64 of the erf table>\n")
        f.write("# scales_hash <fnv1a64 of the default scales>\n")
        f.write("# table <precision> <index> <scale_q16> <offset> <cdf_length> <fnv1a64 of cdf>\n")
        f.write("erf_hash %016x\n" % fnv1a64(erf, 8))
        f.write("scales_hash %016x\n" % fnv1a64(scales))
        for p in (16, 20, 24):
            for i, (off, cdf) in enumerate(gaussian_tables(p, scales, erf)):
                f.write("table %d %d %d %d %d %016x\n"
                        % (p, i, scales[i], off, len(cdf), fnv1a64(cdf)))
    with open(os.path.join(folder, "cdf_vectors.txt"), "w") as f:
        f.write("# integer CDF construction vectors, written by train/neco_cdf.py fixtures\n")
        f.write("# vector <precision> <n> then a line of n weights and a line of n+1 cdf values\n")
        rng = _lcg(20261127)
        cases = [(16, [1]), (16, [0, 0, 5]), (4, [1, 1, 1, 1]), (12, [0] * 9 + [1 << 36]),
                 (24, [1 << 39, (1 << 39) - 8, 0, 7])]
        for k in range(12):
            n = 2 + next(rng) % 300
            p = (12, 14, 15, 16, 20, 24)[k % 6]
            if n > (1 << p):
                n = 1 << p
            big = k % 3 == 0
            w = [(next(rng) if big else next(rng) % 1000) * (next(rng) % 4 != 0)
                 for _ in range(n)]
            if sum(w) == 0:
                w[0] = 1
            cases.append((p, w))
        for p, w in cases:
            cdf = cdf_from_weights(w, p)
            f.write("vector %d %d\n" % (p, len(w)))
            f.write(" ".join(str(v) for v in w) + "\n")
            f.write(" ".join(str(v) for v in cdf) + "\n")


def check(folder, c_tables_path):
    """Exit status 0 when the committed fixtures and C tables are what this twin writes now, and
    when the Python coder writes and reads the C golden stream byte for byte."""
    import io
    import tempfile

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        write_fixtures(tmp)
        for name in ("gaussian_tables.txt", "cdf_vectors.txt"):
            with open(os.path.join(tmp, name)) as a, open(os.path.join(folder, name)) as b:
                if a.read() != b.read():
                    sys.stderr.write("%s differs from the Python twin\n" % name)
                    ok = False
    if not check_golden(os.path.join(folder, "golden_mixed.bin")):
        ok = False
    out = io.StringIO()
    write_c_tables(out)
    with open(c_tables_path) as f:
        if f.read() != out.getvalue():
            sys.stderr.write("%s differs from the Python twin\n" % c_tables_path)
            ok = False
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


def main(argv):
    if len(argv) == 4 and argv[1] == "check":
        return check(argv[2], argv[3])
    if len(argv) == 2 and argv[1] == "c-tables":
        write_c_tables(sys.stdout)
    elif len(argv) == 3 and argv[1] == "fixtures":
        write_fixtures(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
