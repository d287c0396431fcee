#!/usr/bin/env python3
"""Agreement fixtures of the C aud-grvq codec with PyTorch (issue 7, "Agreement with training").

Writes a deterministic speech-like test signal (no dataset audio is committed), encodes it with
the C `neco` CLI at the lowest and the highest level, then decodes those SAME streams in Python
from the specifications alone (neco_container.py for the container, neco_cdf.RansDecoder and
vq_tables for the index coding of BITSTREAM.md 2.5/3.4) and PyTorch's model (grvq_models.py)
with the weights of the file.  Writes, per level q in (1, Q):
  tests/data/aud_grvq/q{q}.neco     the stream (made by C)
  tests/data/aud_grvq/q{q}.sym      int32 LE: the indices Python decodes, in coding order
  tests/data/aud_grvq/q{q}.pt.f32   float32 LE: the samples PyTorch decodes from them
and tests/data/aud_grvq/speech.wav (the input).  tests/test_aud_grvq.c requires the C decoder's
indices to be identical and its samples within the tolerance stated in ARCH_AUDIO.md.  It also
prints how many of C's (non-normative) encoder indices PyTorch's encoder reproduces.

usage: python3 train/make_grvq_fixture.py path/to/neco [weights/aud-grvq.safetensors]
       python3 train/make_grvq_fixture.py --rate 24000 path/to/neco    # aud-grvq-24k:
           tests/data/aud_grvq_24k/ from weights/aud-grvq-24k.safetensors, the same signal at 24 kHz
Rerun it whenever weights/aud-grvq.safetensors (or aud-grvq-24k's) changes."""
import argparse
import os
import subprocess
import sys
import wave

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grvq_models as gm  # noqa: E402
import neco_cdf  # noqa: E402
import neco_container  # noqa: E402
import postfilter  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "aud_grvq")
MARGIN = 4  # the weights' margin_frames (model_from_file sets it)
ENC_CONTEXT = 6


def speech_like(seconds=1.5, rate=gm.RATE, seed=3):
    """Voiced syllables (harmonics of a gliding 110-210 Hz pitch under three moving formants, 4
    per second) and short noise bursts (fricatives) between them: int16 mono."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = 160 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    formants = [(700 + 200 * np.sin(2 * np.pi * 1.3 * t), 90), (1200 + 400 * np.sin(2 * np.pi * 0.9 * t), 110),
                (2600 + 150 * np.sin(2 * np.pi * 2.1 * t), 160)]
    voiced = np.zeros(n)
    for k in range(1, 40):
        fk = k * f0
        amp = sum(np.exp(-0.5 * ((fk - fc) / bw) ** 2) for fc, bw in formants) / k ** 0.5
        voiced += amp * np.sin(k * phase) * (fk < rate / 2)
    syll = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.7
    noise = rng.standard_normal(n)
    noise = noise - np.concatenate([[0], noise[:-1]]) * 0.9  # tilt towards high frequencies
    burst = np.clip(-np.sin(2 * np.pi * 4 * t), 0, None) ** 4
    x = 0.12 * voiced * syll + 0.04 * noise * burst
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def model_from_file(path):
    global MARGIN
    W = load_file(path)
    with safe_open(path, "np") as f:
        meta = f.metadata()
    MARGIN = int(meta["margin_frames"])
    m = gm.AudGrvq(postfilter.parse(meta.get("postfilter", "")))
    sd = {}
    for name, p in m.named_parameters():
        v = torch.from_numpy(W[name].astype(np.float32))
        if name == "enc_in.weight":
            v = v / 4.0
        if name.startswith("dec_out."):
            v = v * 4.0
        sd[name] = v
    m.load_state_dict(sd, strict=False)
    m.vq.codebook.copy_(torch.from_numpy(W["vq.codebook"].astype(np.float32)))
    m.eval()
    return m, W


def window(c, i):
    """(t0, T, a): the coded latent frames of chunk i of a stream at the model's rate and its first
    sample."""
    first, count = c.chunk_span(i)
    t0 = first // gm.HOP - MARGIN
    t1 = -(-(first + count) // gm.HOP) + MARGIN
    return t0, t1 - t0, first, count


def decode_indices(c, W, i):
    t0, T, _, _ = window(c, i)
    tables = neco_cdf.vq_tables(W["vq.counts"].tolist(), 20)
    S = c.quality - 1 + gm.MIN_STAGES
    d = neco_cdf.RansDecoder(c.units[i])
    sym = []
    for _ in range(c.channels):
        for g in range(gm.GROUPS):
            for s in range(S):
                cdf = tables[g * gm.STAGES + s]
                sym += [d.symbol(cdf, 0, False) for _ in range(T)]
    if not d.finish():
        raise SystemExit("the Python decoder finds the stream incomplete")
    return np.array(sym, dtype=np.int32).reshape(c.channels, gm.GROUPS, S, T)


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("neco")
    ap.add_argument("weights", nargs="?")
    ap.add_argument("--rate", type=int, default=16000, choices=(16000, 24000))
    a = ap.parse_args()
    neco, rate = a.neco, a.rate
    model_id = "aud-grvq" if rate == 16000 else "aud-grvq-24k"
    weights = a.weights or os.path.join(HERE, "..", "weights", model_id + ".safetensors")
    out_dir = OUT if rate == 16000 else OUT + "_24k"
    os.makedirs(out_dir, exist_ok=True)
    model, W = model_from_file(weights)
    with safe_open(weights, "np") as f:
        q_levels = int(f.metadata()["quality_levels"])
    x = speech_like(rate=rate)
    wav = os.path.join(out_dir, "speech.wav")
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.astype("<i2").tobytes())
    env = dict(os.environ, NECO_WEIGHTS_DIR=os.path.dirname(os.path.abspath(weights)))
    for q in (1, q_levels):
        path = os.path.join(out_dir, "q%d.neco" % q)
        subprocess.run([neco, "encode", wav, path, "--model", model_id, "--quality", str(q), "--quiet"],
                       check=True, env=env)
        c = neco_container.Container(open(path, "rb").read())
        assert c.model == model_id and len(c.units) == 1
        idx = decode_indices(c, W, 0)
        t0, T, first, count = window(c, 0)
        S = idx.shape[2]
        zq = model.vq.decode(torch.from_numpy(idx.astype(np.int64)), S)
        y = model.decode(zq)[0]
        out = y[first - t0 * gm.HOP: first - t0 * gm.HOP + count].numpy().astype("<f4")
        idx.astype("<i4").tofile(os.path.join(out_dir, "q%d.sym" % q))
        out.tofile(os.path.join(out_dir, "q%d.pt.f32" % q))
        # PyTorch's encoder on the same window, for the record (the encoder is non-normative)
        xs = np.zeros((T + 2 * ENC_CONTEXT) * gm.HOP, np.float32)
        lo = (t0 - ENC_CONTEXT) * gm.HOP
        xf = x.astype(np.float32) / 32768
        xs[-lo: -lo + len(xf)] = xf
        z = model.encode(torch.from_numpy(xs)[None])[:, :, ENC_CONTEXT:ENC_CONTEXT + T]
        _, pidx, _ = model.vq(z, torch.full((1,), S))
        same = float((pidx[0, :, :S].numpy() == idx[0]).mean())
        print("q%d: %d indices, %d frames; PyTorch's encoder picks the same index as C's for %.2f %%" % (
            q, idx.size, T, 100 * same))


if __name__ == "__main__":
    main()
