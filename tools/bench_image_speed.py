#!/usr/bin/env python3
"""Speed benchmark of neco's image codec on 768x512 photos, next to cwebp/dwebp and
avifenc/avifdec timed in the same run.

What it does
  1. Makes COUNT 768x512 8-bit RGB PNGs by cutting the centre out of photos (by default the
     first two of urban100 and the first two of sunhays80, all at least 1024x644; a smaller
     photo is first scaled up with Lanczos so that the crop fits).
  2. Runs every configuration once per image untimed (warm-up: page cache, weights file, and
     the bitstream the decoder then reads).
  3. Times REPS rounds. In each round every image goes through every configuration's encoder
     and decoder, one after the other, so a load change on a shared machine falls on all
     configurations alike rather than on whichever ran last.
  4. Reports, per configuration, the median (and the minimum) over all images and rounds of
     the wall time of the whole process, measured with Python's time.perf_counter around
     subprocess.run: process start, reading the PNG (encoders) or the bitstream (decoders),
     the codec, and writing the bitstream or the decoded PNG are all included, the way a user
     of the command-line tool sees it. The `neco raw` row (no compression, same container and
     PNG code) shows how much of neco's time is that fixed cost.

Every tool reads PNG and every decoder writes PNG. Configurations:
  neco img-wave and img-swin --quality Q, --backend ref and onednn, --threads 1 and 2
  neco raw (uncompressed; the PNG + container + process floor), 1 thread
  cwebp -m 6 -q Q / dwebp (1 thread; and -mt for 2 threads)
  avifenc -c aom -s 6 -y 444 --min Q --max Q -j 1|2 / avifdec -c dav1d -j 1|2

Targets (issue 6): img-wave encode and decode <= 50 ms each, img-swin decode <= 300 ms, for
768x512 on the 2-core CPU. (The command-line tool's time includes process start, PNG I/O,
loading the weights and creating the backend's kernels; tests/bench/bench_image.c measures
the library alone.)

Debian 12 packages: webp, libavif-bin. Python: numpy, Pillow.
"""

import argparse
import glob
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from PIL import Image

WIDTH, HEIGHT = 768, 512


def make_images(sources, count, folder):
    """Centre crops of WIDTHxHEIGHT from the given photos, written as RGB PNGs."""
    os.makedirs(folder, exist_ok=True)
    out = []
    for src in sources[:count]:
        with Image.open(src) as im:
            im = im.convert("RGB")
            scale = max(WIDTH / im.width, HEIGHT / im.height, 1.0)
            if scale > 1.0:
                im = im.resize((round(im.width * scale + 0.5), round(im.height * scale + 0.5)),
                               Image.LANCZOS)
            left = (im.width - WIDTH) // 2
            top = (im.height - HEIGHT) // 2
            crop = im.crop((left, top, left + WIDTH, top + HEIGHT))
        dst = os.path.join(folder, os.path.splitext(os.path.basename(src))[0] + "_768x512.png")
        crop.save(dst)
        out.append(dst)
    return out


def configurations(args):
    """(name, threads, encode argv template, decode argv template, bitstream extension).

    Templates use {src}, {bit} and {dec} for the input PNG, the bitstream and the decoded PNG.
    """
    cfgs = []
    common = ["--weights", args.weights, "--quiet"]
    for model in args.models:
        for backend in args.backends:
            for threads in args.threads:
                t = ["--backend", backend, "--threads", str(threads)]
                cfgs.append((f"neco {model} q{args.neco_quality} {backend}", threads,
                             [args.neco, "encode", "{src}", "{bit}", "--model", model,
                              "--quality", str(args.neco_quality)] + t + common,
                             [args.neco, "decode", "{bit}", "{dec}"] + t + common, ".neco"))
    cfgs.append(("neco raw (I/O floor)", 1,
                 [args.neco, "encode", "{src}", "{bit}", "--model", "raw", "--threads", "1",
                  "--quiet"],
                 [args.neco, "decode", "{bit}", "{dec}", "--threads", "1", "--quiet"], ".neco"))
    for threads in args.threads:
        mt = ["-mt"] if threads > 1 else []
        cfgs.append((f"cwebp -m 6 -q {args.webp_q} / dwebp", threads,
                     ["cwebp", "-quiet", "-m", "6", "-q", str(args.webp_q)] + mt
                     + ["{src}", "-o", "{bit}"],
                     ["dwebp", "-quiet"] + mt + ["{bit}", "-o", "{dec}"], ".webp"))
    for threads in args.threads:
        cfgs.append((f"avifenc aom s6 4:4:4 q{args.avif_q} / avifdec dav1d", threads,
                     ["avifenc", "-c", "aom", "-s", "6", "-y", "444", "-d", "8",
                      "--min", str(args.avif_q), "--max", str(args.avif_q), "-j", str(threads),
                      "{src}", "{bit}"],
                     ["avifdec", "-c", "dav1d", "-j", str(threads), "{bit}", "{dec}"], ".avif"))
    return cfgs


