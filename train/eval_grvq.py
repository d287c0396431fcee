#!/usr/bin/env python3
"""Evaluate aud-grvq (16 kHz speech, group-residual VQ) against Opus on held-out speech.

  python3 train/eval_grvq.py --ckpt train/runs/grvq1/ckpt.pt --opus 6,8,12,24 --markdown \\
      [--levels 0,2,6] [--total-seconds 180] [--seconds-per-clip 4] [--json out.json] [--plot out.png]
  python3 train/eval_grvq.py --neco build/apps/neco [--weights weights/] ...   # the C codec
  python3 train/eval_grvq.py --opus 6,8,12,24 --markdown                       # Opus alone
  python3 train/eval_grvq.py --rate 24000 --ckpt ... | --neco ... --neco-model aud-grvq-24k  # 24 kHz

--rate 24000 evaluates aud-grvq-24k on held-out 24 kHz general audio instead (train/cache/gen24/
valid, audio_data.py `prepare24`: the held-out wesnoth tracks, Emo-DB speakers and hydrogen
kits, stereo as its mid channel (L+R)/2, a third of --total-seconds each): SI-SDR and mel
distance only (PESQ-WB and STOI are speech measures at 16 kHz); Opus then codes 24 kHz input and
decodes at 24 kHz.

Data: the held-out 16 kHz speech of train/cache/speech16/valid (audio_data.py `prepare16`):
Emo-DB speakers 15/16 and the English recordings of klettres and ktuberling, speakers and
sources never trained on.  Each source's clips (concatenated recordings) are cut into
non-overlapping segments of --seconds-per-clip seconds; segments quieter than -45 dBFS RMS are
skipped (PESQ and SI-SDR are undefined on silence), and an evenly spaced (deterministic)
subset of --total-seconds / (number of sources) seconds is kept per source.  Every codec codes
each source's selected segments joined into one stream (so Opus's Ogg headers and the neco
container header are spread over about a minute, as in real use), and the metrics are computed
per segment and averaged over all segments.

Metrics:
  * kbps: bits / seconds of audio.  Opus: the .opus file (opus-tools, VBR, 16 kHz in, decoded
    with `opusdec --rate 16000`).  neco CLI: the .neco file.  PyTorch model: "nominal" = 8 bits
    per index x 2 groups x (q + 2) stages x 50 frames/s (1.6 .. 6.4 kbps); "est" = the code
    length of the indices under static per-(group, stage) tables built from index histograms
    counted on --train-seconds of TRAINING speech (same cut and choice as above, on the
    training split): integer tables by the construction of BITSTREAM.md 2.2/2.5
    (neco_cdf.vq_tables, P = 20) from the smoothed counts 2 n + 1 (add-1/2, Krichevsky-Trofimov),
    each index costing -log2 of its table frequency.  No rANS/container overhead (a few bytes).
    --vq-counts weights/aud-grvq.safetensors uses the exported counts as the C coder does.
  * SI-SDR (dB, Le Roux et al. 2019; eval_audio.si_sdr), of the output as decoded: no delay
    compensation (Opus's SILK/hybrid modes come out about one sample early or late, which alone
    costs them 1 to 1.5 dB; a model trained on mel losses alone has no phase to match).
  * mel distance: DAC's multi-scale mel loss (Kumar et al. 2023; eval_audio.mel_distance's
    configuration: 7 scales, windows 32..2048, 5..320 Slaney mels, log10 max(mel, 1e-5), L1)
    with the mel filterbanks of 16 kHz (lower is better).
  * PESQ-WB (ITU-T P.862.2, `pesq` package: pesq(16000, ref, deg, 'wb')), MOS-LQO 1.04..4.64.
  * STOI (Taal et al. 2011, `pystoi`, classic not extended), 0..1.
pesq and pystoi: `python3 -m pip install pesq pystoi` (scripts/deps.sh tries it).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch: the machine is shared

import argparse  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eval_audio  # noqa: E402
import neco_cdf  # noqa: E402

RATE = 16000  # --rate 24000 sets 24000 and ROOT to the 24 kHz general audio
SPEECH16 = os.path.join(HERE, "cache", "speech16")
GEN24 = os.path.join(HERE, "cache", "gen24")
ROOT = SPEECH16
SILENCE_DBFS = -45.0
CDF_PRECISION = 20  # NECO_CDF_PRECISION, the precision of the VQ index tables (BITSTREAM.md 2.5)
TRAIN_SHARES = {"emodb": 0.4, "klettres": 0.3, "ktuberling": 0.3}  # train_audio.py's sampler
TRAIN_SHARES_24 = {"wesnoth": 0.6, "emodb": 0.25, "hydrogen": 0.15}  # audio_data.CropSampler.SHARES


# ----------------------------------------------------------------------------------------------
# data

def load_clips(split):
    """{source: [(name, int16 array (frames, channels))]} of ROOT/<split> (memory-mapped)."""
    out = {}
    for f in sorted(glob.glob(os.path.join(ROOT, split, "*", "*.npy"))):
        a = np.load(f, mmap_mode="r")
        a = a[:, None] if a.ndim == 1 else a
        out.setdefault(os.path.basename(os.path.dirname(f)), []).append((os.path.basename(f)[:-4], a))
    if not out:
        sys.exit("no audio in %s: run `python3 train/audio_data.py %s` first" % (
            ROOT, "prepare16" if ROOT == SPEECH16 else "prepare24"))
    return out


def select_segments(split, seg_seconds, total_seconds, shares=None):
    """{source: [(clip name, start frame, float32 segment)]}: a deterministic, evenly spaced
    choice of non-silent segments, total_seconds * share seconds per source."""
    seg = int(round(seg_seconds * RATE))
    clips = load_clips(split)
    shares = shares or {s: 1.0 for s in clips}
    norm = sum(shares.get(s, 0.0) for s in clips)
    out = {}
    for src in sorted(clips):
        cand = []
        for name, a in clips[src]:
            for start in range(0, len(a) - seg + 1, seg):
                x = np.asarray(a[start:start + seg], dtype=np.float32).mean(axis=1) / 32768  # mono: mid
                rms = math.sqrt(float(np.mean(x.astype(np.float64) ** 2)))
                if 20 * math.log10(max(rms, 1e-10)) >= SILENCE_DBFS:
                    cand.append((name, start, x))
        n = min(len(cand), max(1, int(total_seconds * shares.get(src, 0.0) / norm / seg_seconds)))
        if not cand or shares.get(src, 0.0) <= 0:
            continue
        pick = sorted(set(int(round(v)) for v in np.linspace(0, len(cand) - 1, n)))
        out[src] = [cand[i] for i in pick]
    return out


# ----------------------------------------------------------------------------------------------
# metrics

def mel_distance(ref, est):
    """eval_audio.mel_distance (DAC's MelSpectrogramLoss, default configuration) at RATE."""
    return eval_audio.mel_distance(ref, est, RATE)


def speech_metrics(ref, deg):
    """{si_sdr, mel, pesq, stoi} of one segment; pesq/stoi are None when the packages are
    missing or PESQ finds no utterance."""
    from pesq import pesq  # noqa: imported here so that a missing package fails with a clear hint
    from pystoi import stoi
    ref = np.asarray(ref, dtype=np.float64)
    deg = np.asarray(deg, dtype=np.float64)
    m = dict(si_sdr=eval_audio.si_sdr(ref, deg), mel=mel_distance(ref, deg))
    if RATE != 16000:  # PESQ-WB and STOI: 16 kHz speech only
        return dict(m, pesq=None, stoi=None)
    try:
        m["pesq"] = float(pesq(RATE, ref, deg, "wb"))
    except Exception as e:  # pesq.NoUtterancesError and friends
        print("  (PESQ undefined on a segment: %s)" % e, flush=True)
        m["pesq"] = None
    m["stoi"] = float(stoi(ref, deg, RATE, extended=False))
    return m


# ----------------------------------------------------------------------------------------------
# codecs: each takes a float32 mono 16 kHz stream and returns (decoded float32, {bits...})

def _write_wav(path, x, rate=None):
    rate = rate or RATE
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes())


