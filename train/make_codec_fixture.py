"""Agreement fixtures of the C image codec with PyTorch (issue 6, "Agreement with training"),
for img-wave and img-swin (img-wave with Swin stages; the same stream layout and tensors plus
the Swin blocks, ARCH.md).

Encodes a small crop with the C `neco` CLI, then decodes that SAME bitstream in Python, from
BITSTREAM.md alone (train/neco_container.py for the container, neco_cdf.RansDecoder for the
entropy stream, train/hs_int_ref.py for the integer h_s and the checkerboard context,
train/ref_decode.py for g_s, its Swin stages and the wavelet in PyTorch).  The crop is 70x48
(a width that is not a multiple of 16), coded at 80x48 (img-swin's Swin blocks then run on 20x12
maps, zero-padded to 3x2 windows of 8, the shifted blocks with their masks).
Writes, per quality q in (1, Q), with PREFIX agree (img-wave) or swin (img-swin):
  tests/data/codec/PREFIX_qN.neco      the stream (made by C)
  tests/data/codec/PREFIX_qN.sym       int32 LE: z_hat then the residuals of y (C order), as
                                       Python decodes them
  tests/data/codec/PREFIX_qN.pt.png    the image PyTorch decodes from it
and tests/data/codec/PREFIX.png (the input).  tests/test_img_wave.c / test_img_swin.c check that
the C decoder decodes the same symbols exactly and an image within 1 level of PyTorch's.

usage: python3 train/make_codec_fixture.py path/to/neco [WEIGHTS] [--model img-wave|img-swin]
(WEIGHTS default weights/<model>.safetensors).  Rerun it whenever the weights change
(train/ship_img_swin.sh does for img-swin)."""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import neco_cdf  # noqa: E402
import neco_container  # noqa: E402
import ref_decode  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "codec")
SOURCE = "/work/shared/data/img/valid/cbsd68"


PRECISION = 20  # BITSTREAM.md 2.5 and 3.1
PREFIX = {"img-wave": "agree", "img-swin": "swin"}


def tables(W):
    """[(cdf, offset)] of the factorized z tables and of the Gaussian y tables."""
    cdf, lengths, offsets = W["z.cdf"], W["z.cdf_length"], W["z.offset"]
    z, at = [], 0
    for c in range(len(lengths)):
        z.append(([int(v) for v in cdf[at: at + lengths[c]]], int(offsets[c])))
        at += lengths[c]
    scales = [int(s) for s in W["y.scales_q16"]]
    y = [(c, off) for off, c in neco_cdf.gaussian_tables(PRECISION, scales, neco_cdf.erf_table())]
    return z, y


def decode_tile(W, ztab, ytab, payload, w, h, stride=16):
    """z_hat, the residuals of y and y_hat of a tile of w x h pixels, coded at multiples of
    stride (the file's metadata `stride`, 16); z at 1/16, y at 1/4."""
    hp, wp = -(-h // stride) * stride, -(-w // stride) * stride
    cz, c = len(W["z.cdf_length"]), W["gain"].shape[1]
    d = neco_cdf.RansDecoder(payload)
    plane = (hp // 16) * (wp // 16)
    z = np.array([d.symbol(*ztab[i // plane], True) for i in range(cz * plane)], dtype=np.int64)
    z = z.reshape(cz, hp // 16, wp // 16)
    y, idx, mean = ref_decode.decode_y(W, z, lambda k: d.symbol(*ytab[k], True))
    assert y.shape == (c, hp // 4, wp // 4)
    if not d.finish():
        raise SystemExit("the Python decoder finds the stream incomplete")
    # y holds the coded residuals; y_hat = residual + mean / 4 (ARCH.md, quarter units)
    y_hat = y + (mean / 4.0 if mean is not None else 0)
    return z, y, y_hat


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("neco", help="the neco CLI")
    ap.add_argument("weights", nargs="?", help="default weights/<model>.safetensors")
    ap.add_argument("--model", default="img-wave", choices=sorted(PREFIX))
    ap.add_argument("--out", default=OUT, help="fixture folder (default tests/data/codec)")
    a = ap.parse_args()
    weights = a.weights or os.path.join(HERE, "..", "weights", a.model + ".safetensors")
    prefix = PREFIX[a.model]
    os.makedirs(a.out, exist_ok=True)
    W = load_file(weights)
    meta = ref_decode.read_meta(weights)
    if meta.get("model", "img-wave") != a.model:
        raise SystemExit("%s holds %s weights, not %s" % (weights, meta.get("model"), a.model))
    stride, window = ref_decode.stride_of(meta), ref_decode.window_of(meta)
    ztab, ytab = tables(W)
    src = np.asarray(Image.open(os.path.join(SOURCE, sorted(os.listdir(SOURCE))[0])).convert("RGB"))
    crop = src[100:148, 200:270]  # 70 x 48: a width that is not a multiple of 16
    png = os.path.join(a.out, prefix + ".png")
    Image.fromarray(crop).save(png)
    levels = W["gain"].shape[0]
    for q in (1, levels):
        stream = os.path.join(a.out, "%s_q%d.neco" % (prefix, q))
        subprocess.run([a.neco, "encode", png, stream, "--model", a.model, "--quality", str(q), "--backend", "ref",
                        "--weights", os.path.dirname(os.path.abspath(weights)), "--quiet"], check=True)
        box = neco_container.Container(open(stream, "rb").read())
        assert box.quality == q and len(box.units) == 1
        x0, y0, w, h = box.tile_rect(0)
        z, y, y_hat = decode_tile(W, ztab, ytab, box.units[0], w, h, stride)
        with open(os.path.join(a.out, "%s_q%d.sym" % (prefix, q)), "wb") as f:
            f.write(z.astype("<i4").tobytes())
            f.write(y.astype("<i4").tobytes())
        with torch.no_grad():
            img = ref_decode.g_s_from_file(W, torch.from_numpy(y_hat[None].astype(np.float32)), q - 1, window)
        img = img[0].permute(1, 2, 0).numpy().astype(np.uint8)[:h, :w]
        Image.fromarray(img).save(os.path.join(a.out, "%s_q%d.pt.png" % (prefix, q)))
        print("%s q%d: %d bytes, z %s, y %s" % (a.model, q, len(box.units[0]), z.shape, y.shape))


if __name__ == "__main__":
    main()