def fill(template, **kw):
    return [a.format(**kw) if "{" in a else a for a in template]


def run_timed(argv):
    """(wall seconds, CPU seconds) of one process.

    The CPU time (user + system, all threads, from wait4's rusage) is given beside the wall
    time because on a shared, loaded machine the wall time also counts the time the process
    waited for a core; it does not say how much a second thread helped, the wall time does.
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"failed ({p.returncode}): {' '.join(argv)}\n"
                               f"{err.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    data = "/work/shared/data/img/train"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--sources", nargs="+",
                    default=sorted(glob.glob(f"{data}/urban100/*.png"))[:2]
                    + sorted(glob.glob(f"{data}/sunhays80/*.jpg"))[:2],
                    help="photos to cut the 768x512 images from")
    ap.add_argument("--count", type=int, default=4, help="number of images (default 4)")
    ap.add_argument("--limit", type=int, default=0, help="same as --count (for quick runs)")
    ap.add_argument("--reps", type=int, default=5, help="timed rounds (default 5)")
    ap.add_argument("--neco", default=os.path.join(root, "build-eval", "apps", "neco"))
    ap.add_argument("--weights", default=os.path.join(root, "weights"),
                    help="folder with the models' weights (default: %(default)s)")
    ap.add_argument("--models", default="img-wave,img-swin")
    ap.add_argument("--backends", default="ref,onednn")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--neco-quality", type=int, default=4)
    ap.add_argument("--webp-q", type=int, default=75, help="cwebp -q (default: cwebp's 75)")
    ap.add_argument("--avif-q", type=int, default=32, help="avifenc --min/--max (default 32)")
    ap.add_argument("--out", default=os.path.join(root, "build-eval", "bench-image-speed"))
    ap.add_argument("--tmpdir", default=None)
    args = ap.parse_args()
    if args.limit:
        args.count = args.limit
    args.backends = [b for b in args.backends.split(",") if b]
    args.models = [m for m in args.models.split(",") if m]
    args.threads = [int(t) for t in args.threads.split(",") if t]

    for tool, pkg in (("cwebp", "webp"), ("dwebp", "webp"), ("avifenc", "libavif-bin"),
                      ("avifdec", "libavif-bin")):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} missing: apt-get install -y {pkg}")
    if not os.access(args.neco, os.X_OK):
        sys.exit(f"{args.neco}: not found; build the neco_cli target")
    for model in args.models:
        if not os.path.isfile(os.path.join(args.weights, model + ".safetensors")):
            sys.exit(f"{args.weights}: no {model}.safetensors (--weights DIR)")
    if len(args.sources) < args.count:
        sys.exit(f"only {len(args.sources)} source photos for --count {args.count}")

    os.makedirs(args.out, exist_ok=True)
    images = make_images(args.sources, args.count, os.path.join(args.out, "images"))
    cfgs = configurations(args)
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    enc_t = {c[0] + str(c[1]): [] for c in cfgs}
    dec_t = {c[0] + str(c[1]): [] for c in cfgs}
    bpp = {c[0] + str(c[1]): [] for c in cfgs}
    with tempfile.TemporaryDirectory(prefix="neco-speed-", dir=args.tmpdir) as tmp:
        def paths(ci, ii, ext):
            return (os.path.join(tmp, f"c{ci}_i{ii}{ext}"), os.path.join(tmp, f"c{ci}_i{ii}.png"))

        for ii, src in enumerate(images):  # warm-up, and the bitstreams the decoders read
            for ci, (name, thr, enc, dec, ext) in enumerate(cfgs):
                bit, out = paths(ci, ii, ext)
                run_timed(fill(enc, src=src, bit=bit))
                run_timed(fill(dec, bit=bit, dec=out))
                bpp[name + str(thr)].append(os.path.getsize(bit) * 8.0 / (WIDTH * HEIGHT))
        for rep in range(args.reps):
            for ii, src in enumerate(images):
                for ci, (name, thr, enc, dec, ext) in enumerate(cfgs):
                    bit, out = paths(ci, ii, ext)
                    enc_t[name + str(thr)].append(run_timed(fill(enc, src=src, bit=bit)))
                    dec_t[name + str(thr)].append(run_timed(fill(dec, bit=bit, dec=out)))
            print(f"round {rep + 1}/{args.reps} done ({time.perf_counter() - t_start:.0f} s)",
                  flush=True)
    elapsed = time.perf_counter() - t_start
    load_after = os.getloadavg()

    names = ", ".join(os.path.basename(s) for s in args.sources[:args.count])
    lines = ["# neco image codec: speed on 768x512 images\n",
             (f"{len(images)} images of {WIDTH}x{HEIGHT} ({names}, centre crops), "
              f"{args.reps} timed rounds after one warm-up; times are the median (min) over "
              f"images x rounds of the whole process's wall time (time.perf_counter around "
              f"the subprocess; PNG in, PNG out), and the median CPU time (user + system, all "
              f"threads).\n"),
             (f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; load average "
              f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; run time "
              f"{elapsed:.0f} s; weights `{args.weights}`.\n"),
             "Command: `" + " ".join(sys.argv) + "`\n",
             ("| codec | threads | bpp | encode ms: wall median (min) | encode CPU ms "
              "| decode ms: wall median (min) | decode CPU ms |"),
             "|---|---:|---:|---:|---:|---:|---:|"]

    def wall(times):
        return [t[0] for t in times]

    def cpu(times):
        return [t[1] for t in times]

    for name, thr, _enc, _dec, _ext in cfgs:
        k = name + str(thr)
        e, d = enc_t[k], dec_t[k]
        lines.append(f"| {name} | {thr} | {statistics.mean(bpp[k]):.3f} | "
                     f"{1000 * statistics.median(wall(e)):.1f} ({1000 * min(wall(e)):.1f}) | "
                     f"{1000 * statistics.median(cpu(e)):.1f} | "
                     f"{1000 * statistics.median(wall(d)):.1f} ({1000 * min(wall(d)):.1f}) | "
                     f"{1000 * statistics.median(cpu(d)):.1f} |")
    lines.append("")
    def best(times, model):
        ms = [statistics.median(wall(times[c[0] + str(c[1])])) for c in cfgs
              if c[0].startswith(f"neco {model} ")]
        return min(ms) if ms else None

    def verdict(t, limit):
        return f"{1000 * t:.1f} ms ({'met' if t <= limit else 'NOT met'})"

    if "img-wave" in args.models:
        lines.append("Target (issue 6): img-wave encode and decode <= 50 ms each. Best wall "
                     f"median: encode {verdict(best(enc_t, 'img-wave'), 0.05)}, decode "
                     f"{verdict(best(dec_t, 'img-wave'), 0.05)}.\n")
    if "img-swin" in args.models:
        lines.append("Target (issue 6): img-swin decode <= 300 ms. Best wall median: "
                     f"{verdict(best(dec_t, 'img-swin'), 0.3)}.\n")
    lines.append("These are whole processes; the library's own times: "
                 "tests/bench/bench_image.c (README, Speed).\n")
    lines.append("Command lines (SRC = input PNG, BIT = bitstream, DEC = decoded PNG):\n")
    for name, thr, enc, dec, _ext in cfgs:
        lines.append(f"- {name}, {thr} thread(s): `{' '.join(fill(enc, src='SRC', bit='BIT'))}` ; "
                     f"`{' '.join(fill(dec, bit='BIT', dec='DEC'))}`")
    lines.append("")
    md = os.path.join(args.out, "speed.md")
    with open(md, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {md}")


if __name__ == "__main__":
    main()
