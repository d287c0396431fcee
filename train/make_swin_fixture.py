"""Agreement fixtures of the C img-swin codec with PyTorch (issue 6, "Agreement with training");
the img-swin sibling of make_codec_fixture.py.

Encodes a small crop with the C `neco` CLI, then decodes that SAME bitstream in Python from
BITSTREAM.md 3.3 alone (neco_container.py for the container, neco_cdf.RansDecoder for the
entropy stream, hs_int_ref.py for the integer h_s, ref_decode_swin.py for g_s).  The 70x48
crop swin.png is coded at 64x64, so y is 4x4 and g_s's first Swin stage runs on a map padded to
one 8x8 window with the cyclic shift, and g_a's last stage on one shifted 8x8 window (the corner
cases of ARCH.md "Swin-V2 block"); 64x64 keeps the test fast under sanitizers.  Writes, per
quality q in (1, Q):
  tests/data/codec/swin_q{q}.neco      the stream (made by C)
  tests/data/codec/swin_q{q}.sym       int32 LE: z_hat then the residuals of y, as Python decodes them
  tests/data/codec/swin_q{q}.pt.png    the image PyTorch decodes from it
and tests/data/codec/swin.png (the input, 40x56).

usage: python3 train/make_swin_fixture.py path/to/neco [weights/img-swin.safetensors]
Rerun it whenever weights/img-swin.safetensors changes (train/ship_img_swin.sh does)."""
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import neco_cdf  # noqa: E402
import neco_container  # noqa: E402
import ref_decode  # noqa: E402
import ref_decode_swin  # noqa: E402
from make_codec_fixture import OUT, SOURCE, tables  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STRIDE = 64  # tiles are coded at multiples of 64; y at 1/16, z at 1/64


def decode_tile(W, ztab, ytab, payload, w, h):
    hz, wz = -(-h // STRIDE), -(-w // STRIDE)
    cz, c = len(W["z.cdf_length"]), W["gain"].shape[1]
    d = neco_cdf.RansDecoder(payload)
    plane = hz * wz
    z = np.array([d.symbol(*ztab[i // plane], True) for i in range(cz * plane)], dtype=np.int64)
    z = z.reshape(cz, hz, wz)
    idx, mean = ref_decode.hs_from_file(W, z)
    y = np.array([d.symbol(*ytab[int(k)], True) for k in idx.reshape(-1)], dtype=np.int64)
    y = y.reshape(c, 4 * hz, 4 * wz)
    if not d.finish():
        raise SystemExit("the Python decoder finds the stream incomplete")
    return z, y, y + (mean / 4.0 if mean is not None else 0)


def main():
    neco = sys.argv[1]
    weights = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "weights", "img-swin.safetensors")
    os.makedirs(OUT, exist_ok=True)
    W = load_file(weights)
    with safe_open(weights, "np") as f:
        meta = f.metadata()
    window, depth = int(meta["window"]), int(meta["depth"])
    ztab, ytab = tables(W)
    png = os.path.join(OUT, "swin.png")
    src = np.asarray(Image.open(os.path.join(SOURCE, sorted(os.listdir(SOURCE))[0])).convert("RGB"))
    Image.fromarray(src[100:156, 200:240]).save(png)
    levels = W["gain"].shape[0]
    for q in (1, levels):
        stream = os.path.join(OUT, "swin_q%d.neco" % q)
        subprocess.run([neco, "encode", png, stream, "--model", "img-swin", "--quality", str(q), "--backend", "ref",
                        "--threads", "1", "--weights", os.path.dirname(os.path.abspath(weights)), "--quiet"], check=True)
        box = neco_container.Container(open(stream, "rb").read())
        assert box.quality == q and len(box.units) == 1
        x0, y0, w, h = box.tile_rect(0)
        z, y, y_hat = decode_tile(W, ztab, ytab, box.units[0], w, h)
        with open(os.path.join(OUT, "swin_q%d.sym" % q), "wb") as f:
            f.write(z.astype("<i4").tobytes())
            f.write(y.astype("<i4").tobytes())
        with torch.no_grad():
            img = ref_decode_swin.g_s_from_file(W, window, depth, torch.from_numpy(y_hat[None].astype(np.float32)), q - 1)
        img = img[0].permute(1, 2, 0).numpy().astype(np.uint8)[:h, :w]
        Image.fromarray(img).save(os.path.join(OUT, "swin_q%d.pt.png" % q))
        print("q%d: %d bytes, z %s, y %s" % (q, len(box.units[0]), z.shape, y.shape))


if __name__ == "__main__":
    main()
