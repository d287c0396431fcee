#!/usr/bin/env python3
"""The training objective of image checkpoints on fixed crops: lambda_q * MSE(0..255) + bpp of the
training forward pass (noisy rates, the same noise for every checkpoint), averaged over the
quality levels, on 48 training crops (train/cache/crops128.npy) and 24 validation crops (128x128
from the middle of the first 24 CBSD68 images).  Quick (about 20 s per checkpoint on one thread)
and fine enough to tell which parameters' drift costs (weights/MODELS.md, img-swin).

  python3 train/proxy_loss.py train/checkpoints/img-wave.pt train/checkpoints/img-swin.pt
"""
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_image import build_model  # noqa: E402
from eval_image import VALID  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    st = torch.load(path, map_location="cpu", weights_only=False)
    m, _ = build_model(st["model_name"], st["config"], st["model"])
    m.load_state_dict(st["model"])
    m.h_s.quant = bool(st.get("hs_quant"))
    if m.ctx is not None:
        m.ctx.quant = bool(st.get("ctx_quant"))
    return m.eval(), st["lambdas"]


def crops():
    c = np.load(os.path.join(HERE, "cache", "crops128.npy"), mmap_mode="r")
    sel = np.sort(np.random.default_rng(0).choice(len(c), 48, replace=False))
    train = torch.from_numpy(np.asarray(c[sel])).permute(0, 3, 1, 2).float() / 255
    va = [np.array(Image.open(os.path.join(VALID, f)).convert("RGB"))[96:224, 96:224]
          for f in sorted(os.listdir(VALID))[:24]]
    return train, torch.from_numpy(np.stack(va)).permute(0, 3, 1, 2).float() / 255


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    torch.set_num_threads(1)
    sets = crops()
    for path in sys.argv[1:]:
        m, lambdas = load(path)
        out = []
        for name, x in zip(("train", "valid"), sets):
            tot = 0.0
            for q in range(len(lambdas)):
                torch.manual_seed(q)
                with torch.no_grad():
                    x_hat, bits_y, bits_z = m(x, q)
                mse = ((x_hat - x) * 255).pow(2).mean()
                tot += float(lambdas[q] * mse + (bits_y + bits_z) / (x.shape[0] * x.shape[2] * x.shape[3]))
            out.append("%s %.5f" % (name, tot / len(lambdas)))
        print(os.path.basename(path), *out, flush=True)


if __name__ == "__main__":
    main()
