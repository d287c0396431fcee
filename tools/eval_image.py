#!/usr/bin/env python3
"""Rate-distortion evaluation of neco's C image codec against JPEG, WebP, AVIF, JPEG XL and HEIC.

Every codec is run through its command-line tool (neco through the `neco` CLI, never through
PyTorch), one image and one setting at a time. For each (image, codec, setting) it records the
file size, bits per pixel, PSNR on all RGB samples, MS-SSIM, and the encode and decode wall
times. It then writes

    results.csv   one row per image, codec and setting
    summary.md    average bpp / PSNR / MS-SSIM / times per codec and setting, and BD-rates
    rd.png        bpp vs PSNR-RGB and bpp vs MS-SSIM (dB), one line per codec

Metrics
  PSNR-RGB  10*log10(255^2 / MSE) with the MSE over all R, G and B samples of an image. The
            summary gives both the mean of per-image PSNRs ("PSNR") and the PSNR of the mean
            MSE ("PSNR(mean MSE)"); the plot and the BD-rates use the mean of per-image PSNRs
            (the convention of CompressAI and most learned-compression papers).
  MS-SSIM   Wang, Simoncelli, Bovik, "Multi-scale structural similarity for image quality
            assessment", Asilomar 2003: 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363,
            0.1333), 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, data range
            255. Computed per RGB channel and averaged over the three channels, exactly as
            the `pytorch_msssim` package does (valid filtering, 2x2 average pooling with one
            zero pad on odd sides), so the numbers are comparable to published ones. The
            summary gives the mean MS-SSIM and -10*log10(1 - mean MS-SSIM) in dB; BD-rates on
            MS-SSIM use the dB form.
  BD-rate   Bjontegaard, VCEG-M33 (2001), with the piecewise cubic (PCHIP, Fritsch-Carlson)
            interpolation of log10(rate) over quality used by JVET's reference sheet and by
            the `bjontegaard` package; `--bd-method cubic` gives the original VCEG-M33 cubic
            polynomial fit. Negative = neco needs fewer bits for the same quality.

Timings come from `time.perf_counter` around each subprocess (process start, file I/O and,
where the tool writes PNG, PNG compression included). They are only meaningful with
`--jobs 1` on an otherwise idle machine; the separate `tools/bench_image_speed.py` measures
speed properly.

Debian 12 packages needed (see --install-deps):
    libjpeg-turbo-progs (cjpeg, djpeg)      webp (cwebp, dwebp)
    libavif-bin (avifenc, avifdec; aom)     libjxl-tools (cjxl, djxl)
    libheif-examples (heif-enc, heif-convert; x265 and libde265 come with libheif1)
Python: numpy, Pillow, matplotlib (pip install matplotlib).
"""

import argparse
import concurrent.futures
import csv
import glob
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

DEBIAN_PACKAGES = {
    "cjpeg": "libjpeg-turbo-progs",
    "djpeg": "libjpeg-turbo-progs",
    "cwebp": "webp",
    "dwebp": "webp",
    "avifenc": "libavif-bin",
    "avifdec": "libavif-bin",
    "cjxl": "libjxl-tools",
    "djxl": "libjxl-tools",
    "heif-enc": "libheif-examples",
    "heif-convert": "libheif-examples",
}

# Settings chosen so that every curve spans roughly 0.1 to 2.5 bpp on CBSD68 (481x321), from a
# survey of the codecs on these images. Limits of the tools: JPEG at quality 3 is already about
# 0.17 bpp (at quality 1, 0.13 bpp and 16 dB), and cjxl 0.7 stops at distance 25 (about
# 0.19 bpp), so neither reaches 0.1 bpp.
DEFAULT_SETTINGS = {
    "neco": [1, 2, 3, 4, 5, 6, 7, 8],  # --quality
    "jpeg": [3, 5, 10, 20, 30, 40, 50, 65, 80, 88],  # cjpeg -quality
    "webp": [0, 5, 10, 20, 35, 50, 65, 80, 88],  # cwebp -q
    "avif": [60, 56, 52, 46, 40, 34, 28, 22, 16],  # avifenc --min Q --max Q (0..63)
    "jxl": [25, 15, 10, 7, 5, 3.5, 2.5, 1.8, 1.2, 0.9],  # cjxl -d distance
    "heic": [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55],  # heif-enc -q
}
SETTING_NAME = {
    "neco": "quality",
    "jpeg": "quality",
    "webp": "q",
    "avif": "qindex",
    "jxl": "distance",
    "heic": "quality",
}
CODEC_LABEL = {
    "neco": "neco img-wave",  # the --model in use, set in main()
    "jpeg": "JPEG 4:4:4 (libjpeg-turbo)",
    "webp": "WebP -m 6 (4:2:0)",
    "avif": "AVIF aom 4:4:4 s6",
    "jxl": "JPEG XL (e7)",
    "heic": "HEIC x265 4:4:4",
}
ALL_CODECS = ["neco", "jpeg", "webp", "avif", "jxl", "heic"]


