#!/usr/bin/env python3
"""Probes of aud-wave's mel-distance gap against Opus (weights/MODELS.md, aud-wave, "Why the mel
target is missed"): what the shipped model's quantiser would give if it were changed, measured
in PyTorch on the held-out music and drums (first SECONDS of each clip, stereo as mid/side, whole
clips without chunks).  Rates are the empirical entropy of the integer symbols per latent channel
over the whole set (what an ideal static table would spend; side information counted where
there is some), so they compare with each other, not exactly with the C codec's.

  python3 train/aud_wave_probe.py CKPT opus 48,64,96       # the Opus anchors on the same clips
  python3 train/aud_wave_probe.py CKPT quiet               # where the mel error lies (2048 window)
  python3 train/aud_wave_probe.py CKPT step q=1 q=1,gamma=8 q=1,alpha=1,gamma=2,floor=0.01
  python3 train/aud_wave_probe.py CKPT step q=1,fill=1     # energy-preserving noise fill
  python3 train/aud_wave_probe.py CKPT lpc G=0.35 G=0.5 G=0.7 G=1

step: the latent y of level q (PCA of the wavelet packet, times the level's gains) is divided, per
latent channel and block of B latent frames, by 2^(k/4)^alpha / gamma, k = round(4 log2 max(rms,
floor)) (side information: the k, coded as differences along time), rounded, scaled back
and decoded (res=0: the linear decoder path only; res=1: with the conv correction).  fill=1 fills
the zeros of each block with uniform noise so that the block's energy reaches its coded rms
(at most half a step).  lpc: an order-32 LPC pre-filter A(z/0.98) per block of 1024 samples
(autocorrelation of a 2048 Hann window, the coefficients not quantised), the residual normalised
by its block rms, coded with the PCA basis and one uniform step 1/G, then the all-pole post-filter:
the quantisation noise is shaped like the signal's spectral envelope (the side information, about
1-3 kbps, is not counted).
"""
import math
import os
import sys

import numpy as np
import torch
from scipy.signal import lfilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio_models as am  # noqa: E402
import eval_audio as ev  # noqa: E402

SECONDS = float(os.environ.get("SECONDS", 10))


def entropy_bits(rows):
    tot = 0.0
    for r in rows:
        _, cnt = np.unique(r, return_counts=True)
        tot -= float((cnt * np.log2(cnt / cnt.sum())).sum())
    return tot


def scores(a, out):
    mel = np.mean([ev.mel_distance(a[:, c], out[:, c]) for c in range(a.shape[1])])
    sdr = np.mean([ev.si_sdr(a[:, c], out[:, c]) for c in range(a.shape[1])])
    return mel, sdr


