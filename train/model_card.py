#!/usr/bin/env python3
"""Print the measured part of a model card (RD table, BD-rates) for weights/MODELS.md from
eval_image.py --json output and anchors.py's anchors.json.

  python3 train/model_card.py train/cache/eval_wave.json [--anchors train/cache/anchors.json]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from anchors import bd_rate_pchip  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("eval_json")
    ap.add_argument("--anchors", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache", "anchors.json"))
    a = ap.parse_args()
    ev = json.load(open(a.eval_json))
    print("| level | lambda | bpp | of which z | PSNR-RGB (dB) | MS-SSIM |")
    print("|---|---|---|---|---|---|")
    for r in ev["results"]:
        print("| %d | %.4f | %.4f | %.4f | %.2f | %.4f |" % (r["level"], r["lam"], r["bpp"], r["bpp_z"], r["psnr"], r["msssim"]))
    print()
    print("(%d CBSD68 images, checkpoint step %d, %.0f min trained, integer h_s%s)"
          % (ev["images"], ev["step"], ev["trained_minutes"], " after QAT" if ev["hs_qat"] else " post-training quantised"))
    if os.path.exists(a.anchors):
        anc = json.load(open(a.anchors))
        test = [(r["bpp"], r["psnr"]) for r in ev["results"]]
        print()
        for fmt, name in (("webp", "WebP (libwebp, method 6)"), ("avif", "AVIF (libavif, 4:4:4, speed 6)")):
            bd, rng = bd_rate_pchip([(p["bpp"], p["psnr"]) for p in anc[fmt]], test)
            print("- BD-rate vs %s: %+.1f %% (PSNR-RGB overlap %.2f-%.2f dB)" % (name, bd, rng[0], rng[1]))
        print()
        print("Anchor curves (%d images):" % anc["images"])
        for fmt in ("webp", "avif"):
            print("- %s: %s" % (fmt, ", ".join("q%d %.3f bpp / %.2f dB" % (p["quality"], p["bpp"], p["psnr"]) for p in anc[fmt])))


if __name__ == "__main__":
    main()