def codec_commands(codec, setting, src_png, src_ppm, bitstream, decoded, args):
    """The encode and decode command lines of one codec at one setting.

    Every tool runs single-threaded (where it has a switch for it) so that the per-image times
    compare like with like; the speed benchmark measures multi-threaded runs.
    """
    s = str(setting)
    if codec == "neco":
        common = ["--weights", args.weights, "--backend", args.backend,
                  "--threads", str(args.threads), "--quiet"]
        enc = [args.neco, "encode", src_png, bitstream, "--model", args.model,
               "--quality", s] + common
        dec = [args.neco, "decode", bitstream, decoded] + common
    elif codec == "jpeg":
        # libjpeg-turbo 2.1's cjpeg reads PPM, not PNG. -sample 1x1 = 4:4:4; -optimize makes
        # optimal Huffman tables (what any size-aware JPEG user does).
        enc = ["cjpeg", "-quality", s, "-sample", "1x1", "-optimize", "-outfile", bitstream,
               src_ppm]
        dec = ["djpeg", "-ppm", "-outfile", decoded, bitstream]
    elif codec == "webp":
        # Lossy WebP (VP8) is always 4:2:0; there is no 4:4:4 mode.
        enc = ["cwebp", "-quiet", "-m", "6", "-q", s, src_png, "-o", bitstream]
        dec = ["dwebp", "-quiet", bitstream, "-ppm", "-o", decoded]
    elif codec == "avif":
        # libaom, 4:4:4, 8 bit, speed 6 (avifenc 0.11's default, written out), one thread;
        # --min = --max pins the quantizer index (0..63), the usual way to sweep avifenc.
        enc = ["avifenc", "-c", "aom", "-s", "6", "-j", "1", "-y", "444", "-d", "8",
               "--min", s, "--max", s, src_png, bitstream]
        dec = ["avifdec", "-c", "dav1d", "-j", "1", bitstream, decoded]
    elif codec == "jxl":
        # Default effort (7), VarDCT; one thread.
        enc = ["cjxl", src_png, bitstream, "-d", s, "--num_threads=1", "--quiet"]
        dec = ["djxl", bitstream, decoded, "--num_threads=1", "--quiet"]
    elif codec == "heic":
        # x265 with chroma=444 (Main 4:4:4 Still Picture profile); libheif's x265 plugin
        # raises the chroma QP offsets by 6 in 4:4:4 when psy-rd is on, as x265 warns.
        # pools=1 and frame-threads=1 keep x265 on one thread.
        enc = ["heif-enc", "-q", s, "-p", "chroma=444", "-p", "x265:pools=1",
               "-p", "x265:frame-threads=1", "-o", bitstream, src_png]
        dec = ["heif-convert", "--quiet", bitstream, decoded]
    else:
        raise ValueError(codec)
    return enc, dec


BITSTREAM_EXT = {"neco": ".neco", "jpeg": ".jpg", "webp": ".webp", "avif": ".avif",
                 "jxl": ".jxl", "heic": ".heic"}
DECODED_EXT = {"neco": ".png", "jpeg": ".ppm", "webp": ".ppm", "avif": ".png",
               "jxl": ".ppm", "heic": ".png"}


# ---------------------------------------------------------------------------------------------
# Metrics


def psnr_from_mse(mse):
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0 * 255.0 / mse)


