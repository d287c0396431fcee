#!/usr/bin/env python3
"""Pack the training photos into a small folder that can be carried to a lent GPU machine
(the device tool carries at most 64 MiB with the repository), and load such a pack.

  python3 train/pack_images.py --out train/cache/gpu_pack        # about 50 MiB

Same sources and treatment as prepare_data.py (the validation set is never read):
  * bsds500   JPEG q~95, 481x321: the original files, copied unchanged.
  * urban100  PNG ~1024 px: re-encoded as JPEG q90 4:4:4; the loader also adds a 0.5x copy.
  * sunhays80 JPEG q~75, 1024x768: downscaled 2x (Lanczos), then JPEG q90 4:4:4.
JPEG q90 4:4:4 re-encoding keeps about 40 dB PSNR, above the best quality level.
The loader returns whole images (uint8 HxWx3); training cuts random crops from them, so a
run sees far more distinct crops than a fixed crop file of the same size holds.
"""
import argparse
import glob
import os
import shutil

import numpy as np
from PIL import Image


def pack(data, out, quality):
    os.makedirs(out, exist_ok=True)
    root = os.path.join(data, "img", "train")
    n = 0
    for p in sorted(glob.glob(os.path.join(root, "bsds500", "*.jpg"))):
        shutil.copyfile(p, os.path.join(out, "bsds_" + os.path.basename(p)))
        n += 1
    for p in sorted(glob.glob(os.path.join(root, "urban100", "*"))):
        im = Image.open(p).convert("RGB")
        im.save(os.path.join(out, "urban_" + os.path.splitext(os.path.basename(p))[0] + ".jpg"),
                quality=quality, subsampling=0)
        n += 1
    for p in sorted(glob.glob(os.path.join(root, "sunhays80", "*"))):
        im = Image.open(p).convert("RGB")
        w, h = im.size
        im = im.resize((w // 2, h // 2), Image.LANCZOS)
        im.save(os.path.join(out, "sun_" + os.path.splitext(os.path.basename(p))[0] + ".jpg"),
                quality=quality, subsampling=0)
        n += 1
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print("packed %d images into %s: %.1f MiB" % (n, out, size / 2**20))


def load_pack(folder, min_side=128):
    """Whole images of a pack (uint8 HxWx3), urban100 also at 0.5x."""
    imgs = []
    for p in sorted(glob.glob(os.path.join(folder, "*.jpg"))):
        im = Image.open(p).convert("RGB")
        arrs = [np.asarray(im, dtype=np.uint8)]
        if os.path.basename(p).startswith("urban_"):
            w, h = im.size
            arrs.append(np.asarray(im.resize((w // 2, h // 2), Image.LANCZOS), dtype=np.uint8))
        imgs.extend(a for a in arrs if min(a.shape[:2]) >= min_side)
    return imgs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "cache", "gpu_pack"))
    ap.add_argument("--quality", type=int, default=90)
    a = ap.parse_args()
    pack(a.data, a.out, a.quality)


if __name__ == "__main__":
    main()
