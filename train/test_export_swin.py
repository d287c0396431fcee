"""The img-swin export contract (ARCH.md; img-swin = img-wave with Swin-V2 stages): a small random
ImgWave(swin_a=2, swin_s=2), exported by export.py, holds img-wave's tensors plus
g_a.swin{b}.* / g_s.swin{b}.* and the Swin metadata; ref_decode.py (file and ARCH.md only) runs
its g_a and g_s like the model on images padded to the stride 16 as the codec pads (1/4 maps of
whole windows: one shifted window, 2x3 windows; and maps that need the blocks' own zero
padding); eval_image.load_weights_file rebuilds the model from the file; the exported header is
canonical (two exports are byte-identical).
Run: python3 train/test_export_swin.py"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_decode  # noqa: E402
from eval_image import load_weights_file  # noqa: E402
from export import canonical_header, export_img_wave, pad_to_stride  # noqa: E402
from models import ImgWave  # noqa: E402

BLOCK = ["attn.logit_scale", "attn.q_bias", "attn.v_bias", "attn.qkv.weight", "attn.proj.weight", "attn.proj.bias",
         "attn.cpb.fc1.weight", "attn.cpb.fc1.bias", "attn.cpb.fc2.weight", "norm1.weight", "norm1.bias",
         "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"]


def _model(swin=2, ctx=True):
    torch.manual_seed(0)
    m = ImgWave(latent=16, hyper=16, width=48, blocks=2, enc_width=32, hyper_width=16, levels=3, ctx=ctx,
                swin_a=swin, swin_s=swin, swin_head_dim=16).eval()
    with torch.no_grad():  # non-trivial norms, biases, branches and gains, as after training
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for b in list(m.enc_swin) + list(m.dec_swin):
            b.norm1.weight.add_(0.5)
            b.norm2.weight.add_(0.5)
            b.attn.logit_scale.add_(torch.randn_like(b.attn.logit_scale))
    m.h_s.calibrate()
    m.h_s.quant = True
    if m.ctx is not None:
        m.ctx.calibrate(m.h_s)
        m.ctx.quant = True
    return m


def test_tensors_and_metadata():
    m = _model()
    T, meta = export_img_wave(m, [0.001, 0.01, 0.1])
    T0, meta0 = export_img_wave(_model(swin=0), [0.001, 0.01, 0.1])
    assert meta0["model"] == "img-wave" and meta0["stride"] == "16" and not any(".swin" in k for k in T0)
    assert not any(k.startswith("swin") for k in meta0)
    assert meta["model"] == "img-swin" and meta["stride"] == "16"
    assert (meta["swin_window"], meta["swin_a"], meta["swin_s"]) == ("8", "2", "2")
    assert set(meta) == set(meta0) | {"swin_window", "swin_a", "swin_s"}
    swin = {"%s.swin%d.%s" % (g, b, n) for g in ("g_a", "g_s") for b in range(2) for n in BLOCK}
    assert set(T) == set(T0) | swin  # img-wave's names plus the blocks
    for k in T0:  # (the z CDFs' total length depends on the learned densities)
        assert (T[k].shape == T0[k].shape or k == "z.cdf") and T[k].dtype == T0[k].dtype, k
    for g, d, heads in (("g_a", 32, 2), ("g_s", 48, 3)):
        for b in range(2):
            p = "%s.swin%d." % (g, b)
            cph = T[p + "attn.cpb.fc1.weight"].shape[0]
            shapes = {"attn.logit_scale": (heads,), "attn.q_bias": (d,), "attn.v_bias": (d,),
                      "attn.qkv.weight": (3 * d, d), "attn.proj.weight": (d, d), "attn.proj.bias": (d,),
                      "attn.cpb.fc1.weight": (cph, 2), "attn.cpb.fc1.bias": (cph,),
                      "attn.cpb.fc2.weight": (heads, cph), "norm1.weight": (d,), "norm1.bias": (d,),
                      "norm2.weight": (d,), "norm2.bias": (d,), "mlp.fc1.weight": (2 * d, d),
                      "mlp.fc1.bias": (2 * d,), "mlp.fc2.weight": (d, 2 * d), "mlp.fc2.bias": (d,)}
            for n, s in shapes.items():
                assert T[p + n].shape == s and T[p + n].dtype == np.float32, (p + n, T[p + n].shape, s)
    gs, _ = json.loads(meta["decoder_macs_per_pixel"]).values()
    assert gs > json.loads(meta0["decoder_macs_per_pixel"])["g_s"]


@torch.no_grad()
def test_reference_transforms_match_the_model():
    m = _model()
    T, meta = export_img_wave(m)
    W = {k: np.asarray(v) for k, v in T.items()}
    window = ref_decode.window_of(meta)
    torch.manual_seed(1)
    # images as the codec codes them: 32x32 (1/4 map: one window, shifted), 64x96 (2x3 windows),
    # then maps that the blocks pad themselves (48x70 coded at 48x80: 12x20; 8x8: a 2x2 map)
    for h, w, stride in ((32, 32, 16), (64, 96, 16), (48, 70, 16), (8, 8, 16)):
        v = pad_to_stride(torch.randint(0, 256, (1, 3, h, w)).float(), stride)
        for q in range(3):
            y_model = m.analysis(v / 255, q)
            y_file = ref_decode.g_a_from_file(W, v - 127.5, q, window)
            assert (y_model - y_file).abs().max() < 1e-4 * max(1.0, float(y_model.abs().max()))
            y_hat = torch.round(y_model)
            a = torch.clamp(torch.round(m.synthesis(y_hat, q) * 255), 0, 255)
            b = ref_decode.g_s_from_file(W, y_hat, q, window)
            assert (a - b).abs().max() <= 1
            # the Swin stages matter (so the check would see a wrong block)
            W0 = {k: x for k, x in W.items() if ".swin" not in k}
            assert (ref_decode.g_s_from_file(W0, y_hat, q, window) - b).abs().max() > 1


@torch.no_grad()
def test_shift_and_mask_always():
    """The odd block is shifted (with the mask) also when the map is a single window."""
    m = _model()
    T, _ = export_img_wave(m)
    W = {k: np.asarray(v) for k, v in T.items()}
    x = torch.randn(1, 48, 8, 8)
    got = ref_decode.swin_block(W, "g_s.swin1", x, 8, 4)
    assert torch.allclose(got, m.dec_swin[1](x), atol=1e-5)
    assert not torch.allclose(got, ref_decode.swin_block(W, "g_s.swin1", x, 8, 0), atol=1e-3)


@torch.no_grad()
def test_header_is_canonical_and_file_reloads():
    m = _model()
    T, meta = export_img_wave(m, [0.001, 0.01, 0.1])
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i in range(2):
            p = os.path.join(d, "%d.safetensors" % i)
            save_file(T, p, metadata=dict(meta))
            canonical_header(p)
            files.append(open(p, "rb").read())
        assert files[0] == files[1]
        path = os.path.join(d, "0.safetensors")
        W = load_file(path)
        assert set(W) == set(T)
        assert ref_decode.read_meta(path) == meta
        assert ref_decode.stride_of(meta) == 16 and ref_decode.window_of(meta) == 8
        m2, _, _ = load_weights_file(path)  # eval_image on an exported img-swin file
        assert m2.stride == 16 and len(m2.enc_swin) == 2 and len(m2.dec_swin) == 2
        v = torch.randint(0, 256, (1, 3, 64, 96)).float()
        y = m.analysis(v / 255, 1)
        assert (m2.analysis(v / 255, 1) - y).abs().max() < 1e-4 * max(1.0, float(y.abs().max()))
        y_hat = torch.round(y)
        assert (m2.synthesis(y_hat, 1) - m.synthesis(y_hat, 1)).abs().max() * 255 < 0.05


if __name__ == "__main__":
    torch.set_num_threads(1)
    test_tensors_and_metadata()
    test_reference_transforms_match_the_model()
    test_shift_and_mask_always()
    test_header_is_canonical_and_file_reloads()
    print("ok")
