#!/usr/bin/env python3
"""Does aud-grvq's high band cost PESQ-WB?  Decodes the held-out speech (eval_grvq.py's 45
segments) at level q7 with a checkpoint, then attenuates the output above a corner frequency (a
500 Hz linear ramp in the FFT domain) and reports PESQ-WB, mel distance, SI-SDR and STOI per
setting.  A measurement behind weights/MODELS.md (aud-grvq), not part of the codec.

  python3 train/pesq_shelf.py [train/checkpoints/aud-grvq.pt]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval_grvq as E  # noqa: E402

CONFIGS = [(None, 0), (4000, -6), (4000, -12), (4000, -40), (5000, -12), (6000, -12)]


def shelf(y, fc, gain_db):
    f = np.fft.rfftfreq(len(y), 1 / E.RATE)
    g = 1 + (10 ** (gain_db / 20) - 1) * np.clip((f - (fc - 250)) / 500, 0, 1)
    return np.fft.irfft(np.fft.rfft(y) * g, n=len(y)).astype(np.float32)


def main():
    torch.set_num_threads(1)
    ckpt = sys.argv[1] if len(sys.argv) > 1 else os.path.join(E.HERE, "checkpoints", "aud-grvq.pt")
    segs = E.select_segments("valid", 4.0, 180.0)
    tg = E.TorchGrvq(ckpt)
    res = {c: [] for c in CONFIGS}
    for src in sorted(segs):
        x = np.concatenate([s for _, _, s in segs[src]])
        y, _ = tg.code_levels(x, [6])[6]
        for c in CONFIGS:
            yy = y if c[0] is None else shelf(y, *c)
            pos = 0
            for _, _, s in segs[src]:
                res[c].append(E.speech_metrics(s, yy[pos:pos + len(s)]))
                pos += len(s)
    for c in CONFIGS:
        m = [np.mean([r[k] for r in res[c] if r[k] is not None]) for k in ("pesq", "mel", "si_sdr", "stoi")]
        name = "as decoded" if c[0] is None else "%+d dB above %d Hz" % (c[1], c[0])
        print("%-22s PESQ-WB %.3f  mel %.3f  SI-SDR %.2f  STOI %.3f" % (name, *m), flush=True)


if __name__ == "__main__":
    main()
