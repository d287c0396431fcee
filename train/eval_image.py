#!/usr/bin/env python3
"""Evaluate an image-model checkpoint on the validation set (CBSD68, never trained on) with
real quantisation and code lengths from the integer coding tables (coding.py):

  python3 train/eval_image.py train/runs/wave1/ckpt.pt [--levels 0,3,7] [--images 68] [--json out.json]
  python3 train/eval_image.py weights/img-wave.safetensors     (an exported file: its own tables and integer h_s)
  python3 train/eval_image.py weights/img-swin.safetensors     (img-swin: img-wave with Swin stages, either way)

Per quality level: mean bpp (all bits of y and z over the original pixel count), mean
PSNR-RGB of the 8-bit decoded image, mean MS-SSIM (RGB average).  The image is padded to
a multiple of the model's stride (16) by edge replication, as the codec does,
and cropped after decoding.
The scale indices come from the integer h_s (float64 fake-quant, exact); a checkpoint
trained without QAT is post-training-quantised from its calibration statistics.
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coding  # noqa: E402
from models import LAMBDAS  # noqa: E402
from train_image import build_model  # noqa: E402

VALID = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "img", "valid", "cbsd68")


def load_model(path):
    st = torch.load(path, map_location="cpu", weights_only=False)
    model, _ = build_model(st["model_name"], st["config"], st["model"])
    model.load_state_dict(st["model"])
    model.eval()
    if not st.get("hs_quant"):
        model.h_s.calibrate()
    model.h_s.quant = True
    if getattr(model, "ctx", None) is not None:
        if not st.get("ctx_quant"):
            model.ctx.calibrate(model.h_s)
        model.ctx.quant = True
    return model, st


class _FileHyperSynthesis(torch.nn.Module):
    """The integer h_s of a weights file, run by the numpy reference (hs_int_ref.py)."""

    def __init__(self, W):
        super().__init__()
        self.W = W
        self.quant = True

    def forward(self, z_hat, features=False):
        import ref_decode
        idx, mean, feat = [], [], []
        for zz in z_hat.round().long().numpy():
            i, mu, f = ref_decode.hs_from_file(self.W, zz, features=True)
            idx.append(i)
            mean.append(mu if mu is not None else np.zeros_like(i))
            feat.append(f)
        out = (torch.from_numpy(np.stack(idx)).double(), torch.from_numpy(np.stack(mean)).double() / 4.0)
        return out + (torch.from_numpy(np.stack(feat)),) if features else out


class _FileContext(torch.nn.Module):
    """The checkerboard context of a weights file, run by the numpy reference."""

    def __init__(self, W):
        super().__init__()
        self.W = W
        self.quant = True

    def forward(self, y_hat_anchors, feat, h_s):
        import ref_decode
        idx, mean = [], []
        for ya, f in zip(y_hat_anchors.numpy(), feat.numpy()):
            i, mu = ref_decode.ctx_from_file(self.W, np.round(ya * 4).astype(np.int64), f)
            idx.append(i)
            mean.append(mu)
        return torch.from_numpy(np.stack(idx)).double(), torch.from_numpy(np.stack(mean)).double() / 4.0


def load_weights_file(path):
    """An ImgWave whose float weights come from an exported file (scales of export.py
    unfolded) and whose h_s is the file's integer h_s; an img-swin file gives the ImgWave with
    its Swin stages (block counts and window from the metadata, heads from the tensors)."""
    from safetensors.numpy import load_file
    from safetensors import safe_open
    from models import IN_SCALE, OUT_SCALE, ImgWave
    W = load_file(path)
    meta = safe_open(path, "np").metadata()
    swin = {}
    if meta.get("model") == "img-swin":
        swin = dict(swin_a=int(meta["swin_a"]), swin_s=int(meta["swin_s"]), swin_window=int(meta["swin_window"]))
        # heads = dim // head_dim in models.swin_stage; the file gives heads per block
        for p, dim in (("g_a.swin0", int(meta["enc_width"])), ("g_s.swin0", int(meta["dec_width"]))):
            if p + ".attn.logit_scale" in W:
                swin["swin_head_dim"] = dim // W[p + ".attn.logit_scale"].shape[0]
    m = ImgWave(latent=int(meta["latent_channels"]), hyper=int(meta["hyper_channels"]),
                width=int(meta["dec_width"]), blocks=int(meta["dec_blocks"]), enc_width=int(meta["enc_width"]),
                hyper_width=int(meta["hyper_width"]), levels=W["gain"].shape[0], **swin)
    t = lambda n, scale=1.0: torch.from_numpy(W[n]).float() / scale  # noqa: E731
    with torch.no_grad():
        def setc(mod, name, in_scale=1.0, out_scale=1.0):
            mod.weight.copy_(t(name + ".weight", in_scale * out_scale))
            if mod.bias is not None:
                mod.bias.copy_(t(name + ".bias", out_scale))
        setc(m.enc_lin, "g_a.lin")
        setc(m.enc_branch[0], "g_a.branch0", in_scale=IN_SCALE)
        setc(m.enc_branch[2], "g_a.branch1")
        setc(m.enc_branch[4], "g_a.branch2", out_scale=OUT_SCALE)
        m.log_gain.copy_(torch.log(t("gain")))
        m.log_inv_gain.copy_(torch.log(t("inv_gain")))
        for i, j in enumerate((0, 2, 4)):
            setc(m.h_a[j], "h_a.conv%d" % i)  # ha_in_scale is folded: keep it 1 here
        setc(m.dec_lin, "g_s.lin")
        setc(m.dec_in, "g_s.conv_in", in_scale=IN_SCALE)
        for i, b in enumerate(m.dec_blocks):
            setc(b.dw, "g_s.block%d.dw" % i)
            setc(b.pw1, "g_s.block%d.pw1" % i)
            setc(b.pw2, "g_s.block%d.pw2" % i)
        setc(m.dec_out, "g_s.conv_out", out_scale=OUT_SCALE)
        for prefix, stage in (("g_a", m.enc_swin), ("g_s", m.dec_swin)):
            for i, b in enumerate(stage):
                p = "%s.swin%d." % (prefix, i)
                a = b.attn
                for mod, name in ((a.qkv.weight, "attn.qkv.weight"), (a.q_bias, "attn.q_bias"),
                                  (a.v_bias, "attn.v_bias"), (a.proj.weight, "attn.proj.weight"),
                                  (a.proj.bias, "attn.proj.bias"), (a.cpb_mlp[0].weight, "attn.cpb.fc1.weight"),
                                  (a.cpb_mlp[0].bias, "attn.cpb.fc1.bias"), (a.cpb_mlp[2].weight, "attn.cpb.fc2.weight"),
                                  (b.norm1.weight, "norm1.weight"), (b.norm1.bias, "norm1.bias"),
                                  (b.norm2.weight, "norm2.weight"), (b.norm2.bias, "norm2.bias"),
                                  (b.mlp[0].weight, "mlp.fc1.weight"), (b.mlp[0].bias, "mlp.fc1.bias"),
                                  (b.mlp[2].weight, "mlp.fc2.weight"), (b.mlp[2].bias, "mlp.fc2.bias")):
                    mod.copy_(t(p + name))
                a.logit_scale.copy_(t(p + "attn.logit_scale").view_as(a.logit_scale))
    m.h_s = _FileHyperSynthesis(W)
    if "ctx.c0.weight" in W:
        m.ctx = _FileContext(W)
    cdf, lengths, offsets = W["z.cdf"], W["z.cdf_length"], W["z.offset"]
    tables, pos = [], 0
    for n, off in zip(lengths, offsets):
        tables.append((int(off), [int(v) for v in cdf[pos:pos + n]]))
        pos += n
    m.eval()
    st = dict(step=int(meta.get("trained_steps", -1)), trained_seconds=60 * float(meta.get("trained_minutes", 0)),
              hs_quant=True, lambdas=json.loads(meta["lambdas"]) if "lambdas" in meta else LAMBDAS)
    return m, st, tables


def _gauss_window(size=11, sigma=1.5):
    g = torch.exp(-((torch.arange(size) - size // 2).double() ** 2) / (2 * sigma**2))
    return g / g.sum()


def ms_ssim(a, b, max_val=255.0):
    """MS-SSIM (Wang, Simoncelli & Bovik 2003), 5 scales with the standard weights,
    11x11 Gaussian window (sigma 1.5), 'valid' filtering, average pooling between scales;
    a, b: (1, 3, H, W) float64 in 0..255; returns the mean over the RGB channels."""
    w = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], dtype=torch.float64)
    g = _gauss_window()
    gv = g.view(1, 1, -1, 1).repeat(3, 1, 1, 1)  # separable 11x11 window
    gh = g.view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    mcs = []
    for i in range(5):
        f = lambda t: F.conv2d(F.conv2d(t, gv, groups=3), gh, groups=3)  # noqa: E731
        mu_a, mu_b = f(a), f(b)
        saa, sbb, sab = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
        cs = (2 * sab + c2) / (saa + sbb + c2)
        ssim = ((2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)) * cs
        if i < 4:
            mcs.append(F.relu(cs.mean((2, 3))))
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        else:
            last = F.relu(ssim.mean((2, 3)))
    vals = torch.stack(mcs + [last], 0)  # (5, 1, 3)
    return float(torch.prod(vals ** w[:, None, None], 0).mean())


class Evaluator:
    def __init__(self, model, z_tables=None):
        self.model = model
        _, gt = coding.gaussian_tables()
        self.bits_y = coding.BitCounter(gt)
        self.bits_z = coding.BitCounter(z_tables or coding.factorized_tables(model.prior_z))

    @torch.no_grad()
    def code(self, img_u8, q):
        """img_u8: (H, W, 3) uint8 -> dict(bits, bpp, psnr, msssim, escapes)."""
        m = self.model
        h, w, _ = img_u8.shape
        x = torch.from_numpy(img_u8).permute(2, 0, 1)[None].float() / 255.0
        ph, pw = (-h) % m.stride, (-w) % m.stride
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate")
        y = m.analysis(xp, q)
        z_hat = torch.round(m.hyper_analysis(y))
        idx, mean = m.entropy_params(y.double(), z_hat.double(), lambda v: torch.floor(v + 0.5)) \
            if getattr(m, "ctx", None) is not None else m.h_s(z_hat.double())
        idx = idx.round().long()
        if mean is None:
            mean = torch.zeros_like(y, dtype=torch.float64)
        # BITSTREAM.md 2.3 means: q = floor(y - mu + 1/2) (mu exact in quarter units), y_hat = q + mu
        res = torch.floor(y.double() - mean + 0.5)
        y_hat = (res + mean).float()
        by, ey = self.bits_y(res.long().numpy(), idx.numpy())
        cz = torch.arange(z_hat.shape[1]).view(1, -1, 1, 1).expand_as(z_hat)
        bz, ez = self.bits_z(z_hat.long().numpy(), cz.numpy())
        x_hat = m.synthesis(y_hat, q)[:, :, :h, :w]
        out = torch.round(x_hat.clamp(0, 1) * 255.0).double()
        ref = torch.from_numpy(img_u8).permute(2, 0, 1)[None].double()
        mse = float((out - ref).pow(2).mean())
        return dict(bits=by + bz, bits_z=bz, bpp=(by + bz) / (h * w), psnr=10 * math.log10(255**2 / max(mse, 1e-10)),
                    msssim=ms_ssim(out, ref), escapes=ey + ez)


def load_images(folder, n):
    files = sorted(glob.glob(os.path.join(folder, "*.png")))[:n]
    return [(os.path.basename(f), np.asarray(Image.open(f).convert("RGB"))) for f in files]


def evaluate(model, images, levels, z_tables=None, lambdas=LAMBDAS):
    ev = Evaluator(model, z_tables)
    res = []
    for q in levels:
        rows = [ev.code(img, q) for _, img in images]
        res.append(dict(level=q, lam=lambdas[q],
                        bpp=float(np.mean([r["bpp"] for r in rows])),
                        bpp_z=float(np.mean([r["bits_z"] for r in rows]) / np.mean([i.shape[0] * i.shape[1] for _, i in images])),
                        psnr=float(np.mean([r["psnr"] for r in rows])),
                        msssim=float(np.mean([r["msssim"] for r in rows])),
                        escapes=int(sum(r["escapes"] for r in rows))))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("--valid", default=VALID)
    ap.add_argument("--images", type=int, default=68)
    ap.add_argument("--levels", default="all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    z_tables = None
    if a.ckpt.endswith(".safetensors"):  # an exported weights file (img-wave or img-swin)
        model, st, z_tables = load_weights_file(a.ckpt)
    else:
        model, st = load_model(a.ckpt)
    lambdas = list(st.get("lambdas", LAMBDAS))
    levels = list(range(len(lambdas))) if a.levels == "all" else [int(v) for v in a.levels.split(",")]
    images = load_images(a.valid, a.images)
    t = time.time()
    res = evaluate(model, images, levels, z_tables, lambdas)
    print("checkpoint %s: step %d, %.1f min trained, h_s QAT %s; %d images of %s; %.0f s"
          % (a.ckpt, st["step"], st["trained_seconds"] / 60, bool(st.get("hs_quant")), len(images), a.valid, time.time() - t))
    print("level  lambda    bpp     (z)     PSNR-RGB  MS-SSIM  escapes")
    for r in res:
        print("%5d  %.4f  %.4f  %.4f  %7.3f  %.5f  %d" % (r["level"], r["lam"], r["bpp"], r["bpp_z"], r["psnr"], r["msssim"], r["escapes"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(ckpt=a.ckpt, step=st["step"], trained_minutes=st["trained_seconds"] / 60,
                           hs_qat=bool(st.get("hs_quant")), images=len(images), results=res), f, indent=1)


if __name__ == "__main__":
    main()
