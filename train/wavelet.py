"""2-D wavelet packet transform, bior4.4 (CDF 9/7), by lifting with whole-sample
symmetric extension, in PyTorch.

Convention (normative for the C side, see ARCH.md "Wavelet"):
  1-D forward on a signal x of even length N (e = x[0::2], o = x[1::2], n = 0..N/2-1):
      o[n] += A * (e[n] + e[n+1])      e[N/2] := e[N/2-1]   (x[N] = x[N-2])
      e[n] += B * (o[n-1] + o[n])      o[-1]  := o[0]       (x[-1] = x[1])
      o[n] += G * (e[n] + e[n+1])
      e[n] += D * (o[n-1] + o[n])
      low = K * e,  high = -o / K
  This is the JPEG 2000 irreversible 9/7 lifting (Daubechies & Sweldens 1998), with
  the sign and scale of PyWavelets' 'bior4.4': for every even N,
      low  == pywt.dwt(x, 'bior4.4', mode='reflect')[0][2:2+N//2]
      high == pywt.dwt(x, 'bior4.4', mode='reflect')[1][2:2+N//2]
  for N >= 8 (tested in test_wavelet.py).  The inverse undoes the lifting steps in
  reverse order, so reconstruction is perfect to float precision for any even size.

2-D one level: transform along the width (last axis), then along the height.
Band b = 2*v + h (v: band along height, h: band along width; 0 low, 1 high):
  b=0 LL, 1 (low-height, high-width), 2 (high-height, low-width), 3 HH.
Packet, L levels: every band is split again; channel of a level-L band with
per-level band indices (b1, ..., bL) is  c*4^L + (((b1*4)+b2)*4 + ...), for input
channel c.  Output shape (N, C*4^L, H/2^L, W/2^L); H and W must be divisible by 2^L.
"""
import math

import torch

# Lifting constants of the CDF 9/7 wavelet (Daubechies & Sweldens 1998, Table 1),
# derived exactly from PyWavelets' bior4.4 filters (K matches sum(dec_lo)/sqrt(2) = 1).
A = -1.586134342059924
B = -0.052980118572961
G = 0.882911075530934
D = 0.443506852043971
K = 1.149604398860241


def _next(a, dim):  # a[n+1] with a[N] := a[N-1]
    return torch.cat([a.narrow(dim, 1, a.shape[dim] - 1), a.narrow(dim, a.shape[dim] - 1, 1)], dim)


def _prev(a, dim):  # a[n-1] with a[-1] := a[0]
    return torch.cat([a.narrow(dim, 0, 1), a.narrow(dim, 0, a.shape[dim] - 1)], dim)


def dwt1(x, dim):
    """One level along `dim`; returns (low, high), each half the length."""
    n = x.shape[dim]
    assert n % 2 == 0, "wavelet needs an even size"
    e = x.narrow(dim, 0, n).unfold(dim, 2, 2)  # (..., n/2, ..., 2)
    o = e[..., 1]
    e = e[..., 0]
    o = o + A * (e + _next(e, dim))
    e = e + B * (_prev(o, dim) + o)
    o = o + G * (e + _next(e, dim))
    e = e + D * (_prev(o, dim) + o)
    return K * e, -o / K


def idwt1(low, high, dim):
    e = low / K
    o = -high * K
    e = e - D * (_prev(o, dim) + o)
    o = o - G * (e + _next(e, dim))
    e = e - B * (_prev(o, dim) + o)
    o = o - A * (e + _next(e, dim))
    x = torch.stack([e, o], dim=dim + 1 if dim >= 0 else dim)
    shape = list(e.shape)
    shape[dim] = shape[dim] * 2
    return x.reshape(shape)


def dwt2(x):
    """(N, C, H, W) -> (N, 4C, H/2, W/2), channel 4c+b."""
    lo, hi = dwt1(x, 3)  # along width
    ll, hl = dwt1(lo, 2)  # along height: v=0 / v=1 of the width-low band
    lh, hh = dwt1(hi, 2)
    # b = 2v + h: 0=(v0,h0)=ll, 1=(v0,h1)=lh, 2=(v1,h0)=hl, 3=(v1,h1)=hh
    y = torch.stack([ll, lh, hl, hh], dim=2)
    n, c, _, h, w = y.shape
    return y.reshape(n, c * 4, h, w)


def idwt2(y):
    n, c4, h, w = y.shape
    y = y.reshape(n, c4 // 4, 4, h, w)
    ll, lh, hl, hh = y.unbind(2)
    lo = idwt1(ll, hl, 2)
    hi = idwt1(lh, hh, 2)
    return idwt1(lo, hi, 3)


def wpt2(x, levels):
    """Full 2-D wavelet packet, `levels` levels."""
    for _ in range(levels):
        x = dwt2(x)
    return x


def iwpt2(y, levels):
    for _ in range(levels):
        y = idwt2(y)
    return y


def wpt2_numpy_reference(x, levels):
    """Same transform computed with PyWavelets (for tests): x (C, H, W) float64."""
    import numpy as np
    import pywt

    def d1(sig, axis):
        n = sig.shape[axis]
        lo, hi = pywt.dwt(sig, "bior4.4", mode="reflect", axis=axis)
        sl = [slice(None)] * sig.ndim
        sl[axis] = slice(2, 2 + n // 2)
        return lo[tuple(sl)], hi[tuple(sl)]

    bands = [x]
    for _ in range(levels):
        nb = []
        for b in bands:
            lo, hi = d1(b, 2)
            ll, hl = d1(lo, 1)
            lh, hh = d1(hi, 1)
            nb.append([ll, lh, hl, hh])
        # reorder so that channel = c*4^L + packet index
        bands = [q for group in nb for q in group]
        # bands currently ordered by (previous band, new band), each (C, h, w)
    c = x.shape[0]
    # bands: list of 4^L arrays each (C, h, w), in packet order
    return np.stack([bands[p][ch] for ch in range(c) for p in range(len(bands))])


def _selftest():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 24, 40, dtype=torch.float64)
    for L in (1, 2, 3):
        y = wpt2(x, L)
        r = iwpt2(y, L)
        assert (r - x).abs().max() < 1e-10, L
    return math.inf


if __name__ == "__main__":
    _selftest()
    print("ok")