@torch.no_grad()
def step_variant(model, data, q, gamma=1.0, alpha=0.0, B=64, floor=1e-4, fill=0, res=0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    syms, sides, dur, res_m, res_s = [], [], 0.0, [], []
    for _, _, a in data:
        sigs = ev.coded_channels(a)
        n = a.shape[0]
        L = (n + 15) // 16 * 16
        y = model.analysis(torch.from_numpy(np.stack([np.pad(s, (0, L - n)) for s in sigs])), q)
        ch, C, T = y.shape
        nb = (T + B - 1) // B
        yb = torch.nn.functional.pad(y, (0, nb * B - T)).reshape(ch, C, nb, B)
        k = torch.round(4 * torch.log2(yb.pow(2).mean(-1).sqrt().clamp_min(floor)))
        rq = 2.0 ** (k / 4)
        sc = rq ** alpha
        z = torch.round(yb * gamma / sc[..., None])
        syms.append(z.reshape(ch, C, -1)[:, :, :T].long().numpy())
        if alpha > 0 or fill:
            sides.append(k.long().numpy())
        yh = z * sc[..., None] / gamma
        if fill:
            zero = (z == 0).float()
            nz = zero.mean(-1)
            miss = (rq.pow(2) - yh.pow(2).mean(-1)).clamp_min(0)
            std = torch.where(nz > 0, (miss / nz.clamp_min(1e-9)).sqrt(), torch.zeros_like(miss))
            std = torch.minimum(std, 0.5 * sc / gamma)
            yh = yh + zero * (torch.rand(yh.shape, generator=gen) * 2 - 1) * math.sqrt(3) * std[..., None]
        yh = yh.reshape(ch, C, -1)[:, :, :T]
        if res:
            xr = model.synthesis(yh, q)
        else:
            xr = am.wpt_inverse(model.dec_lin(yh * torch.exp(-model.log_gain[q])[None, :, None]))
        out = ev.uncoded_channels(list(xr.numpy()[:, :n]), a.shape[1])
        dur += n / am.RATE
        m, s = scores(a, out)
        res_m.append(m)
        res_s.append(s)
    bits = entropy_bits(np.concatenate([s.transpose(1, 0, 2).reshape(s.shape[1], -1) for s in syms], axis=1))
    side = 0.0
    if sides:
        side = entropy_bits(np.concatenate([np.diff(s, axis=2, prepend=0).transpose(1, 0, 2).reshape(s.shape[1], -1)
                                            for s in sides], axis=1))
    return (bits + side) / dur / 1000, side / dur / 1000, float(np.mean(res_m)), float(np.mean(res_s))


def levinson(r, p):
    a = np.zeros(p + 1)
    a[0] = 1
    e = r[0] * (1 + 1e-9) + 1e-12
    for i in range(1, p + 1):
        k = -(r[i] + np.dot(a[1:i], r[i - 1:0:-1])) / e
        a[1:i + 1] = a[1:i + 1] + k * a[i - 1::-1][:i]
        e *= 1 - k * k
    return a


def lpc_blocks(x, N, p, g, floor):
    nb = (len(x) + N - 1) // N
    A = np.zeros((nb, p + 1))
    w = np.hanning(2 * N)
    xp = np.pad(x, (N // 2, nb * N + N))
    lagw = np.exp(-0.5 * (2 * np.pi * 40 / am.RATE * np.arange(p + 1)) ** 2)
    for b in range(nb):
        seg = xp[b * N:b * N + 2 * N] * w
        r = np.correlate(seg, seg, "full")[2 * N - 1:2 * N + p] * lagw
        r[0] += floor ** 2 * 2 * N * 0.375 + 1e-12
        A[b] = levinson(r, p) * g ** np.arange(p + 1)
    return A


def lpc_variant(model, data, G, N=1024, p=32, g=0.98, floor=1e-5):
    syms, dur, res_m, res_s = [], 0.0, [], []
    for _, _, a in data:
        n = a.shape[0]
        outs = []
        for s in ev.coded_channels(a):
            s = s.astype(np.float64)
            A = lpc_blocks(s, N, p, g, floor)
            nb = A.shape[0]
            sp = np.pad(s, (p, nb * N - n))
            e = np.concatenate([np.convolve(sp[b * N:b * N + N + p], A[b])[p:p + N] for b in range(nb)])
            sig = np.maximum(np.sqrt((e.reshape(nb, N) ** 2).mean(1)), floor)
            sig = np.repeat(2.0 ** (np.round(2 * np.log2(sig)) / 2), N)
            with torch.no_grad():
                w = am.wpt_forward(torch.from_numpy((e / sig).astype(np.float32))[None])
                z = torch.round(torch.einsum("ck,nkt->nct", model.enc, w) * G)
                syms.append(z[0].long().numpy())
                er = am.wpt_inverse(torch.einsum("ck,nct->nkt", model.enc, z / G))[0].double().numpy() * sig
            out, zi = np.zeros(nb * N), np.zeros(p)
            for b in range(nb):
                out[b * N:b * N + N], zi = lfilter([1.0], A[b], er[b * N:b * N + N], zi=zi)
            outs.append(out[:n].astype(np.float32))
        out = ev.uncoded_channels(outs, a.shape[1])
        dur += n / am.RATE
        m, s = scores(a, out)
        res_m.append(m)
        res_s.append(s)
    return entropy_bits(np.concatenate(syms, axis=1)) / dur / 1000, float(np.mean(res_m)), float(np.mean(res_s))


def log_mel(sig, win, n_mels):
    fb, w = ev.mel_filters(am.RATE, win, n_mels), torch.hann_window(win)
    s = torch.stft(torch.from_numpy(np.ascontiguousarray(sig, dtype=np.float32))[None], win, hop_length=win // 4,
                   window=w, center=True, pad_mode="reflect", return_complex=True).abs()
    return torch.log10((fb @ s).clamp_min(1e-5))[0].numpy()


@torch.no_grad()
def quiet(model, data):
    def ours(a):
        sigs = ev.coded_channels(a)
        n = a.shape[0]
        L = (n + 15) // 16 * 16
        xs = torch.from_numpy(np.stack([np.pad(s, (0, L - n)) for s in sigs]))
        xr = model.synthesis(torch.round(model.analysis(xs, 1)), 1).numpy()[:, :n]
        return ev.uncoded_channels(list(xr), a.shape[1])

    for group in ("music", "drums"):
        items = [d for d in data if (d[0] == "wesnoth") == (group == "music")]
        for label, fn in (("aud-wave q2", ours), ("Opus 64", lambda a: ev.opus_code(a, 64)[0])):
            err, cnt = np.zeros(4), np.zeros(4)
            for _, _, a in items:
                out = fn(a)
                for c in range(a.shape[1]):
                    r, e = log_mel(a[:, c], 2048, 320), log_mel(out[:, c], 2048, 320)
                    for j, (lo, hi) in enumerate(((-99, -3), (-3, -2), (-2, -1), (-1, 99))):
                        m = (r >= lo) & (r < hi)
                        err[j] += np.abs(r - e)[m].sum()
                        cnt[j] += m.sum()
            print("%-5s %-11s share of bins with log10 mel <-3 / -3..-2 / -2..-1 / >-1: %s; mean |error| there: %s" % (
                group, label, " / ".join("%.2f" % v for v in cnt / cnt.sum()),
                " / ".join("%.3f" % v for v in err / np.maximum(cnt, 1))), flush=True)


def opus(data, kbps):
    bits = dur = 0.0
    res_m, res_s = [], []
    for _, _, a in data:
        out, b = ev.opus_code(a, kbps)
        bits += b
        dur += a.shape[0] / am.RATE
        m, s = scores(a, out)
        res_m.append(m)
        res_s.append(s)
    return bits / dur / 1000, float(np.mean(res_m)), float(np.mean(res_s))


def kwargs(spec):
    out = {}
    for kv in spec.split(","):
        k, v = kv.split("=")
        out[k] = int(v) if k in ("q", "B", "fill", "res", "seed", "N", "p") else float(v)
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    model, _ = ev.load_model(sys.argv[1])
    data = [d for d in ev.valid_set(SECONDS) if d[0] != "emodb"]
    mode, specs = sys.argv[2], sys.argv[3:]
    if mode == "opus":
        for k in specs[0].split(","):
            print("Opus %s: %.1f kbps  mel %.3f  SI-SDR %.2f dB" % ((k,) + opus(data, int(k))), flush=True)
    elif mode == "quiet":
        quiet(model, data)
    elif mode == "step":
        for s in specs:
            print("step %s: %.1f kbps (side %.1f)  mel %.3f  SI-SDR %.2f dB" % ((s,) + step_variant(model, data, **kwargs(s))),
                  flush=True)
    elif mode == "lpc":
        for s in specs:
            print("lpc %s: %.1f kbps  mel %.3f  SI-SDR %.2f dB" % ((s,) + lpc_variant(model, data, **kwargs(s))), flush=True)
    else:
        sys.exit("unknown mode %s" % mode)


if __name__ == "__main__":
    main()
