#!/usr/bin/env python3
"""BD-rate of one neco model against another, from two results.csv files of tools/eval_image.py
(the `neco` rows; only the images of B, which must be in A too): the mean bpp, PSNR-RGB and
MS-SSIM (dB) per quality level, then the BD-rate of B against A on PSNR and on MS-SSIM (PCHIP,
eval_image.bd_rate; negative = B needs fewer bits for the same quality).

  python3 tools/bd_compare.py build-eval/eval-image/results.csv build-eval/eval-swin/results.csv
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_image import bd_rate  # noqa: E402


def curve(path, images=None):
    """{level: [(bpp, psnr, msssim_db)]} of the neco rows (of `images` when given)."""
    out = {}
    for r in csv.DictReader(open(path)):
        if r["codec"] == "neco" and (images is None or r["image"] in images):
            out.setdefault(int(r["setting"]), []).append(
                (float(r["bpp"]), float(r["psnr_rgb"]), float(r["msssim_db"])))
    return out


def means(c):
    ks = sorted(c)
    return [[sum(v[i] for v in c[k]) / len(c[k]) for k in ks] for i in range(3)]


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    b = curve(sys.argv[2])
    images = {r["image"] for r in csv.DictReader(open(sys.argv[2])) if r["codec"] == "neco"}
    a = curve(sys.argv[1], images)
    (ra, pa, ma), (rb, pb, mb) = means(a), means(b)
    print("%d images" % len(images))
    for i, k in enumerate(sorted(b)):
        print("level %d: A %.4f bpp %.3f dB | B %.4f bpp %.3f dB" % (k, ra[i], pa[i], rb[i], pb[i]))
    for name, qa, qb in (("PSNR", pa, pb), ("MS-SSIM (dB)", ma, mb)):
        bd, (lo, hi) = bd_rate(ra, qa, rb, qb)
        print("BD-rate of B against A, %s: %+.2f %% (over %.2f - %.2f)" % (name, bd, lo, hi))


if __name__ == "__main__":
    main()