def _read_wav(path, n):
    """The first channel of a 16-bit WAV, float32, cut or zero-padded to n frames."""
    with wave.open(path) as w:
        if w.getframerate() != RATE or w.getsampwidth() != 2:
            raise RuntimeError("%s: %d Hz, %d bytes/sample (expected %d Hz 16-bit)" % (
                path, w.getframerate(), w.getsampwidth(), RATE))
        a = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    out = np.zeros(n, dtype=np.float32)
    k = min(n, len(a))
    out[:k] = a[:k, 0].astype(np.float32) / 32768
    return out


def opus_code(x, kbps):
    """opusenc --bitrate kbps (VBR, the default) on the RATE input, opusdec --rate RATE;
    bits = the whole .opus file.  opus-tools as eval_audio.opus_code finds them."""
    env = dict(os.environ)
    exe = "opusenc"
    if os.path.isdir(eval_audio.OPUS_ROOT):
        env["LD_LIBRARY_PATH"] = os.path.join(eval_audio.OPUS_ROOT, "usr/lib/x86_64-linux-gnu")
        exe = os.path.join(eval_audio.OPUS_ROOT, "usr/bin/opusenc")
    with tempfile.TemporaryDirectory() as d:
        src, enc, dec = (os.path.join(d, n) for n in ("in.wav", "x.opus", "out.wav"))
        _write_wav(src, x)
        subprocess.run([exe, "--quiet", "--bitrate", str(kbps), src, enc], env=env, check=True)
        subprocess.run([exe.replace("opusenc", "opusdec"), "--quiet", "--rate", str(RATE), enc, dec],
                       env=env, check=True)
        bits = os.path.getsize(enc) * 8
        return _read_wav(dec, len(x)), dict(bits=bits)


