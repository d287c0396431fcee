"""The img-swin export contract (ARCH.md "img-swin"): a small random ImgSwin, exported with
export_swin.py's tensor layout and folded scales, is decoded by ref_decode_swin.py (file and
ARCH.md only) like the model, on sizes whose Swin maps are one shifted window and need zero
padding; and the exported header is canonical (two exports are byte-identical).
Run: python3 train/test_export_swin.py"""
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_decode_swin  # noqa: E402
from export_swin import canonical_header, export_img_swin  # noqa: E402
from models_swin import ImgSwin  # noqa: E402


def _model():
    torch.manual_seed(0)
    m = ImgSwin(dims=(16, 24, 24), latent=32, hyper=16, depth=2, heads=2, levels=3).eval()
    with torch.no_grad():  # non-trivial norms, biases and gains, as after training
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    m.h_s.calibrate()
    m.h_s.quant = True
    return m


@torch.no_grad()
def test_reference_transforms_match_the_model():
    m = _model()
    T, meta = export_img_swin(m)
    W = {k: np.asarray(v) for k, v in T.items()}
    window, depth = int(meta["window"]), int(meta["depth"])
    torch.manual_seed(1)
    for h, w in ((64, 64), (64, 192), (128, 128)):  # g_s stage0: 4x4 padded, 4x12 padded, 8x8 shifted
        v = torch.randint(0, 256, (1, 3, h, w)).float()
        for q in range(3):
            y_model = m.analysis(v / 255, q)
            y_file = ref_decode_swin.g_a_from_file(W, window, depth, v - 127.5, q)
            assert (y_model - y_file).abs().max() < 1e-3 * max(1.0, float(y_model.abs().max()))
            y_hat = torch.round(y_model)
            a = torch.clamp(torch.round(m.synthesis(y_hat, q) * 255), 0, 255)
            b = ref_decode_swin.g_s_from_file(W, window, depth, y_hat, q)
            assert (a - b).abs().max() <= 1


def test_header_is_canonical():
    T, meta = export_img_swin(_model())
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i in range(2):
            p = os.path.join(d, "%d.safetensors" % i)
            save_file(T, p, metadata=dict(meta))
            canonical_header(p)
            files.append(open(p, "rb").read())
        assert files[0] == files[1]
        W = load_file(os.path.join(d, "0.safetensors"))
        assert set(W) == set(T)


if __name__ == "__main__":
    test_reference_transforms_match_the_model()
    test_header_is_canonical()
    print("ok")
