#!/usr/bin/env python3
"""RD anchors on the validation set and Bjontegaard deltas against them.

  python3 train/anchors.py --out train/cache/anchors.json          # WebP and AVIF RD curves
  python3 train/anchors.py --bd train/cache/eval_wave.json          # BD-rate of a model

WebP: Pillow's libwebp encoder with method=6 (the effort of `cwebp -m 6`), lossy, q sweep.
AVIF: Pillow's libavif encoder, 4:4:4 (subsampling="4:4:4"), speed 6, q sweep.
Rates are the sizes of the encoded files in bits per pixel; PSNR-RGB is computed on the
decoded 8-bit images, averaged over images like eval_image.py.  BD-rate: Bjontegaard
(VCEG-M33) with piecewise-cubic (PCHIP) interpolation of log-rate over PSNR, on the
overlapping PSNR interval.
"""
import argparse
import io
import json
import math
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VALID = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "img", "valid", "cbsd68")


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def curve(images, fmt, qualities):
    pts = []
    for q in qualities:
        bpps, ps = [], []
        for img in images:
            buf = io.BytesIO()
            im = Image.fromarray(img)
            if fmt == "webp":
                im.save(buf, "WEBP", quality=q, method=6)
            else:
                im.save(buf, "AVIF", quality=q, subsampling="4:4:4", speed=6)
            n = buf.tell()
            buf.seek(0)
            dec = np.asarray(Image.open(buf).convert("RGB"))
            bpps.append(8 * n / (img.shape[0] * img.shape[1]))
            ps.append(psnr(dec, img))
        pts.append(dict(quality=q, bpp=float(np.mean(bpps)), psnr=float(np.mean(ps))))
        print(fmt, pts[-1], flush=True)
    return pts


def _pchip_integral(x, y, lo, hi, n=2000):
    # integrate the monotone piecewise-cubic Hermite interpolant of y(x) on [lo, hi]
    order = np.argsort(x)
    x, y = np.asarray(x)[order], np.asarray(y)[order]
    h = np.diff(x)
    d = np.diff(y) / h
    m = np.zeros_like(x)
    for k in range(1, len(x) - 1):  # Fritsch-Carlson slopes
        if d[k - 1] * d[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k])
    m[0], m[-1] = d[0], d[-1]
    t = np.linspace(lo, hi, n)
    k = np.clip(np.searchsorted(x, t) - 1, 0, len(x) - 2)
    s = (t - x[k]) / h[k]
    v = (y[k] * (2 * s**3 - 3 * s**2 + 1) + h[k] * m[k] * (s**3 - 2 * s**2 + s)
         + y[k + 1] * (-2 * s**3 + 3 * s**2) + h[k] * m[k + 1] * (s**3 - s**2))
    return np.trapezoid(v, t)


def bd_rate_pchip(anchor, test):
    ra, pa = np.log10([p[0] for p in anchor]), np.array([p[1] for p in anchor])
    rt, pt = np.log10([p[0] for p in test]), np.array([p[1] for p in test])
    lo, hi = max(pa.min(), pt.min()), min(pa.max(), pt.max())
    if hi <= lo:
        return float("nan"), (lo, hi)
    ia = _pchip_integral(pa, ra, lo, hi)
    it = _pchip_integral(pt, rt, lo, hi)
    return float((10 ** ((it - ia) / (hi - lo)) - 1) * 100), (float(lo), float(hi))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--valid", default=VALID)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache", "anchors.json"))
    ap.add_argument("--bd", help="eval_image.py --json output to compare with the anchors")
    a = ap.parse_args()
    if a.bd:
        anc = json.load(open(a.out))
        res = json.load(open(a.bd))["results"]
        test = [(r["bpp"], r["psnr"]) for r in res]
        for fmt in ("webp", "avif"):
            anchor = [(p["bpp"], p["psnr"]) for p in anc[fmt]]
            bd, rng = bd_rate_pchip(anchor, test)
            print("BD-rate vs %s: %+.1f %% (PSNR-RGB %.2f..%.2f dB)" % (fmt, bd, rng[0], rng[1]))
        return
    import glob
    files = sorted(glob.glob(os.path.join(a.valid, "*.png")))
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    out = dict(images=len(images), webp=curve(images, "webp", [5, 10, 20, 30, 45, 60, 75, 85, 92, 97]),
               avif=curve(images, "avif", [10, 20, 30, 40, 50, 60, 70, 80, 88, 94]))
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