class NecoCli:
    """The C codec through the CLI: `neco encode in.wav out.neco --model M --quality Q` and
    `neco decode out.neco out.wav`; bits = the .neco file (container header included)."""

    def __init__(self, exe, weights=None, model="aud-grvq", threads=1):
        self.exe, self.weights, self.model, self.threads = exe, weights, model, threads
        if not os.access(exe, os.X_OK):
            sys.exit("--neco %s: not an executable" % exe)
        r = subprocess.run([exe, "models"], capture_output=True, text=True)
        ids = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
        if r.returncode != 0 or model not in ids:
            sys.exit("%s does not know the model '%s' (its `neco models`: %s): build a neco whose "
                     "codec has %s, or pass --neco-model" % (exe, model, ", ".join(ids) or r.stderr.strip(),
                                                          model))

    def _opts(self):
        o = ["--threads", str(self.threads)]
        return o + (["--weights", self.weights] if self.weights else [])

    def code(self, x, q):
        with tempfile.TemporaryDirectory() as d:
            src, enc, dec = (os.path.join(d, n) for n in ("in.wav", "x.neco", "out.wav"))
            _write_wav(src, x)
            for cmd in ([self.exe, "encode", src, enc, "--model", self.model, "--quality", str(q + 1)],
                        [self.exe, "decode", enc, dec]):
                r = subprocess.run(cmd + self._opts(), capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
            return _read_wav(dec, len(x)), dict(bits=os.path.getsize(enc) * 8)


class TorchGrvq:
    """The PyTorch model of a checkpoint, in eval mode (the VQ then leaves its EMA codebooks
    alone): pad to a multiple of HOP, encode, quantise with the first q + 2 stages, decode."""

    def __init__(self, ckpt, postfilter=None):
        import grvq_models as gm
        self.gm = gm
        st = torch.load(ckpt, map_location="cpu", weights_only=False)
        pf = st.get("postfilter", ()) if postfilter is None else postfilter
        self.model = gm.AudGrvq(pf)
        self.model.load_state_dict(st["model"])
        self.model.eval()
        self.step, self.trained = st.get("step", 0), st.get("trained_seconds", 0.0)
        self.bits = None  # (G, S, K) code length in bits of each index, from train_counts()

    @torch.no_grad()
    def encode(self, x):
        """float32 (n,) zero-padded to a multiple of HOP -> latent z (1, D, T)."""
        pad = (-len(x)) % self.gm.HOP
        return self.model.encode(torch.from_numpy(np.concatenate([x, np.zeros(pad, np.float32)]))[None])

    @torch.no_grad()
    def indices(self, x):
        """All STAGES stages of indices (G, S, T): stage s does not depend on later stages."""
        _, idx, _ = self.model.vq(self.encode(x), torch.tensor([self.gm.STAGES]))
        return idx[0]

    def train_counts(self, seconds, seg_seconds, weights_file=None):
        """Per-(group, stage) index histograms on training speech -> code lengths (bits).  With
        weights_file: the exported `vq.counts` (G S, K) of a weights file instead, unsmoothed,
        i.e. the tables the C coder builds (BITSTREAM.md 2.5)."""
        gm = self.gm
        if weights_file:
            from safetensors.numpy import load_file
            counts = load_file(weights_file)["vq.counts"].astype(np.int64).reshape(gm.GROUPS, gm.STAGES, gm.CODES)
            weights = counts
        else:
            counts = np.zeros((gm.GROUPS, gm.STAGES, gm.CODES), dtype=np.int64)
            shares = TRAIN_SHARES if RATE == 16000 else TRAIN_SHARES_24
            segs = select_segments("train", seg_seconds, seconds, shares)
            for src in segs:
                x = np.concatenate([s for _, _, s in segs[src]])
                idx = self.indices(x)
                for g in range(gm.GROUPS):
                    for s in range(gm.STAGES):
                        counts[g, s] += np.bincount(idx[g, s].numpy(), minlength=gm.CODES)
            weights = 2 * counts + 1
        bits = np.zeros(counts.shape)
        for g in range(gm.GROUPS):
            cdfs = neco_cdf.vq_tables(weights[g], CDF_PRECISION)
            for s in range(gm.STAGES):
                bits[g, s] = CDF_PRECISION - np.log2(np.diff(np.asarray(cdfs[s], dtype=np.float64)))
        self.bits, self.counts = bits, counts
        frames = counts[0, 0].sum()
        print("index counts: %d frames (%.0f s of training speech%s); per-stage entropy "
              "(bits/index, mean of groups): %s" % (
                  frames, frames * gm.HOP / RATE, " (%s)" % weights_file if weights_file else "",
                  " ".join("%.2f" % float(np.mean([self._entropy(counts[g, s]) for g in range(gm.GROUPS)]))
                           for s in range(gm.STAGES))), flush=True)

    @staticmethod
    def _entropy(c):
        p = c[c > 0] / c.sum()
        return float(-(p * np.log2(p)).sum())

    @torch.no_grad()
    def code_levels(self, x, levels):
        """{q: (decoded, {nominal bits, estimated bits})} for one stream."""
        gm = self.gm
        n = len(x)
        z = self.encode(x)
        out = {}
        for q in levels:
            ns = q + gm.MIN_STAGES
            zq, idx, _ = self.model.vq(z, torch.tensor([ns]))
            y = self.model.decode(zq)[0, :n].numpy().astype(np.float32)
            idx = idx[0, :, :ns].numpy()  # (G, ns, T)
            t = idx.shape[-1]
            b = dict(bits=8.0 * gm.GROUPS * ns * t)
            if self.bits is not None:
                b["bits_est"] = float(sum(self.bits[g, s][idx[g, s]].sum()
                                          for g in range(gm.GROUPS) for s in range(ns)))
            out[q] = (y, b)
        return out


# ----------------------------------------------------------------------------------------------
# evaluation

def _summary(name, kind, per_seg, bits, seconds, extra=None):
    r = dict(codec=name, kind=kind, seconds=seconds, segments=len(per_seg),
             kbps=bits["bits"] / seconds / 1000)
    if "bits_est" in bits:
        r["kbps_est"] = bits["bits_est"] / seconds / 1000
    for k in ("si_sdr", "mel", "pesq", "stoi"):
        v = [m[k] for m in per_seg if m[k] is not None]
        r[k] = float(np.mean(v)) if v else None
    by_src = {}
    for m in per_seg:
        by_src.setdefault(m["source"], []).append(m)
    r["sources"] = {s: {k: (float(np.mean([m[k] for m in v if m[k] is not None]))
                            if any(m[k] is not None for m in v) else None)
                        for k in ("si_sdr", "mel", "pesq", "stoi")} for s, v in by_src.items()}
    r["per_segment"] = [{k: m[k] for k in ("source", "clip", "start", "si_sdr", "mel", "pesq", "stoi")}
                        for m in per_seg]  # for paired comparisons between codecs (same order)
    r.update(extra or {})
    return r


def _fmt(v, f):
    return "-" if v is None else f % v


def _print_row(r):
    kb = "%6.2f kbps" % r["kbps"]
    if "kbps_est" in r:
        kb = "%6.2f kbps (nominal %.2f)" % (r["kbps_est"], r["kbps"])
    print("%-16s %-26s SI-SDR %7s dB  mel %5s  PESQ-WB %4s  STOI %5s  (%d segments, %.0f s)" % (
        r["codec"], kb, _fmt(r["si_sdr"], "%.2f"), _fmt(r["mel"], "%.3f"), _fmt(r["pesq"], "%.2f"),
        _fmt(r["stoi"], "%.3f"), r["segments"], r["seconds"]), flush=True)


def evaluate(segs, coders):
    """coders: [(kind, fn(stream) -> {name: (decoded, bits)})]; returns one row per name."""
    rows = []
    for kind, fn in coders:
        t0 = time.time()
        acc = {}
        for src in sorted(segs):
            x = np.concatenate([s for _, _, s in segs[src]])
            for name, (y, bits) in fn(x).items():
                e = acc.setdefault(name, dict(per=[], bits={}, seconds=0.0))
                for k, v in bits.items():
                    e["bits"][k] = e["bits"].get(k, 0.0) + v
                e["seconds"] += len(x) / RATE
                pos = 0
                for clip, start, s in segs[src]:
                    m = speech_metrics(s, y[pos:pos + len(s)])
                    m.update(source=src, clip=clip, start=start)
                    e["per"].append(m)
                    pos += len(s)
        for name, e in acc.items():
            rows.append(_summary(name, kind, e["per"], e["bits"], e["seconds"]))
            _print_row(rows[-1])
        print("  (%s: %.0f s)" % (kind, time.time() - t0), flush=True)
    return rows


def markdown(rows):
    lines = ["| codec | kbps | nominal kbps | SI-SDR (dB) | mel distance | PESQ-WB | STOI |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        est = "kbps_est" in r
        lines.append("| %s | %.2f | %s | %s | %s | %s | %s |" % (
            r["codec"], r["kbps_est"] if est else r["kbps"], "%.1f" % r["kbps"] if est else "",
            _fmt(r["si_sdr"], "%.2f"), _fmt(r["mel"], "%.3f"), _fmt(r["pesq"], "%.2f"), _fmt(r["stoi"], "%.3f")))
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", flush=True)
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    second = ("pesq", "PESQ-WB") if RATE == 16000 else ("si_sdr", "SI-SDR (dB)")
    for ax, key, label in zip(axes, ("mel", second[0]), ("mel distance (DAC, lower is better)", second[1])):
        for kind, style, color in (("torch", "o-", "C0"), ("neco", "s-", "C2"), ("opus", "^-", "C1")):
            rs = [r for r in rows if r["kind"] == kind and r[key] is not None]
            if not rs:
                continue
            model = "aud-grvq" if RATE == 16000 else "aud-grvq-24k"
            name = {"torch": model + " (PyTorch)", "neco": model + " (neco CLI)", "opus": "Opus"}[kind]
            if kind == "torch":
                ax.plot([r["kbps"] for r in rs], [r[key] for r in rs], "o:", color=color, alpha=0.5,
                        label=name + ", nominal rate")
                ax.plot([r["kbps_est"] for r in rs if "kbps_est" in r], [r[key] for r in rs if "kbps_est" in r],
                        style, color=color, label=name + ", entropy-coded rate")
            else:
                ax.plot([r["kbps"] for r in rs], [r[key] for r in rs], style, color=color, label=name)
        ax.set_xlabel("kbps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("held-out 16 kHz speech" if RATE == 16000 else "held-out 24 kHz general audio")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("plot: %s" % path, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", help="PyTorch checkpoint of aud-grvq (train/runs/grvq1/ckpt.pt)")
    ap.add_argument("--neco", help="the neco CLI (build/apps/neco): evaluates the C codec")
    ap.add_argument("--weights", help="weights folder for --neco (default: the CLI's own search)")
    ap.add_argument("--neco-model", default="aud-grvq", help="model id for --neco (default aud-grvq)")
    ap.add_argument("--levels", default=None, help="comma-separated 0-based levels (default 0..6)")
    ap.add_argument("--opus", default="", help="comma-separated Opus bitrates in kbps, e.g. 6,8,12,24")
    ap.add_argument("--seconds-per-clip", type=float, default=4.0, help="segment length (s)")
    ap.add_argument("--total-seconds", type=float, default=180.0,
                    help="seconds of held-out speech per level, split evenly over the sources")
    ap.add_argument("--train-seconds", type=float, default=300.0,
                    help="seconds of training speech whose index histograms give the estimated rate")
    ap.add_argument("--vq-counts", help="take the index counts of the estimated rate from this weights "
                    "file's vq.counts (export_grvq.py) instead of counting them")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--postfilter", default="", help="--ckpt: the formant postfilter g_n,g_d,mu "
                    "(train/postfilter.py) or off (default: the checkpoint's)")
    ap.add_argument("--rate", type=int, default=16000, choices=(16000, 24000),
                    help="16000: aud-grvq on speech; 24000: aud-grvq-24k on general audio")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument("--json", help="write the results (per source too) to this file")
    ap.add_argument("--plot", help="write mel distance and PESQ vs kbps to this image")
    a = ap.parse_args()
    if not (a.ckpt or a.neco or a.opus):
        ap.error("nothing to evaluate: give --ckpt, --neco and/or --opus")
    torch.set_num_threads(a.threads)
    global RATE, ROOT
    RATE, ROOT = a.rate, (SPEECH16 if a.rate == 16000 else GEN24)
    try:
        import pesq  # noqa: F401
        import pystoi  # noqa: F401
    except ImportError:
        sys.exit("PESQ/STOI need `python3 -m pip install pesq pystoi` (scripts/deps.sh)")

    segs = select_segments("valid", a.seconds_per_clip, a.total_seconds)
    what = ", ".join("%s %d x %.0f s" % (s, len(v), a.seconds_per_clip) for s, v in segs.items())
    print("held-out %s: %s" % ("speech" if RATE == 16000 else "audio", what), flush=True)
    coders = []
    meta = dict(segments={s: [(c, int(st)) for c, st, _ in v] for s, v in segs.items()},
                seconds_per_clip=a.seconds_per_clip)
    levels = None
    if a.levels:
        levels = [int(v) for v in a.levels.split(",")]
    if a.ckpt:
        import postfilter
        tg = TorchGrvq(a.ckpt, postfilter.parse(a.postfilter) if a.postfilter else None)
        levels = levels if levels is not None else list(range(tg.gm.Q_LEVELS))
        print("checkpoint %s: step %d, %.1f min trained" % (a.ckpt, tg.step, tg.trained / 60), flush=True)
        meta.update(ckpt=a.ckpt, step=tg.step, trained_seconds=tg.trained)
        tg.train_counts(a.train_seconds, a.seconds_per_clip, a.vq_counts)
        meta.update(vq_counts=a.vq_counts or "training speech, %g s, add-1/2" % a.train_seconds)
        coders.append(("torch", lambda x: {"aud-grvq q%d" % (q + 1): v
                                           for q, v in tg.code_levels(x, levels).items()}))
    if a.neco:
        cli = NecoCli(a.neco, a.weights, a.neco_model, a.threads)
        lv = levels if levels is not None else list(range(7))
        for q in lv:
            coders.append(("neco", lambda x, q=q: {"%s q%d (C)" % (a.neco_model, q + 1): cli.code(x, q)}))
    for k in [int(v) for v in a.opus.split(",") if v]:
        coders.append(("opus", lambda x, k=k: {"Opus %d" % k: opus_code(x, k)}))
    rows = evaluate(segs, coders)
    if a.markdown:
        print()
        print(markdown(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(meta=meta, rows=rows), f, indent=1)
    if a.plot:
        plot(rows, a.plot)


if __name__ == "__main__":
    main()
