#!/usr/bin/env python3
"""Evaluate aud-wave on the held-out audio, coding exactly as the C codec does (chunks with
margins, mid/side stereo, integer CDF tables; train/ARCH_AUDIO.md).

  python3 train/eval_audio.py train/runs/aud-wave/ckpt.pt [--seconds 20] [--levels 0,2,5]

Per quality level and validation source it prints the actual bitrate (kbps, from the integer
tables the rANS coder uses: -log2 of each symbol's frequency, escapes included), SI-SDR (dB,
Le Roux et al. 2019, zero-mean, per channel, averaged over clips) and the mel distance of DAC
(Kumar et al. 2023; descript-audio-codec's MelSpectrogramLoss with its default configuration:
windows 32..2048 with 5..320 mels, hop = window / 4, Hann, centred reflect-padded STFT,
magnitude mel spectrogram (librosa's Slaney filterbank), log10 of max(mel, 1e-5), L1 mean,
summed over the 7 scales).
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio_models as am  # noqa: E402
import coding  # noqa: E402
from audio_data import clips  # noqa: E402

CHUNK = 131072  # frames per chunk (info->chunk_frames)
MARGIN = 512  # context samples coded on each side of a chunk


def load_model(path):
    st = torch.load(path, map_location="cpu", weights_only=False)
    m = am.AudWave()
    m.load_state_dict(st["model"])
    m.eval()
    return m, st


def chunk_windows(n, chunk=CHUNK, margin=MARGIN):
    """[(first, count, window_start, window_length)] of a signal of n frames (ARCH_AUDIO.md)."""
    out = []
    for first in range(0, n, chunk):
        count = min(chunk, n - first)
        length = (count + am.STRIDE - 1) // am.STRIDE * am.STRIDE + 2 * margin
        out.append((first, count, first - margin, length))
    return out


def window(x, start, length):
    """x[start : start + length] with zeros outside the signal."""
    out = np.zeros(length, dtype=np.float32)
    a, b = max(0, start), min(len(x), start + length)
    if b > a:
        out[a - start:b - start] = x[a:b]
    return out


def coded_channels(a):
    """float (frames, ch) -> list of mono signals the codec codes: mid/side for stereo."""
    if a.shape[1] == 2:
        return [(a[:, 0] + a[:, 1]) / 2, (a[:, 0] - a[:, 1]) / 2]
    return [a[:, c] for c in range(a.shape[1])]


def uncoded_channels(sigs, channels):
    if channels == 2:
        return np.stack([sigs[0] + sigs[1], sigs[0] - sigs[1]], axis=1)
    return np.stack(sigs, axis=1)


@torch.no_grad()
def code(model, a, q, counter):
    """Codes a float (frames, ch) signal at level q; returns (decoded, bits, symbols per chunk)."""
    n, ch = a.shape
    sigs = coded_channels(a)
    outs = [np.zeros(n, dtype=np.float32) for _ in sigs]
    bits = 0.0
    for first, count, start, length in chunk_windows(n):
        xs = torch.from_numpy(np.stack([window(s, start, length) for s in sigs]))
        y_hat = torch.round(model.analysis(xs, q))
        sym = y_hat.long().numpy()  # (channels, C, T): coding order a, c, t
        idx = np.broadcast_to(q * sym.shape[1] + np.arange(sym.shape[1])[None, :, None], sym.shape)
        b, _ = counter(sym, idx)
        bits += b
        xr = model.synthesis(y_hat, q).numpy()
        for i in range(len(sigs)):
            outs[i][first:first + count] = xr[i, MARGIN:MARGIN + count]
    return uncoded_channels(outs, ch), bits


def si_sdr(ref, est):
    ref = ref - ref.mean()
    est = est - est.mean()
    a = np.dot(est, ref) / max(np.dot(ref, ref), 1e-12)
    t = a * ref
    return 10 * math.log10(max(np.dot(t, t), 1e-20) / max(np.dot(est - t, est - t), 1e-20))


def _hz_to_mel(f):  # Slaney (librosa htk=False)
    f = np.asarray(f, dtype=np.float64)
    lin = f * 3.0 / 200.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (math.log(6.4) / 27.0), lin)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((math.log(6.4) / 27.0) * (m - 15.0)), 200.0 * m / 3.0)


def mel_filters(sr, n_fft, n_mels):
    """librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels) (fmin 0, fmax sr/2, Slaney norm)."""
    fft_f = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_f[None, :]
    w = np.zeros((n_mels, len(fft_f)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return torch.from_numpy(w).float()


_MEL_CACHE = {}


def mel_distance(ref, est, sr=am.RATE):
    """DAC's MelSpectrogramLoss (default config) between two mono float signals."""
    x = torch.from_numpy(np.ascontiguousarray(est, dtype=np.float32))[None]
    y = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))[None]
    total = 0.0
    for n_mels, win in zip((5, 10, 20, 40, 80, 160, 320), (32, 64, 128, 256, 512, 1024, 2048)):
        key = (sr, n_mels, win)  # filterbanks depend on the rate
        if key not in _MEL_CACHE:
            _MEL_CACHE[key] = (mel_filters(sr, win, n_mels), torch.hann_window(win))
        fb, w = _MEL_CACHE[key]
        mels = []
        for s in (x, y):
            spec = torch.stft(s, win, hop_length=win // 4, window=w, center=True, pad_mode="reflect",
                              return_complex=True).abs()
            mels.append(torch.log10((fb @ spec).clamp_min(1e-5)))
        total += float((mels[0] - mels[1]).abs().mean())
    return total


