"""aud-grvq's formant postfilter (ARCH_AUDIO.md "aud-grvq", "Postfilter"), in PyTorch.

The short-term postfilter of CELP speech decoders (Chen & Gersho 1995; ITU-T G.729 4.2.2):
H(z) = A(z / g_n) / A(z / g_d) with A(z) the LPC polynomial of the decoded speech itself and
g_n < g_d, which deepens the valleys between formants (where a low-rate decoder's noise is
heard) relative to the peaks.  Here it is made a finite, block-wise filter so that a chunk needs
only a bounded context (seamless chunks):

  * blocks of H = 160 samples on the signal's sample grid (block f: samples [f H, f H + H));
  * block f's LPC of order 16: autocorrelation r[0..16] of the samples [f H - 160, f H + 320)
    (zero outside the decoded window) under the Hann window w[j] = 0.5 - 0.5 cos(2 pi (j + 1) /
    481), j = 0..479, r[0] = r[0] * (1 + 1e-4) + 1e-9, Levinson-Durbin -> a[0..16], a[0] = 1;
  * its filter: the first 64 samples h[0..63] of the impulse response of
    sum_k a[k] g_n^k z^-k / sum_k a[k] g_d^k z^-k, divided by sum_k |h[k]|;
  * the block's output samples: o[n] = sum_{k=0..63} h[k] x[n - k] (x zero before the window).

Reach: 319 samples before and 319 after any output sample (one latent frame of 320 each side).
The tilt (1 - mu z^-1) is folded into h (h'[t] = h[t] - mu h[t - 1], still 64 taps).  aud-grvq
ships g_n = 0.65, g_d = 0.75, mu = -0.3 (weights metadata `postfilter`, chosen on training
speech): PESQ-WB of the C codec at q7 on the held-out speech 2.94 -> 3.06 (weights/MODELS.md).

torch here (training in the loop and the reference decoder); codec/aud_grvq.c in C.  The
coefficients are computed from the decoded samples without gradient (detached), the filtering
itself is differentiable.
"""
import math

import torch
import torch.nn.functional as F

HOP = 160
WIN = 480
ORDER = 16
TAPS = 64


def parse(text):
    """ "g_n,g_d,mu" (the weights metadata `postfilter`, the scripts' --postfilter) -> a tuple;
    "" or "off" -> () (no postfilter)."""
    return () if text in ("", "off") else tuple(float(v) for v in text.split(","))


def hann(device=None, dtype=torch.float64):
    j = torch.arange(WIN, device=device, dtype=dtype)
    return 0.5 - 0.5 * torch.cos(2 * math.pi * (j + 1) / (WIN + 1))


@torch.no_grad()
def block_filters(x, gn, gd, mu=0.0):
    """x (N, L) -> h (N, F, TAPS) float64, F = ceil(L / HOP): each block's normalised filter."""
    n, length = x.shape
    nf = -(-length // HOP)
    xd = x.detach().to(torch.float64)
    # analysis span of block f: [f H - 160, f H + 320): pad 160 before, enough after
    pad_after = nf * HOP + 320 - length
    xp = F.pad(xd, (160, max(pad_after, 0)))
    seg = xp.unfold(1, WIN, HOP)[:, :nf] * hann(x.device)  # (N, F, WIN)
    r = torch.stack([(seg[..., : WIN - k] * seg[..., k:]).sum(-1) for k in range(ORDER + 1)], -1)
    r[..., 0] = r[..., 0] * (1 + 1e-4) + 1e-9
    # Levinson-Durbin, batched
    a = torch.zeros(n, nf, ORDER + 1, dtype=torch.float64, device=x.device)
    a[..., 0] = 1
    e = r[..., 0].clone()
    for i in range(1, ORDER + 1):
        acc = r[..., i] + (a[..., 1:i] * r[..., 1:i].flip(-1)).sum(-1)
        k = -acc / e
        prev = a[..., 1:i].clone()
        a[..., 1:i] = prev + k[..., None] * prev.flip(-1)
        a[..., i] = k
        e = e * (1 - k * k)
    pw = torch.arange(ORDER + 1, dtype=torch.float64, device=x.device)
    b = a * gn ** pw
    d = a * gd ** pw
    # impulse response of B(z) / D(z), TAPS samples: h[t] = b[t] - sum_{k=1..16} d[k] h[t - k]
    h = torch.zeros(n, nf, TAPS, dtype=torch.float64, device=x.device)
    for t in range(TAPS):
        v = b[..., t] if t <= ORDER else torch.zeros_like(b[..., 0])
        for k in range(1, min(t, ORDER) + 1):
            v = v - d[..., k] * h[..., t - k]
        h[..., t] = v
    # normalised by the absolute sum, then the tilt (1 - mu z^-1) folded in (truncated to TAPS)
    h = h / h.abs().sum(-1, keepdim=True)
    return h - mu * F.pad(h, (1, 0))[..., :TAPS]


def apply(x, gn, gd, mu):
    """x (N, L) -> postfiltered (N, L), differentiable in x (not through the coefficients)."""
    n, length = x.shape
    h = block_filters(x, gn, gd, mu).to(x.dtype)  # (N, F, TAPS)
    nf = h.shape[1]
    xp = F.pad(x, (TAPS - 1, nf * HOP - length))
    win = xp.unfold(1, HOP + TAPS - 1, HOP)[:, :nf]  # (N, F, HOP + TAPS - 1)
    taps = win.unfold(2, TAPS, 1)  # (N, F, HOP, TAPS): taps[..., j, m] = x[f H + j - TAPS + 1 + m]
    out = (taps * h.flip(-1)[:, :, None, :]).sum(-1)  # sum_k h[k] x[f H + j - k]
    return out.reshape(n, nf * HOP)[:, :length]
