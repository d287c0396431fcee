#!/usr/bin/env python3
"""Cut training crops for the image models from ../shared/data (see its README.md).

Sources and treatment (the data README asks for it):
  * bsds500   JPEG q~95, 481x321: used at 1x (q95 artefacts are below the noise floor).
  * urban100  PNG ~1024 px: used at 1x and also at 0.5x (more scale diversity).
  * sunhays80 JPEG q~75, 1024x768: downscaled 2x (Lanczos) to hide the JPEG artefacts.
  * extra     any folder given with --extra (e.g. photos unpacked by fetch_debian_photos.sh),
              downscaled so the short side is <= --extra-short.
The validation set (img/valid/cbsd68) is never read here.

Output: a uint8 array (N, S, S, 3) in train/cache/, shuffled with a fixed seed.
"""
import argparse
import glob
import os

import numpy as np
from PIL import Image


def load(path, scale):
    im = Image.open(path).convert("RGB")
    if scale != 1.0:
        w, h = im.size
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def crops_of(img, size, per_mpix, rng, min_crops=1):
    h, w, _ = img.shape
    if h < size or w < size:
        return []
    n = max(min_crops, int(round(per_mpix * h * w / 1e6)))
    out = []
    for _ in range(n):
        y = rng.integers(0, h - size + 1)
        x = rng.integers(0, w - size + 1)
        out.append(img[y:y + size, x:x + size])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    ap.add_argument("--size", type=int, default=128, help="crop side in pixels")
    ap.add_argument("--density", type=float, default=1.0,
                    help="crops per (size/128)^-2 per 10^5 pixels-ish: crops per Mpixel = density*1e6/size^2")
    ap.add_argument("--extra", action="append", default=[], help="extra folder(s) of photos")
    ap.add_argument("--extra-short", type=int, default=768, help="short side after downscaling extra photos")
    ap.add_argument("--max-mb", type=float, default=0, help="cap the output size (e.g. 60 for a GPU carry)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "cache", "crops128.npy"))
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    per_mpix = a.density * 1e6 / (a.size * a.size)
    img_root = os.path.join(a.data, "img", "train")
    jobs = []  # (path, scale)
    for p in sorted(glob.glob(os.path.join(img_root, "bsds500", "*"))):
        jobs.append((p, 1.0))
    for p in sorted(glob.glob(os.path.join(img_root, "urban100", "*"))):
        jobs.append((p, 1.0))
        jobs.append((p, 0.5))
    for p in sorted(glob.glob(os.path.join(img_root, "sunhays80", "*"))):
        jobs.append((p, 0.5))
    for d in a.extra:
        for p in sorted(glob.glob(os.path.join(d, "**", "*"), recursive=True)):
            if p.lower().endswith((".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")):
                with Image.open(p) as im:
                    short = min(im.size)
                jobs.append((p, min(1.0, a.extra_short / short)))

    crops = []
    counts = {}
    for p, s in jobs:
        try:
            img = load(p, s)
        except Exception as e:  # unreadable file: report and continue
            print("skip", p, e)
            continue
        c = crops_of(img, a.size, per_mpix, rng)
        key = os.path.basename(os.path.dirname(p))
        counts[key] = counts.get(key, 0) + len(c)
        crops.extend(c)
    arr = np.stack(crops)
    arr = arr[rng.permutation(len(arr))]
    if a.max_mb > 0:
        n = int(a.max_mb * 2**20 // (a.size * a.size * 3))
        arr = arr[:n]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    np.save(a.out, arr)
    print("crops per source:", counts)
    print("wrote", a.out, arr.shape, "%.1f MiB" % (arr.nbytes / 2**20))


if __name__ == "__main__":
    main()
