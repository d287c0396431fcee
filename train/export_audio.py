#!/usr/bin/env python3
"""Export a trained aud-wave checkpoint to weights/aud-wave.safetensors (layout: ARCH_AUDIO.md)
and write the C agreement fixture tests/data/aud_wave/agreement.safetensors.

  python3 train/export_audio.py train/runs/aud-wave/ckpt.pt [--out weights/aud-wave.safetensors]

The encoder is stored as a 1x1 conv1d weight, the decoder as plain conv1d weights, the gains as
(Q, C) float32, and the factorized density of y as CompressAI-layout int32 CDF tables built by
train/neco_cdf.py (the Python twin of the C construction, BITSTREAM.md 2.2).  The metadata
entry nominal_kbps is measured here, on the held-out stereo music (mid/side coded, chunked as
the codec does) with the exported tables, for the codec's --kbps mapping.

The fixture holds a deterministic synthetic stereo signal (no dataset audio is committed), the
symbols PyTorch's encoder gives for its first chunk at two quality levels and PyTorch's decoded
output; tests/test_aud_wave.c checks the C codec against them.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio_models as am  # noqa: E402
import coding  # noqa: E402
import eval_audio as ev  # noqa: E402

FORMAT_VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def f32(t):
    return np.ascontiguousarray(t.detach().cpu().float().numpy())


def export_aud_wave(model):
    T = {}

    def conv(name, m):
        T[name + ".weight"] = f32(m.weight)
        if m.bias is not None:
            T[name + ".bias"] = f32(m.bias)

    T["enc.weight"] = f32(model.enc[:, :, None])
    T["gain"] = f32(torch.exp(model.log_gain))
    T["inv_gain"] = f32(torch.exp(-model.log_gain))
    T["res_gain"] = f32(model.res_gain)
    cdfs, lengths, offsets = coding.flatten(coding.factorized_tables(model.prior))
    T["y.cdf"], T["y.cdf_length"], T["y.offset"] = cdfs, lengths, offsets
    conv("dec.lin", model.dec_lin)
    conv("dec.conv_in", model.dec_in)
    for i, b in enumerate(model.blocks):
        conv("dec.block%d.conv" % i, b.conv)
        conv("dec.block%d.pw" % i, b.pw)
    conv("dec.conv_out", model.dec_out)
    return T


def synthetic_stereo(frames, seed=7):
    """A deterministic music-like test signal, int16 (frames, 2): two detuned harmonic tones
    with vibrato, a decaying noise burst every 0.25 s and a quiet high partial."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / am.RATE
    tone = lambda f0: sum(0.5 / k * np.sin(2 * np.pi * f0 * k * t + 0.3 * np.sin(2 * np.pi * 5 * t)) for k in range(1, 8))
    env = np.exp(-((t % 0.25) * 30))
    noise = rng.standard_normal(frames) * env * 0.15
    hi = 0.02 * np.sin(2 * np.pi * 12500 * t)
    left = 0.25 * tone(220.0) + noise + hi
    right = 0.25 * tone(277.2) + 0.7 * noise + hi
    a = np.stack([left, right], 1)
    return np.clip(np.round(a * 32767 * 0.9), -32768, 32767).astype(np.int16)


@torch.no_grad()
def agreement_fixture(model, path, frames=8192, levels=(0, None)):
    x16 = synthetic_stereo(frames)
    a = x16.astype(np.float32) / 32768
    T = {"input": x16}
    meta = {"frames": str(frames), "levels": ""}
    used = []
    for q in levels:
        q = model.q_levels - 1 if q is None else q
        used.append(q)
        sigs = ev.coded_channels(a)
        first, count, start, length = ev.chunk_windows(frames)[0]
        xs = torch.from_numpy(np.stack([ev.window(s, start, length) for s in sigs]))
        y_hat = torch.round(model.analysis(xs, q))
        sym = y_hat.numpy()
        if np.abs(sym).max() > 32767:
            raise SystemExit("fixture symbols exceed int16")
        T["symbols_q%d" % q] = np.ascontiguousarray(sym, dtype=np.int16)  # y is strided (c, n, t) in memory
        dec, _ = ev.code(model, a, q, coding.BitCounter(coding.factorized_tables(model.prior)))
        T["decoded_q%d" % q] = dec.astype(np.float32)
    meta["levels"] = ",".join(str(q) for q in used)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file(T, path, metadata=meta)


@torch.no_grad()
def nominal_kbps(model, seconds=30):
    counter = coding.BitCounter(coding.factorized_tables(model.prior))
    music = [(s, n, a) for s, n, a in ev.valid_set(seconds) if s == "wesnoth"]
    out = []
    for q in range(model.q_levels):
        bits = dur = 0.0
        for _, _, a in music:
            _, b = ev.code(model, a, q, counter)
            bits += b
            dur += a.shape[0] / am.RATE
        out.append(round(bits / dur / 1000, 1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("--out", default=os.path.join(ROOT, "weights", "aud-wave.safetensors"))
    ap.add_argument("--fixture", default=os.path.join(ROOT, "tests", "data", "aud_wave", "agreement.safetensors"))
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, st = ev.load_model(a.ckpt)
    T = export_aud_wave(model)
    kbps = nominal_kbps(model)
    lam = torch.exp(st["log_lam"]).tolist()
    meta = dict(model="aud-wave", format_version=str(FORMAT_VERSION), wavelet="bior4.4",
                wavelet_levels=str(am.LEVELS), subbands=str(am.NW), latent_channels=str(model.latent),
                hidden_channels=str(model.hidden), residual_blocks=str(len(model.blocks)),
                quality_levels=str(model.q_levels), sample_rates="44100,48000",
                chunk_frames=str(ev.CHUNK), margin=str(ev.MARGIN), cdf_precision=str(coding.PRECISION),
                nominal_kbps=json.dumps(kbps), target_kbps_per_channel=json.dumps(list(am.TARGET_KBPS)),
                lambdas=json.dumps([round(v, 3) for v in lam]),
                decoder_macs_per_frame=str(model.decoder_macs_per_frame()),
                trained_steps=str(st["step"]), trained_minutes="%.1f" % (st["trained_seconds"] / 60))
    save_file(T, a.out, metadata=meta)
    agreement_fixture(model, a.fixture)
    # a weights file with the right metadata and a wrongly shaped tensor (the loader must name it)
    bad = os.path.join(os.path.dirname(a.fixture), "bad_shape")
    os.makedirs(bad, exist_ok=True)
    save_file({"enc.weight": np.zeros((model.latent, am.NW, 3), np.float32)}, os.path.join(bad, "aud-wave.safetensors"),
              metadata=meta)
    print("wrote %s: %d tensors, %.1f KiB; nominal kbps (stereo music) %s; fixture %s" % (
        a.out, len(T), os.path.getsize(a.out) / 1024, kbps, a.fixture))


if __name__ == "__main__":
    main()