OPUS_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache", "opus", "root")


def opus_code(a, kbps):
    """Codes float (frames, ch) at 44.1 kHz with opusenc --bitrate kbps (VBR, the default) and
    decodes with opusdec --rate 44100.  Returns (decoded, bits of the .opus file).  opus-tools
    come from Debian's opus-tools/libopusenc0/libopusfile0 unpacked in train/cache/opus
    (`apt-get download` + `dpkg -x`), or from the PATH."""
    env = dict(os.environ)
    exe = "opusenc"
    if os.path.isdir(OPUS_ROOT):
        env["LD_LIBRARY_PATH"] = os.path.join(OPUS_ROOT, "usr/lib/x86_64-linux-gnu")
        exe = os.path.join(OPUS_ROOT, "usr/bin/opusenc")
    with tempfile.TemporaryDirectory() as d:
        src, enc, dec = (os.path.join(d, n) for n in ("in.wav", "x.opus", "out.wav"))
        with wave.open(src, "wb") as w:
            w.setnchannels(a.shape[1])
            w.setsampwidth(2)
            w.setframerate(am.RATE)
            w.writeframes(np.clip(np.round(a * 32768), -32768, 32767).astype("<i2").tobytes())
        subprocess.run([exe, "--quiet", "--bitrate", str(kbps), src, enc], env=env, check=True)
        subprocess.run([exe.replace("opusenc", "opusdec"), "--quiet", "--rate", str(am.RATE), enc, dec],
                       env=env, check=True)
        with wave.open(dec) as w:
            out = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        bits = os.path.getsize(enc) * 8
    out = out.astype(np.float32) / 32768
    res = np.zeros_like(a)
    n = min(len(out), len(a))
    res[:n] = out[:n]
    return res, bits


def valid_set(seconds):
    out = []
    for src, name, a in clips("valid"):
        a = np.asarray(a[: int(seconds * am.RATE)], dtype=np.float32) / 32768
        out.append((src, name, a))
    return out


def evaluate(model, levels, seconds, max_speech=30, opus=()):
    counter = coding.BitCounter(coding.factorized_tables(model.prior)) if model else None
    data = valid_set(seconds)
    speech = [d for d in data if d[0] == "emodb"][:max_speech]
    data = [d for d in data if d[0] != "emodb"] + speech
    rows = []
    for q in list(levels) + ["opus%d" % k for k in opus]:
        per = {}
        for src, name, a in data:
            if isinstance(q, str):
                dec, bits = opus_code(a, int(q[4:]))
            else:
                dec, bits = code(model, a, q, counter)
            dur = a.shape[0] / am.RATE
            s = np.mean([si_sdr(a[:, c], dec[:, c]) for c in range(a.shape[1])])
            m = np.mean([mel_distance(a[:, c], dec[:, c]) for c in range(a.shape[1])])
            e = per.setdefault(src, [0.0, 0.0, [], []])
            e[0] += bits
            e[1] += dur
            e[2].append(s)
            e[3].append(m)
        for src, (bits, dur, s, m) in sorted(per.items()):
            rows.append(dict(level=q, source=src, kbps=bits / dur / 1000, si_sdr=float(np.mean(s)),
                             mel=float(np.mean(m)), clips=len(s)))
            print("%-6s %-9s %7.1f kbps  SI-SDR %6.2f dB  mel %.3f  (%d clips)" % (
                q if isinstance(q, str) else "q%d" % q, src, rows[-1]["kbps"], rows[-1]["si_sdr"], rows[-1]["mel"], len(s)), flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("--seconds", type=float, default=20, help="seconds of each validation clip")
    ap.add_argument("--levels", default=None, help="comma-separated 0-based levels (default all)")
    ap.add_argument("--speech", type=int, default=30, help="Emo-DB clips used")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument("--opus", default="", help="comma-separated Opus bitrates (kbps) to compare with")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, st = load_model(a.ckpt)
    levels = [int(v) for v in a.levels.split(",")] if a.levels else list(range(model.q_levels))
    print("checkpoint step %d, %.1f min trained" % (st["step"], st["trained_seconds"] / 60))
    opus = [int(v) for v in a.opus.split(",")] if a.opus else []
    rows = evaluate(model, levels, a.seconds, a.speech, opus)
    if a.markdown:
        print("\n| codec | source | kbps | SI-SDR (dB) | mel distance |\n|---|---|---|---|---|")
        for r in rows:
            name = r["level"] if isinstance(r["level"], str) else "aud-wave q%d" % (r["level"] + 1)
            print("| %s | %s | %.1f | %.2f | %.3f |" % (name, r["source"], r["kbps"], r["si_sdr"], r["mel"]))


if __name__ == "__main__":
    main()
