#!/usr/bin/env python3
"""PESQ-WB of aud-grvq's output (PyTorch, one level) under formant postfilters (postfilter.py):
how the shipped parameters were chosen, on TRAINING speech (not the held-out set).

  python3 train/postfilter_grid.py [--ckpt train/checkpoints/aud-grvq.pt] [--split train]
      [--level 6] [G_N,G_D,MU ...]

Segments: eval_grvq.select_segments(split, 4 s, 180 s) (the training split with the training
sampler's source shares), each source's segments coded as one stream with the checkpoint's
network and no postfilter; then each postfilter on each segment's decoded samples and PESQ-WB
against the original, averaged.  Default grid: g_n 0.5..0.65 x g_d 0.7/0.75 x mu 0/-0.15/-0.3,
and the postfilter off.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval_grvq as E  # noqa: E402
import postfilter  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=os.path.join(E.HERE, "checkpoints", "aud-grvq.pt"))
    ap.add_argument("--split", default="train", choices=("train", "valid"))
    ap.add_argument("--level", type=int, default=6, help="0-based quality level (default 6: q7)")
    ap.add_argument("configs", nargs="*", help="g_n,g_d,mu triples (default: the grid above)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    from pesq import pesq
    configs = [postfilter.parse(c) for c in a.configs] or [()] + [
        (gn, gd, mu) for gd in (0.7, 0.75) for gn in (0.5, 0.55, 0.6, 0.65) for mu in (0.0, -0.15, -0.3)]
    coder = E.TorchGrvq(a.ckpt, postfilter=())
    segs = E.select_segments(a.split, 4.0, 180.0, E.TRAIN_SHARES if a.split == "train" else None)
    pairs = []
    for src in sorted(segs):
        y = coder.code_levels(np.concatenate([s for _, _, s in segs[src]]), [a.level])[a.level][0]
        pos = 0
        for _, _, s in segs[src]:
            pairs.append((s, y[pos:pos + len(s)]))
            pos += len(s)
    print("%d segments of %s speech, level q%d" % (len(pairs), a.split, a.level + 1), flush=True)
    for cfg in configs:
        v = []
        for s, y in pairs:
            z = postfilter.apply(torch.from_numpy(y)[None], *cfg)[0].numpy() if cfg else y
            v.append(pesq(16000, s.astype(np.float64), z.astype(np.float64), "wb"))
        print("%-20s PESQ-WB %.3f" % (",".join("%g" % c for c in cfg) or "off", float(np.mean(v))), flush=True)


if __name__ == "__main__":
    main()
