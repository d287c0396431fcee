"""An independent implementation of the aud-wave resampler, written from the text of
conformance/BITSTREAM.md 3.2 ("Other sample rates": the filter from rate a to rate b) in Python's
binary64 floats, not from codec/aud_wave.c. It prints the SHA-256 of the filter's output for the
inputs of tests/test_aud_wave.c "the resampler against the specification", which asserts the
same digests from the C code: a second implementation reproduces the decoder's resampling bit
for bit.

usage: python3 tests/data/aud_wave/resampler_spec.py"""
import hashlib
import math

import numpy as np

PI = float.fromhex("0x1.921fb54442d18p+1")


def sinpi(x):
    n = math.floor(x + 0.5)
    y = (x - n) * PI
    y2 = y * y
    term = s = y
    for k in range(1, 12):
        term = term * y2 / float(2 * k * (2 * k + 1))
        s = s - term if k % 2 else s + term
    return -s if n % 2 else s


def i0(z):
    hz = z * 0.5
    q = hz * hz
    term = s = 1.0
    for k in range(1, 32):
        term = term * q / float(k * k)
        s = s + term
    return s


def table(a, b):
    g = math.gcd(a, b)
    u, v, lo = a // g, b // g, min(a, b)
    half = (1280 * a + 19 * lo - 1) // (19 * lo)
    c = float(19 * lo) / float(20 * a)
    i0b = i0(9.5)
    h = np.zeros((v, 2 * half), np.float32)
    for p in range(v):
        phi = float(p) / float(v)
        e = []
        for t in range(2 * half):
            tau = phi - float(t - half + 1)
            x = c * tau
            s = 1.0 if x == 0.0 else sinpi(x) / (PI * x)
            w = i0(9.5 * math.sqrt(1.0 - (tau / float(half)) * (tau / float(half)))) / i0b
            e.append(c * s * w)
        total = 0.0
        for val in e:
            total = total + val
        h[p] = np.array([val / total for val in e]).astype(np.float32)
    return u, v, half, h


def resample(a, b, x, ny):
    u, v, half, h = table(a, b)
    y = np.zeros(ny, np.float32)
    for n in range(ny):
        i = (n * u) // v
        p = n * u - i * v
        acc = [0.0] * 8
        for t in range(2 * half):
            j = i - half + 1 + t
            acc[t % 8] = acc[t % 8] + float(h[p][t]) * (float(x[j]) if 0 <= j < len(x) else 0.0)
        y[n] = np.float32(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])))
    return y


def lcg_signal(n, seed):
    """The test's input: (seed >> 8) / 2^24 - 1/2 of a 32-bit LCG, as float32 (exact)."""
    out = np.zeros(n, np.float32)
    for i in range(n):
        seed = (seed * 1664525 + 1013904223) % 2**32
        out[i] = np.float32((seed >> 8) / 16777216.0 - 0.5)
    return out


if __name__ == "__main__":
    for a, b, nx in [(16000, 44100, 900), (44100, 8000, 4000), (96000, 44100, 1500)]:
        x = lcg_signal(nx, a)
        y = resample(a, b, x, nx * b // a)
        print(a, b, nx, nx * b // a, hashlib.sha256(y.astype("<f4").tobytes()).hexdigest())