def _gaussian_window(size=11, sigma=1.5):
    coords = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(coords ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


def _filter_valid(x, g):
    """Separable 'valid' filtering of (C, H, W) with the 1-D window g along H, then W.

    As in pytorch_msssim, a dimension shorter than the window is left unfiltered.
    """
    n = g.shape[0]
    if x.shape[1] >= n:
        x = np.lib.stride_tricks.sliding_window_view(x, n, axis=1) @ g
    if x.shape[2] >= n:
        x = np.lib.stride_tricks.sliding_window_view(x, n, axis=2) @ g
    return x


def _ssim_cs(x, y, g, data_range):
    """Per-channel mean SSIM and mean contrast-structure term (Wang et al. 2004, eq. 13)."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu1 = _filter_valid(x, g)
    mu2 = _filter_valid(y, g)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = _filter_valid(x * x, g) - mu1_sq
    s2 = _filter_valid(y * y, g) - mu2_sq
    s12 = _filter_valid(x * y, g) - mu12
    cs_map = (2.0 * s12 + c2) / (s1 + s2 + c2)
    ssim_map = (2.0 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map.mean(axis=(1, 2)), cs_map.mean(axis=(1, 2))


def _avg_pool2(x):
    """2x2 average pooling, stride 2, with one zero of padding on each side of an odd
    dimension counted in the average (torch.avg_pool2d(padding=s % 2), as pytorch_msssim)."""
    ph, pw = x.shape[1] % 2, x.shape[2] % 2
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    x = x[:, :h, :w]
    return 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])


MS_SSIM_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def ms_ssim(a, b, data_range=255.0):
    """MS-SSIM (Wang et al. 2003) of two HxWx3 uint8 images, averaged over R, G and B.

    Product over scales j of cs_j^w_j (j < 5) times ssim_5^w_5, each term clamped at 0,
    computed per channel; needs min(H, W) > 160 for five scales of an 11-tap window.
    """
    x = a.astype(np.float64).transpose(2, 0, 1)
    y = b.astype(np.float64).transpose(2, 0, 1)
    if min(x.shape[1:]) <= (11 - 1) * 2 ** 4:
        raise ValueError("MS-SSIM needs both sides larger than 160 pixels")
    g = _gaussian_window()
    terms = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        ssim_c, cs_c = _ssim_cs(x, y, g, data_range)
        if level < len(MS_SSIM_WEIGHTS) - 1:
            terms.append(np.maximum(cs_c, 0.0))
            x, y = _avg_pool2(x), _avg_pool2(y)
    terms.append(np.maximum(ssim_c, 0.0))
    per_channel = np.prod(np.stack(terms) ** MS_SSIM_WEIGHTS[:, None], axis=0)
    return float(per_channel.mean())


def msssim_db(v):
    return float("inf") if v >= 1.0 else -10.0 * math.log10(1.0 - v)


# ---------------------------------------------------------------------------------------------
# Bjontegaard delta rate


def _pchip_slopes(x, y):
    """Fritsch-Carlson monotone slopes at the knots (the scipy PchipInterpolator rule)."""
    h = np.diff(x)
    delta = np.diff(y) / h
    n = x.shape[0]
    d = np.zeros(n)
    if n == 2:
        d[:] = delta[0]
        return d
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    # One-sided three-point ends, limited to keep the curve monotone.
    for end, (h0, h1, m0, m1) in ((0, (h[0], h[1], delta[0], delta[1])),
                                   (n - 1, (h[-1], h[-2], delta[-1], delta[-2]))):
        e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        limit = np.sign(m0) != np.sign(m1) and abs(e) > abs(3 * m0)
        if np.sign(e) != np.sign(m0):
            e = 0.0
        if limit:
            e = 3 * m0
        d[end] = e
    return d


def _pchip_integral(x, y, lo, hi):
    """Integral over [lo, hi] of the PCHIP interpolant through (x, y), x increasing.

    On a knot interval of width h the Hermite cubic integrates to h*(y0+y1)/2 +
    h^2*(d0-d1)/12; partial intervals are integrated with Simpson's rule, exact for cubics.
    """
    d = _pchip_slopes(x, y)

    def value(t):
        k = int(np.clip(np.searchsorted(x, t) - 1, 0, len(x) - 2))
        h = x[k + 1] - x[k]
        s = (t - x[k]) / h
        h00 = (1 + 2 * s) * (1 - s) ** 2
        h10 = s * (1 - s) ** 2
        h01 = s * s * (3 - 2 * s)
        h11 = s * s * (s - 1)
        return h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]

    total = 0.0
    for k in range(len(x) - 1):
        a, b = max(lo, x[k]), min(hi, x[k + 1])
        if b <= a:
            continue
        if a == x[k] and b == x[k + 1]:
            h = b - a
            total += h * (y[k] + y[k + 1]) / 2 + h * h * (d[k] - d[k + 1]) / 12
        else:
            total += (b - a) / 6 * (value(a) + 4 * value((a + b) / 2) + value(b))
    return total


def _rd_points(rates, quality):
    """(quality, log10 rate) sorted by quality, with repeated qualities merged."""
    q = np.asarray(quality, dtype=np.float64)
    r = np.log10(np.asarray(rates, dtype=np.float64))
    ok = np.isfinite(q) & np.isfinite(r)
    q, r = q[ok], r[ok]
    order = np.argsort(q, kind="stable")
    q, r = q[order], r[order]
    keep = np.concatenate(([True], np.diff(q) > 1e-9))
    return q[keep], r[keep]


def bd_rate(rate_anchor, q_anchor, rate_test, q_test, method="pchip"):
    """Average rate difference in percent of test against anchor at equal quality.

    Returns (bd_rate_percent, (q_lo, q_hi)); NaN where the quality ranges do not overlap.
    """
    qa, ra = _rd_points(rate_anchor, q_anchor)
    qt, rt = _rd_points(rate_test, q_test)
    if len(qa) < 2 or len(qt) < 2:
        return float("nan"), (float("nan"), float("nan"))
    lo, hi = max(qa[0], qt[0]), min(qa[-1], qt[-1])
    if hi <= lo:
        return float("nan"), (lo, hi)
    if method == "pchip":
        ia = _pchip_integral(qa, ra, lo, hi)
        it = _pchip_integral(qt, rt, lo, hi)
    elif method == "cubic":
        if len(qa) < 4 or len(qt) < 4:
            return float("nan"), (lo, hi)
        pa = np.polyint(np.polyfit(qa, ra, 3))
        pt = np.polyint(np.polyfit(qt, rt, 3))
        ia = np.polyval(pa, hi) - np.polyval(pa, lo)
        it = np.polyval(pt, hi) - np.polyval(pt, lo)
    else:
        raise ValueError(method)
    avg_diff = (it - ia) / (hi - lo)
    return (10.0 ** avg_diff - 1.0) * 100.0, (lo, hi)


# ---------------------------------------------------------------------------------------------
# Running the codecs


def load_rgb8(path):
    with Image.open(path) as im:
        im.load()
        if im.mode != "RGB":
            raise RuntimeError(f"{path}: mode {im.mode}, expected 8-bit RGB")
        return np.asarray(im, dtype=np.uint8)


def run_timed(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, check=False)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"command failed ({p.returncode}): {' '.join(cmd)}\n"
                           f"{p.stderr.decode(errors='replace')[-2000:]}")
    return t


def evaluate_image(job):
    """All codecs and settings on one image; returns the result rows."""
    path, plan, args = job
    name = os.path.basename(path)
    ref = load_rgb8(path)
    h, w = ref.shape[:2]
    rows = []
    with tempfile.TemporaryDirectory(prefix="neco-eval-", dir=args.tmpdir) as tmp:
        src_ppm = os.path.join(tmp, "src.ppm")
        Image.fromarray(ref).save(src_ppm)
        for codec, settings in plan:
            for setting in settings:
                bitstream = os.path.join(tmp, "out" + BITSTREAM_EXT[codec])
                decoded = os.path.join(tmp, "dec" + DECODED_EXT[codec])
                enc, dec = codec_commands(codec, setting, path, src_ppm, bitstream, decoded, args)
                t_enc = run_timed(enc)
                size = os.path.getsize(bitstream)
                t_dec = run_timed(dec)
                out = load_rgb8(decoded)
                if out.shape != ref.shape:
                    raise RuntimeError(f"{codec} {setting} {name}: decoded {out.shape}, "
                                       f"expected {ref.shape}")
                mse = float(np.mean((out.astype(np.float64) - ref.astype(np.float64)) ** 2))
                ms = ms_ssim(ref, out)
                rows.append({
                    "image": name, "codec": codec, "setting": setting,
                    "width": w, "height": h, "bytes": size,
                    "bpp": size * 8.0 / (w * h),
                    "mse": mse, "psnr_rgb": psnr_from_mse(mse),
                    "msssim": ms, "msssim_db": msssim_db(ms),
                    "enc_s": t_enc, "dec_s": t_dec,
                })
                os.remove(bitstream)
                os.remove(decoded)
    return rows


# ---------------------------------------------------------------------------------------------
# Summary, BD-rates, plot


def summarize(rows, codecs, plan):
    """Per codec and setting averages, in the order of the plan."""
    out = []
    for codec, settings in plan:
        for setting in settings:
            sel = [r for r in rows if r["codec"] == codec and r["setting"] == setting]
            if not sel:
                continue
            def mean(key, sel=sel):
                return float(np.mean([r[key] for r in sel]))

            ms = mean("msssim")
            out.append({
                "codec": codec, "setting": setting, "n": len(sel),
                "bpp": mean("bpp"), "psnr": mean("psnr_rgb"),
                "psnr_mean_mse": psnr_from_mse(mean("mse")),
                "msssim": ms, "msssim_db": msssim_db(ms),
                "enc_ms": 1000 * float(np.median([r["enc_s"] for r in sel])),
                "dec_ms": 1000 * float(np.median([r["dec_s"] for r in sel])),
            })
    return out


def curve(summary, codec, key):
    pts = [s for s in summary if s["codec"] == codec]
    return [p["bpp"] for p in pts], [p[key] for p in pts]


def write_summary(path, summary, codecs, args, n_images, elapsed):
    lines = []
    lines.append("# neco image codec: rate-distortion evaluation\n")
    lines.append(f"Images: {n_images} from `{args.images}`; weights: `{args.weights}`; "
                 f"neco backend `{args.backend}`, {args.threads} thread(s); "
                 f"BD method: {args.bd_method}; run time {elapsed:.0f} s"
                 f"{'' if args.jobs == 1 else f' with --jobs {args.jobs} (times distorted)'}.\n")
    lines.append("Command: `" + " ".join(sys.argv) + "`\n")
    lines.append("## Averages per codec and setting\n")
    lines.append("PSNR = mean of per-image PSNR-RGB; PSNR(mean MSE) = PSNR of the mean MSE; "
                 "MS-SSIM = mean over images (RGB-averaged), dB = -10 log10(1 - mean); "
                 "times = median over images, per process, file I/O included.\n")
    lines.append("| codec | setting | bpp | PSNR (dB) | PSNR(mean MSE) | MS-SSIM | MS-SSIM (dB) "
                 "| enc (ms) | dec (ms) |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in summary:
        lines.append(f"| {s['codec']} | {SETTING_NAME[s['codec']]} {s['setting']} | "
                     f"{s['bpp']:.4f} | {s['psnr']:.3f} | {s['psnr_mean_mse']:.3f} | "
                     f"{s['msssim']:.5f} | {s['msssim_db']:.3f} | {s['enc_ms']:.1f} | "
                     f"{s['dec_ms']:.1f} |")
    lines.append("")
    if "neco" in codecs:
        lines.append("## BD-rate of neco against each codec\n")
        lines.append("Negative = neco needs that many percent fewer bits for the same quality; "
                     "computed over the overlapping quality range (shown). "
                     "n/a = the curves do not overlap.\n")
        lines.append("| anchor | BD-rate PSNR | PSNR range (dB) | BD-rate MS-SSIM (dB) "
                     "| MS-SSIM range (dB) |")
        lines.append("|---|---:|---|---:|---|")
        for anchor in codecs:
            if anchor == "neco":
                continue
            cells = []
            for key in ("psnr", "msssim_db"):
                ra, qa = curve(summary, anchor, key)
                rt, qt = curve(summary, "neco", key)
                bd, (lo, hi) = bd_rate(ra, qa, rt, qt, args.bd_method)
                cells.append("n/a" if math.isnan(bd) else f"{bd:+.2f} %")
                cells.append("—" if not hi > lo else f"{lo:.2f} – {hi:.2f}")
            lines.append(f"| {CODEC_LABEL[anchor]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("## Codec settings\n")
    for codec in codecs:
        enc, dec = codec_commands(codec, "S", "in.png", "in.ppm", "out" + BITSTREAM_EXT[codec],
                                  "dec" + DECODED_EXT[codec], args)
        lines.append(f"- {CODEC_LABEL[codec]}: `{' '.join(enc)}` / `{' '.join(dec)}`, "
                     f"S in {[s for c, ss in args.plan for s in ss if c == codec]}")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot(path, summary, codecs, max_bpp, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    for key, ax, ylabel in (("psnr", axes[0], "PSNR-RGB (dB)"),
                            ("msssim_db", axes[1], "MS-SSIM (dB) = -10 log10(1 - MS-SSIM)")):
        for codec in codecs:
            x, y = curve(summary, codec, key)
            style = {"lw": 2.4, "color": "black"} if codec == "neco" else {"lw": 1.4}
            ax.plot(x, y, marker="o", ms=3.5, label=CODEC_LABEL[codec], **style)
        ax.set_xlim(0, max_bpp)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.35)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------------------------------


def parse_settings(text):
    """'jpeg=10,50,90;neco=1,4,8' -> {'jpeg': [10, 50, 90], 'neco': [1, 4, 8]}."""
    out = {}
    for part in filter(None, text.split(";")):
        codec, values = part.split("=", 1)
        out[codec.strip()] = [float(v) if "." in v else int(v) for v in values.split(",")]
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--images", default="/work/shared/data/img/valid/cbsd68/*.png",
                    help="glob of 8-bit RGB PNGs (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N images")
    ap.add_argument("--neco", default=os.path.join(root, "build-eval", "apps", "neco"),
                    help="the neco CLI (default: %(default)s)")
    ap.add_argument("--weights", default=os.path.join(root, "weights"),
                    help="folder with img-wave.safetensors (default: %(default)s)")
    ap.add_argument("--model", default="img-wave")
    ap.add_argument("--backend", default="onednn", help="neco backend (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="neco threads (default: 1)")
    ap.add_argument("--codecs", default=",".join(ALL_CODECS),
                    help="comma-separated subset of " + ",".join(ALL_CODECS))
    ap.add_argument("--settings", default="",
                    help="override settings, e.g. 'jpeg=10,50,90;neco=1,4,8'")
    ap.add_argument("--out", default=os.path.join(root, "build-eval", "eval-image"),
                    help="output folder (default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="images evaluated in parallel (>1 distorts the timings)")
    ap.add_argument("--bd-method", choices=["pchip", "cubic"], default="pchip")
    ap.add_argument("--plot-max-bpp", type=float, default=2.2)
    ap.add_argument("--label", default="", help="added to the plot title, e.g. 'dev weights'")
    ap.add_argument("--tmpdir", default=None, help="where temporary files go")
    ap.add_argument("--reuse", default="",
                    help="results.csv of an earlier run: its rows for codecs not run now are "
                         "merged in (e.g. run the anchors once, then only neco per weights)")
    ap.add_argument("--install-deps", action="store_true",
                    help="apt-get install the missing Debian packages first (as root)")
    args = ap.parse_args()
    CODEC_LABEL["neco"] = "neco " + args.model

    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    for c in codecs:
        if c not in ALL_CODECS:
            ap.error(f"unknown codec {c}")
    settings = dict(DEFAULT_SETTINGS)
    settings.update(parse_settings(args.settings))
    args.plan = [(c, settings[c]) for c in codecs]

    needed = sorted({DEBIAN_PACKAGES[t] for c in codecs for t in DEBIAN_PACKAGES
                     if tool_of(c, t)})
    missing = sorted({DEBIAN_PACKAGES[t] for c in codecs for t in DEBIAN_PACKAGES
                      if tool_of(c, t) and shutil.which(t) is None})
    if missing and args.install_deps:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                       check=True, env=env)
        missing = []
    if missing:
        sys.exit(f"missing tools; install the Debian packages: apt-get install -y "
                 f"{' '.join(missing)} (this run needs {' '.join(needed)})")
    if "neco" in codecs:
        if not os.access(args.neco, os.X_OK):
            sys.exit(f"{args.neco}: not found; build it with cmake --build ... --target neco_cli")
        if not os.path.isfile(os.path.join(args.weights, args.model + ".safetensors")):
            sys.exit(f"{args.weights}: no {args.model}.safetensors there (--weights DIR)")

    images = sorted(glob.glob(args.images))
    if args.limit:
        images = images[:args.limit]
    if not images:
        sys.exit(f"no images match {args.images}")
    os.makedirs(args.out, exist_ok=True)

    t0 = time.perf_counter()
    rows = []
    jobs = [(p, args.plan, args) for p in images]
    if args.jobs > 1:
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            for i, r in enumerate(pool.map(evaluate_image, jobs)):
                rows.extend(r)
                print(f"[{i + 1}/{len(images)}] {os.path.basename(images[i])}", flush=True)
    else:
        for i, job in enumerate(jobs):
            rows.extend(evaluate_image(job))
            print(f"[{i + 1}/{len(images)}] {os.path.basename(images[i])} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    elapsed = time.perf_counter() - t0
    if args.reuse:
        rows, codecs = merge_reused(args.reuse, rows, codecs, images, args)

    csv_path = os.path.join(args.out, "results.csv")
    with open(csv_path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        wr.writeheader()
        wr.writerows(rows)
    summary = summarize(rows, codecs, args.plan)
    md_path = os.path.join(args.out, "summary.md")
    write_summary(md_path, summary, codecs, args, len(images), elapsed)
    png_path = os.path.join(args.out, "rd.png")
    short = {"neco": "neco", "jpeg": "JPEG", "webp": "WebP", "avif": "AVIF", "jxl": "JPEG XL",
             "heic": "HEIC"}
    others = ", ".join(short[c] for c in codecs if c != "neco")
    title = ((f"neco image codec vs. {others}" if "neco" in codecs else others)
             + f" ({os.path.basename(os.path.dirname(args.images))}, {len(images)} images)"
             + (f" — {args.label}" if args.label else ""))
    plot(png_path, summary, codecs, args.plot_max_bpp, title)
    with open(md_path) as f:
        print(f.read())
    print(f"wrote {csv_path}, {md_path}, {png_path} in {elapsed:.0f} s")


def read_results(path):
    """Rows of a results.csv, with numbers converted back."""
    ints = ("width", "height", "bytes")
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k, v in r.items():
                if k in ints:
                    r[k] = int(v)
                elif k == "setting":
                    r[k] = float(v) if "." in v else int(v)
                elif k not in ("image", "codec"):
                    r[k] = float(v)
            rows.append(r)
    return rows


def merge_reused(path, rows, codecs, images, args):
    """Adds an earlier run's rows for the codecs not run now, for the same images.

    The plan gains those codecs with their settings in the order the file lists them.
    """
    names = [os.path.basename(p) for p in images]
    old = [r for r in read_results(path) if r["codec"] not in codecs and r["image"] in names]
    plan = dict(args.plan)
    for r in old:
        plan.setdefault(r["codec"], [])
        if r["setting"] not in plan[r["codec"]]:
            plan[r["codec"]].append(r["setting"])
    for codec, settings in plan.items():
        if codec in codecs:
            continue
        for setting in settings:
            have = {r["image"] for r in old if r["codec"] == codec and r["setting"] == setting}
            if have != set(names):
                sys.exit(f"{path}: {codec} {setting} lacks {len(set(names) - have)} of the "
                         f"{len(names)} images of this run")
    merged_codecs = [c for c in ALL_CODECS if c in plan]
    args.plan = [(c, plan[c]) for c in merged_codecs]
    order = {c: i for i, c in enumerate(merged_codecs)}
    merged = sorted(rows + old, key=lambda r: (names.index(r["image"]), order[r["codec"]]))
    return merged, merged_codecs


def tool_of(codec, tool):
    """Whether the command-line tool belongs to the codec."""
    return {"jpeg": ("cjpeg", "djpeg"), "webp": ("cwebp", "dwebp"),
            "avif": ("avifenc", "avifdec"), "jxl": ("cjxl", "djxl"),
            "heic": ("heif-enc", "heif-convert")}.get(codec, ()).__contains__(tool)


if __name__ == "__main__":
    main()
