"""Writes tests/data/nets/lifting97.bin: a random (1, 3, 16, 24) image and its 2-level wavelet
packet by train/wavelet.py (the training-side definition), for the C test of
nets/lifting97.c.  Format: float32 little-endian, x (1152 values) then y (1152 values)."""
import os

import numpy as np
import torch

from wavelet import wpt2

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(97)
x = (torch.rand(1, 3, 16, 24, generator=g, dtype=torch.float64) * 255 - 127.5)
y = wpt2(x, 2)
out = os.path.join(here, "..", "tests", "data", "nets", "lifting97.bin")
with open(out, "wb") as f:
    f.write(x.numpy().astype("<f4").tobytes())
    f.write(y.numpy().astype("<f4").tobytes())
print("wrote", out, y.shape)
