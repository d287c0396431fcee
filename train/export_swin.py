#!/usr/bin/env python3
"""Export a trained img-swin checkpoint to weights/img-swin.safetensors (layout: ARCH.md "img-swin").

  python3 train/export_swin.py train/cache/swin_gpu.pt --out weights/img-swin.safetensors

Float weights are stored as F32 (as img-wave's) with the fixed scales of models_swin.py folded
in: the input map (x01 - 0.5) * 4 = (v - 127.5) * 4/255 into g_a.conv0, the factor 16 of y
into g_a.conv3, 1/16 into g_s.conv_in and the output map x / 4 + 0.5 (times 255) into g_s.up3,
so that the C side runs plain layers on p = v - 127.5 and adds 127.5 at the end.  The integer
h_s, the factorized CDF tables of z and the scale table of y are written exactly as
export.py writes img-wave's (the same helpers).  After writing, the file is read back: the
pure-integer numpy h_s must equal the PyTorch fake-quant h_s on real hyper-latents, and
ref_decode_swin.py (file + ARCH.md only) must decode like the training model.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coding  # noqa: E402
import ref_decode  # noqa: E402
import ref_decode_swin  # noqa: E402
from eval_image import VALID, load_images, load_model  # noqa: E402
from export import FORMAT_VERSION, canonical_header, export_hyperprior, f32  # noqa: E402

IN_MAP = 4.0 / 255.0  # (x01 - 0.5) * 4 with x01 = v / 255, on p = v - 127.5
Y_SCALE = 16.0  # y = g_a(.) * 16 * gain
OUT_MAP = 255.0 / 4.0  # v = 255 * (g_s(.) / 4 + 0.5) = g_s(.) * 255/4 + 127.5


def export_img_swin(model):
    T = {}

    def conv(name, m, in_scale=1.0, out_scale=1.0):
        T[name + ".weight"] = f32(m.weight * (in_scale * out_scale))
        T[name + ".bias"] = f32(m.bias * out_scale)

    def block(p, b):
        a = b.attn
        T[p + ".attn.logit_scale"] = f32(a.logit_scale.view(-1))
        T[p + ".attn.q_bias"] = f32(a.q_bias)
        T[p + ".attn.v_bias"] = f32(a.v_bias)
        T[p + ".attn.qkv.weight"] = f32(a.qkv.weight)
        T[p + ".attn.proj.weight"] = f32(a.proj.weight)
        T[p + ".attn.proj.bias"] = f32(a.proj.bias)
        T[p + ".attn.cpb.fc1.weight"] = f32(a.cpb_mlp[0].weight)
        T[p + ".attn.cpb.fc1.bias"] = f32(a.cpb_mlp[0].bias)
        T[p + ".attn.cpb.fc2.weight"] = f32(a.cpb_mlp[2].weight)
        T[p + ".norm1.weight"] = f32(b.norm1.weight)
        T[p + ".norm1.bias"] = f32(b.norm1.bias)
        T[p + ".mlp.fc1.weight"] = f32(b.mlp[0].weight)
        T[p + ".mlp.fc1.bias"] = f32(b.mlp[0].bias)
        T[p + ".mlp.fc2.weight"] = f32(b.mlp[2].weight)
        T[p + ".mlp.fc2.bias"] = f32(b.mlp[2].bias)
        T[p + ".norm2.weight"] = f32(b.norm2.weight)
        T[p + ".norm2.bias"] = f32(b.norm2.bias)

    def stage(p, s):
        for i, b in enumerate(s):
            block("%s.block%d" % (p, i), b)

    ga, gs = model.g_a, model.g_s
    conv("g_a.conv0", ga[0], in_scale=IN_MAP)
    stage("g_a.stage0", ga[1])
    conv("g_a.conv1", ga[2])
    stage("g_a.stage1", ga[3])
    conv("g_a.conv2", ga[4])
    stage("g_a.stage2", ga[5])
    conv("g_a.conv3", ga[6], out_scale=Y_SCALE)
    T["gain"] = f32(torch.exp(model.log_gain))
    T["inv_gain"] = f32(torch.exp(model.log_inv_gain))
    for i, j in enumerate((0, 2, 4)):
        conv("h_a.conv%d" % i, model.h_a[j])
    export_hyperprior(T, model)
    conv("g_s.conv_in", gs[0], in_scale=1.0 / Y_SCALE)
    stage("g_s.stage0", gs[1])
    for i in range(3):
        conv("g_s.up%d" % i, gs[2 + 2 * i][0])
        stage("g_s.stage%d" % (i + 1), gs[3 + 2 * i])
    conv("g_s.up3", gs[8][0], out_scale=OUT_MAP)
    b0 = ga[1][0]
    gsm, hsm = model.decoder_macs_per_pixel()
    dims = [ga[0].out_channels, ga[2].out_channels, ga[4].out_channels]
    meta = dict(model="img-swin", format_version=str(FORMAT_VERSION),
                latent_channels=str(model.latent), hyper_channels=str(model.hyper),
                quality_levels=str(model.log_gain.shape[0]), dims=",".join(str(d) for d in dims),
                depth=str(len(ga[1])), heads=str(b0.attn.heads), window=str(model.window),
                mlp_hidden=",".join(str(s[0].mlp[0].out_features) for s in (ga[1], ga[3], ga[5])),
                hyper_width=str(model.h_a[0].out_channels), cdf_precision=str(coding.PRECISION), stride="64",
                decoder_macs_per_pixel=json.dumps(dict(g_s=gsm, h_s=hsm)),
                hs_mean=str(int(model.h_s.mean_layer is not None)), mean_frac_bits="2")
    return T, meta


def _crop(img, h, w):
    return torch.from_numpy(np.ascontiguousarray(img[:h, :w])).permute(2, 0, 1)[None].float()


@torch.no_grad()
def check_hs(model, path, images, levels):
    W = load_file(path)
    n = 0
    for _, img in images:
        for q in (0, levels - 1):
            x = _crop(img, 128, 128) / 255
            z_hat = torch.round(model.hyper_analysis(model.analysis(x, q)))
            got, got_mean = model.h_s(z_hat.double())
            ref, ref_mean = ref_decode.hs_from_file(W, z_hat[0].long().numpy())
            if not np.array_equal(got[0].numpy(), ref.astype(np.float64)):
                raise SystemExit("h_s integer reference mismatch on %d indices" % int((got[0].numpy() != ref).sum()))
            if (got_mean is None) != (ref_mean is None) or (
                    ref_mean is not None and not np.array_equal(got_mean[0].numpy() * 4, ref_mean.astype(np.float64))):
                raise SystemExit("h_s integer reference mismatch on the means")
            n += ref.size
    return n


@torch.no_grad()
def check_decoder(model, path, images, levels, window, depth):
    """ref_decode_swin (file + ARCH.md) decodes like the training model, and its g_a gives the
    same y; sizes with a one-window map (128x128: g_s stage0 at 8x8, shifted) and with padded
    windows (64x192: stage0 at 4x12)."""
    W = load_file(path)
    worst, worst_y = 0, 0.0
    for _, img in images:
        for (h, w) in ((128, 128), (64, 192)):
            for q in (0, levels // 2, levels - 1):
                x = _crop(img, h, w)
                y_model = model.analysis(x / 255, q)
                y_file = ref_decode_swin.g_a_from_file(W, window, depth, x - 127.5, q)
                worst_y = max(worst_y, float((y_model - y_file).abs().max()))
                y_hat = torch.round(y_model)
                a = torch.clamp(torch.round(model.synthesis(y_hat, q) * 255), 0, 255)
                b = ref_decode_swin.g_s_from_file(W, window, depth, y_hat, q)
                worst = max(worst, int((a - b).abs().max()))
    if worst > 1 or worst_y > 1e-2:
        raise SystemExit("reference transforms differ from the model: %d levels, y by %g" % (worst, worst_y))
    return worst, worst_y


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights", "img-swin.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    model, st = load_model(a.ckpt)
    if st["model_name"] != "img-swin":
        raise SystemExit("%s holds a %s checkpoint" % (a.ckpt, st["model_name"]))
    T, meta = export_img_swin(model)
    levels = int(meta["quality_levels"])
    meta["lambdas"] = json.dumps([float(v) for v in st["lambdas"]])
    meta["trained_steps"] = str(st["step"])
    meta["trained_minutes"] = "%.1f" % (st.get("trained_seconds", 0) / 60)
    save_file(T, a.out, metadata=meta)
    canonical_header(a.out)
    n = check_hs(model, a.out, load_images(VALID, 2), levels)
    worst, worst_y = check_decoder(model, a.out, load_images(VALID, 1), levels, int(meta["window"]), int(meta["depth"]))
    size = os.path.getsize(a.out)
    print("wrote %s: %d tensors, %.2f MiB; integer h_s checked on %d indices; reference decoder within "
          "%d level(s), reference g_a within %.2g" % (a.out, len(T), size / 2**20, n, worst, worst_y))


if __name__ == "__main__":
    main()
