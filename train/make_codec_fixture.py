"""Agreement fixture of the C image codec with PyTorch (issue 6, "Agreement with training").

Encodes a small crop with the C `neco` CLI, then decodes that SAME bitstream in Python, from
BITSTREAM.md alone (train/neco_container.py for the container, neco_cdf.RansDecoder for the
entropy stream, train/hs_int_ref.py for the integer h_s, train/ref_decode.py for g_s and the
wavelet in PyTorch).  Writes, per quality:
  tests/data/codec/agree_qN.neco      the stream (made by C)
  tests/data/codec/agree_qN.sym       int32 LE: z_hat then y_hat as decoded by Python
  tests/data/codec/agree_qN.pt.png    the image PyTorch decodes from it
and tests/data/codec/agree.png (the input).  tests/test_img_wave.c checks that the C decoder
decodes the same symbols exactly and an image within 1 level of PyTorch's.

usage: python3 train/make_codec_fixture.py path/to/neco [weights/img-wave.safetensors]
Rerun it whenever weights/img-wave.safetensors changes."""
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


def decode_tile(W, ztab, ytab, payload, w, h):
    hp, wp = -(-h // 16) * 16, -(-w // 16) * 16
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
    neco = sys.argv[1]
    weights = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "weights", "img-wave.safetensors")
    os.makedirs(OUT, exist_ok=True)
    W = load_file(weights)
    ztab, ytab = tables(W)
    src = np.asarray(Image.open(os.path.join(SOURCE, sorted(os.listdir(SOURCE))[0])).convert("RGB"))
    crop = src[100:148, 200:270]  # 70 x 48: a width that is not a multiple of 16
    png = os.path.join(OUT, "agree.png")
    Image.fromarray(crop).save(png)
    levels = W["gain"].shape[0]
    for q in (1, levels):
        stream = os.path.join(OUT, "agree_q%d.neco" % q)
        subprocess.run([neco, "encode", png, stream, "--model", "img-wave", "--quality", str(q), "--backend", "ref",
                        "--weights", os.path.dirname(os.path.abspath(weights)), "--quiet"], check=True)
        box = neco_container.Container(open(stream, "rb").read())
        assert box.quality == q and len(box.units) == 1
        x0, y0, w, h = box.tile_rect(0)
        z, y, y_hat = decode_tile(W, ztab, ytab, box.units[0], w, h)
        with open(os.path.join(OUT, "agree_q%d.sym" % q), "wb") as f:
            f.write(z.astype("<i4").tobytes())
            f.write(y.astype("<i4").tobytes())
        with torch.no_grad():
            img = ref_decode.g_s_from_file(W, torch.from_numpy(y_hat[None].astype(np.float32)), q - 1)
        img = img[0].permute(1, 2, 0).numpy().astype(np.uint8)[:h, :w]
        Image.fromarray(img).save(os.path.join(OUT, "agree_q%d.pt.png" % q))
        print("q%d: %d bytes, z %s, y %s" % (q, len(box.units[0]), z.shape, y.shape))


if __name__ == "__main__":
    main()
