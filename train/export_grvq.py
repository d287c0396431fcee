#!/usr/bin/env python3
"""Export a trained aud-grvq checkpoint to weights/aud-grvq.safetensors (layout: ARCH_AUDIO.md
"aud-grvq").

  python3 train/export_grvq.py train/runs/grvq1/ckpt.pt [--out weights/aud-grvq.safetensors]
  python3 train/export_grvq.py --rate 24000 train/runs/grvq24/ckpt.pt   # weights/aud-grvq-24k.safetensors

--rate 24000 exports the 24 kHz general-audio model, aud-grvq-24k (the same network and layout;
metadata model "aud-grvq-24k", sample_rate 24000; counts and nominal rates measured on the 24 kHz
general audio of audio_data.GEN24, the held-out part as its mid channel).

Conv weights, Snake alphas and the codebooks are stored as F16 (the C loader widens them to
float; `rounded_model` gives the PyTorch model with the same rounded values, which the fixtures
and the evaluation use).  Two scales of the training graph are folded into the weights: the
encoder's x4 on the wavelet coefficients into enc_in.weight, the decoder's x1/4 on its output
into dec_out (both powers of two: exact).  vq.counts holds, per (group, stage), how often each
codeword was chosen on training crops (all stages active): the C decoder builds the index
tables from them (BITSTREAM.md 2.5).  nominal_kbps (metadata) is the entropy-coded rate per
level measured here on the held-out speech with those tables.  The checkpoint's formant
postfilter (train/postfilter.py; --postfilter overrides it) goes into the metadata `postfilter`
"g_n,g_d,mu", and `margin_frames` covers its reach (5 frames with it, 4 without).
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grvq_models as gm  # noqa: E402
import neco_cdf  # noqa: E402
import postfilter  # noqa: E402
from export import canonical_header  # noqa: E402
from audio_data import GEN24, SPEECH16, CropSampler, clips  # noqa: E402

FORMAT_VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
CHUNK = 131072  # frames per chunk (at the stream's rate)
RF_BASE = 78  # the decoder's receptive field per side, in 1 kHz samples (3.9 latent frames)
PRECISION = 20  # NECO_CDF_PRECISION


def margin_frames(postfilter):
    """Latent frames coded on each side of a chunk's span: the decoder's receptive field (20
    samples at 1 kHz per latent frame; the postfilter adds one frame), rounded up."""
    return -(-(RF_BASE + (20 if postfilter else 0)) // 20)


def load(path):
    st = torch.load(path, map_location="cpu", weights_only=False)
    m = gm.AudGrvq(st.get("postfilter", ()))
    m.load_state_dict(st["model"])
    m.eval()
    return m, st


@torch.no_grad()
def rounded_model(model):
    """The model with every float parameter and the codebooks rounded to F16, as exported (the
    export's folding of the x4 and x1/4 scales into F16 weights is exact: powers of two)."""
    m = copy.deepcopy(model)
    for p in m.parameters():
        p.copy_(p.half().float())
    m.vq.codebook.copy_(m.vq.codebook.half().float())
    return m


def tensors(model):
    T = {}
    for name, p in model.named_parameters():
        v = p.detach().clone()
        if name == "enc_in.weight":
            v = v * 4.0
        if name.startswith("dec_out."):
            v = v * 0.25
        T[name] = np.ascontiguousarray(v.half().numpy())
    T["vq.codebook"] = np.ascontiguousarray(model.vq.codebook.half().numpy())
    return T


@torch.no_grad()
def index_counts(model, rate=16000, seconds=240, seed=1):
    """(G S, K) counts of the codewords chosen on `seconds` of training crops, all stages on
    (one-second crops from train_audio.py's sampler of that rate)."""
    if rate == 16000:
        sampler = CropSampler("train", rate, seed=seed, root=SPEECH16,
                              shares={"emodb": 0.4, "klettres": 0.3, "ktuberling": 0.3})
    else:
        sampler = CropSampler("train", rate // gm.HOP * gm.HOP, seed=seed, root=GEN24)
    counts = np.zeros((gm.GROUPS * gm.STAGES, gm.CODES), np.int64)
    for _ in range(seconds // 16):
        x = torch.from_numpy(sampler.batch(16))
        z = model.encode(x)
        _, idx, _ = model.vq(z, torch.full((16,), gm.STAGES))
        idx = idx.numpy()  # (N, G, S, T)
        for g in range(gm.GROUPS):
            for s in range(gm.STAGES):
                counts[g * gm.STAGES + s] += np.bincount(idx[:, g, s].reshape(-1), minlength=gm.CODES)
    return counts


def bits_per_index(counts):
    """-log2 of each codeword's probability in the exported tables (BITSTREAM.md 2.5)."""
    out = []
    for cdf in neco_cdf.vq_tables(counts.tolist(), PRECISION):
        f = np.diff(np.array(cdf, dtype=np.float64))
        out.append(PRECISION - np.log2(f))
    return np.stack(out)  # (G S, K)


@torch.no_grad()
def nominal_kbps(model, counts, rate=16000, seconds=120):
    bits = bits_per_index(counts)
    per_level = np.zeros(gm.Q_LEVELS)
    total = 0.0
    for _, _, a in clips("valid", SPEECH16 if rate == 16000 else GEN24):
        x = torch.from_numpy(np.asarray(a[: seconds * rate], dtype=np.float32).mean(axis=1) / 32768)
        n = x.shape[0] // gm.HOP * gm.HOP
        z = model.encode(x[None, :n])
        _, idx, _ = model.vq(z, torch.full((1,), gm.STAGES))
        idx = idx[0].numpy()
        total += n / rate
        for q in range(gm.Q_LEVELS):
            for g in range(gm.GROUPS):
                for s in range(q + gm.MIN_STAGES):
                    per_level[q] += bits[g * gm.STAGES + s][idx[g, s]].sum()
    return [round(float(v) / total / 1000, 2) for v in per_level]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("--rate", type=int, default=16000, choices=(16000, 24000))
    ap.add_argument("--out", default=None, help="default weights/aud-grvq.safetensors (24000: aud-grvq-24k)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--postfilter", default="", help="g_n,g_d,mu of the formant postfilter (default: the "
                    "checkpoint's), or off")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model_id = "aud-grvq" if a.rate == 16000 else "aud-grvq-24k"
    out = a.out or os.path.join(ROOT, "weights", model_id + ".safetensors")
    model, st = load(a.ckpt)
    if a.postfilter:
        model.postfilter = postfilter.parse(a.postfilter)
    if st.get("rate", 16000) != a.rate:
        sys.exit("%s was trained at %d Hz, not %d" % (a.ckpt, st.get("rate", 16000), a.rate))
    model = rounded_model(model)
    counts = index_counts(model, a.rate)
    T = tensors(model)
    T["vq.counts"] = counts.astype(np.int32)
    kbps = nominal_kbps(model, counts, a.rate)
    meta = dict(model=model_id, format_version=str(FORMAT_VERSION), wavelet="bior4.4",
                wavelet_levels=str(gm.LEVELS), subbands=str(gm.NW), sample_rate=str(a.rate),
                hop=str(gm.HOP), latent_channels=str(gm.DIM), groups=str(gm.GROUPS), stages=str(gm.STAGES),
                codebook_size=str(gm.CODES), min_stages=str(gm.MIN_STAGES), quality_levels=str(gm.Q_LEVELS),
                chunk_frames=str(CHUNK), margin_frames=str(margin_frames(model.postfilter)), cdf_precision=str(PRECISION),
                nominal_kbps=json.dumps(kbps),
                decoder_macs_per_second=str(int(model.decoder_macs_per_second(a.rate))),
                **(dict(postfilter=",".join(repr(v) for v in model.postfilter)) if model.postfilter else {}),
                trained_steps=str(st["step"]), trained_minutes="%.1f" % (st["trained_seconds"] / 60))
    save_file(T, out, metadata=meta)
    canonical_header(out)
    print("wrote %s: %d tensors, %.1f KiB; nominal kbps (held-out %s) %s" % (
        out, len(T), os.path.getsize(out) / 1024, "speech" if a.rate == 16000 else "audio", kbps))


if __name__ == "__main__":
    main()
