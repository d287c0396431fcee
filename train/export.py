#!/usr/bin/env python3
"""Export a trained img-wave or img-swin checkpoint to weights/img-<model>.safetensors (layout:
ARCH.md).

  python3 train/export.py train/runs/wave1/ckpt.pt                 # -> weights/img-wave.safetensors
  python3 train/export.py train/runs/swin1/ckpt.pt                 # -> weights/img-swin.safetensors
  python3 train/export.py CKPT --out /tmp/w.safetensors

img-swin is img-wave (models.ImgWave) with Swin-V2 stages (swin_a blocks in g_a, swin_s in g_s):
the file holds every img-wave tensor, the same names and scale folding, plus the blocks'
tensors g_a.swin{b}.* and g_s.swin{b}.* (unscaled F32, the layout of `swin_block`), and the
metadata says model "img-swin", swin_window, swin_a, swin_s (stride 16 as img-wave).
Float weights are stored as F32 with the fixed branch scales of models.py folded in
(IN_SCALE into the first conv of each branch, OUT_SCALE into the last), so the C side
runs plain convolutions.  The integer h_s is stored as I8 weights / I32 bias, multiplier
and shift; the factorized model of z as CompressAI-layout int32 CDF tables built by
train/neco_cdf.py.  After writing, the file is read back and the pure-integer numpy h_s
(hs_int_ref.py) is checked against the PyTorch model on real hyper-latents, and ref_decode.py
(the file and ARCH.md only) against the model's g_a and g_s, on crops padded to the model's
stride as the codec pads.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coding  # noqa: E402
import hs_int_ref  # noqa: E402
import ref_decode  # noqa: E402
from eval_image import VALID, load_images, load_model  # noqa: E402
from models import IN_SCALE, LAMBDAS, OUT_SCALE  # noqa: E402

FORMAT_VERSION = 1


def f32(t):
    return np.ascontiguousarray(t.detach().cpu().float().numpy())


def canonical_header(path):
    """Rewrites the safetensors header with sorted keys: safetensors writes the metadata (a Rust
    HashMap) in a random order, so without this every export would have another SHA-256 and
    therefore another weights hash in every stream.  Tensor offsets are unchanged; the header is
    padded with spaces to a multiple of 8 bytes as safetensors does."""
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    head = json.loads(data[8:8 + n])
    text = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(len(text).to_bytes(8, "little") + text + data[8 + n:])


def export_hyperprior(T, model):
    """The tensors both image models share (ARCH.md): the integer h_s (I8 weights, I32 bias,
    multiplier, shift, output range, pixel shuffle; layers l0..l3, then the mean layer) and
    the entropy tables (factorized z CDFs, y scale table)."""
    def put(name, L, out_min):
        T[name + ".weight"] = L["weight"].numpy().astype(np.int8)
        T[name + ".bias"] = L["bias"].numpy().astype(np.int32)
        T[name + ".mult"] = L["mult"].numpy().astype(np.int32)
        for k in ("shift", "out_max", "shuffle") + (("out_min",) if out_min else ()):
            T[name + "." + k] = np.array([L[k]], dtype=np.int32)

    for i, L in enumerate(model.h_s.export_int()):  # l0..l3 have out_min 0, implied
        put("h_s.l%d" % i if i < 4 else "h_s.mean", L, i >= 4)
    if getattr(model, "ctx", None) is not None:  # checkerboard context: same integer layers
        for name, L in zip(("ctx.c0", "ctx.idx", "ctx.mean"), model.ctx.export_int()):
            put(name, L, True)
    cdfs, lengths, offsets = coding.flatten(coding.factorized_tables(model.prior_z))
    T["z.cdf"], T["z.cdf_length"], T["z.offset"] = cdfs, lengths, offsets
    T["y.scales_q16"] = np.array(coding.neco_cdf.default_scales_q16(), dtype=np.int32)


def export_swin_block(T, p, b):
    """One models_swin.SwinV2Block under prefix p (ARCH.md "Swin-V2 block"), F32, unscaled."""
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


def model_name(model):
    """img-swin when the ImgWave has Swin stages, else img-wave."""
    return "img-swin" if len(getattr(model, "enc_swin", ())) or len(getattr(model, "dec_swin", ())) else "img-wave"


def export_img_wave(model, lambdas=LAMBDAS):
    """img-wave's tensors and metadata; for a model with Swin stages (img-swin) also the blocks
    g_a.swin{b}.* / g_s.swin{b}.* and the Swin metadata."""
    T = {}

    def conv(name, m, in_scale=1.0, out_scale=1.0):
        T[name + ".weight"] = f32(m.weight * (in_scale * out_scale))
        if m.bias is not None:
            T[name + ".bias"] = f32(m.bias * out_scale)

    # analysis g_a
    conv("g_a.lin", model.enc_lin)
    conv("g_a.branch0", model.enc_branch[0], in_scale=IN_SCALE)
    conv("g_a.branch1", model.enc_branch[2])
    conv("g_a.branch2", model.enc_branch[4], out_scale=OUT_SCALE)
    for i, b in enumerate(model.enc_swin):  # between branch1's GELU and branch2
        export_swin_block(T, "g_a.swin%d" % i, b)
    T["gain"] = f32(torch.exp(model.log_gain))
    T["inv_gain"] = f32(torch.exp(model.log_inv_gain))
    # hyper analysis h_a
    for i, j in enumerate((0, 2, 4)):
        conv("h_a.conv%d" % i, model.h_a[j], in_scale=model.ha_in_scale if i == 0 else 1.0)
    export_hyperprior(T, model)
    # synthesis g_s
    conv("g_s.lin", model.dec_lin)
    conv("g_s.conv_in", model.dec_in, in_scale=IN_SCALE)
    for i, b in enumerate(model.dec_blocks):
        conv("g_s.block%d.dw" % i, b.dw)
        conv("g_s.block%d.pw1" % i, b.pw1)
        conv("g_s.block%d.pw2" % i, b.pw2)
    for i, b in enumerate(model.dec_swin):  # after the ConvNeXt blocks, before conv_out
        export_swin_block(T, "g_s.swin%d" % i, b)
    conv("g_s.conv_out", model.dec_out, out_scale=OUT_SCALE)
    gs, hs = model.decoder_macs_per_pixel()
    name = model_name(model)
    meta = dict(model=name, format_version=str(FORMAT_VERSION), wavelet="bior4.4", wavelet_levels="2",
                latent_channels=str(model.latent), hyper_channels=str(model.hyper), quality_levels=str(len(lambdas)),
                enc_width=str(model.enc_branch[0].out_channels), hyper_width=str(model.h_a[0].out_channels),
                dec_width=str(model.width), dec_blocks=str(model.blocks),
                lambdas=json.dumps(list(lambdas)), cdf_precision=str(coding.PRECISION), stride=str(model.stride),
                decoder_macs_per_pixel=json.dumps(dict(g_s=gs, h_s=hs)),
                hs_mean=str(int(model.h_s.mean_layer is not None)), mean_frac_bits="2",
                ctx=str(int(model.ctx is not None)))
    if name == "img-swin":
        meta.update(swin_window=str(model.window), swin_a=str(len(model.enc_swin)), swin_s=str(len(model.dec_swin)))
    return T, meta


def pad_to_stride(x, stride):
    """Edge replication on the right and bottom to multiples of stride, as the codec pads."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % stride, 0, (-h) % stride), mode="replicate")


def _crop(img, h, w, stride):
    """(1, 3, H, W) float 0..255 of the top-left h x w of img, padded to the stride."""
    x = torch.from_numpy(np.ascontiguousarray(img[:h, :w])).permute(2, 0, 1)[None].float()
    return pad_to_stride(x, stride)


@torch.no_grad()
def check_hs(model, path, images):
    """Integer numpy h_s from the file == PyTorch fake-quant h_s, on real z of images."""
    W = load_file(path)
    n = 0
    for _, img in images:
        for q in (0, len(LAMBDAS) - 1):
            x = _crop(img, 128, 128, model.stride) / 255
            y = model.analysis(x, q)
            z_hat = torch.round(model.hyper_analysis(y))
            got, got_mean = model.h_s(z_hat.double())
            ref, ref_mean = ref_decode.hs_from_file(W, z_hat[0].long().numpy())
            if not np.array_equal(got[0].numpy(), ref.astype(np.float64)):
                raise SystemExit("h_s integer reference mismatch on %d indices" % int((got[0].numpy() != ref).sum()))
            if (got_mean is None) != (ref_mean is None) or (
                    ref_mean is not None and not np.array_equal(got_mean[0].numpy() * 4, ref_mean.astype(np.float64))):
                raise SystemExit("h_s integer reference mismatch on the means")
            n += ref.size
            if model.ctx is not None:  # the checkerboard context on the same y
                y = y.double()
                got, got_mean = model.entropy_params(y, z_hat.double(), lambda v: torch.floor(v + 0.5))
                # decode_y takes the residuals in coding order (anchors first)
                res = torch.floor(y[0] - got_mean[0] + 0.5).long().numpy()
                a = np.broadcast_to(hs_int_ref.anchors(res.shape[1], res.shape[2]), res.shape)
                it = iter(np.concatenate([res[a], res[~a]]).tolist())
                _, idx, mean = ref_decode.decode_y(W, z_hat[0].long().numpy(), lambda k: next(it))
                if not (np.array_equal(got[0].numpy(), idx.astype(np.float64)) and
                        np.array_equal(got_mean[0].numpy() * 4, mean.astype(np.float64))):
                    raise SystemExit("checkerboard context: integer reference mismatch")
                n += idx.size
    return n


@torch.no_grad()
def check_decoder(model, path, images, meta=None):
    """ref_decode.py (file + ARCH.md only) decodes like the training model (8-bit images within 1
    level), and its g_a gives the model's y (within 1e-2 relative to max(1, |y|max)); crops padded
    to the model's stride as the codec pads: 160x224 (img-swin: 1/4 maps of 5x7 windows) and 48x70
    (coded at 48x80: padding, and img-swin's 12x20 maps, which its blocks pad to 2x3 windows)."""
    W = load_file(path)
    window = ref_decode.window_of(meta or ref_decode.read_meta(path))
    worst, worst_y = 0, 0.0
    for _, img in images:
        for h, w in ((160, 224), (48, 70)):
            x = _crop(img, h, w, model.stride)
            for q in (0, len(LAMBDAS) // 2, len(LAMBDAS) - 1):
                y = model.analysis(x / 255, q)
                y_file = ref_decode.g_a_from_file(W, x - 127.5, q, window)
                worst_y = max(worst_y, float((y - y_file).abs().max()) / max(1.0, float(y.abs().max())))
                y_hat = torch.round(y)
                a = torch.clamp(torch.round(model.synthesis(y_hat, q) * 255), 0, 255)
                b = ref_decode.g_s_from_file(W, y_hat, q, window)
                worst = max(worst, int((a - b).abs().max()))
    if worst > 1:
        raise SystemExit("reference decoder differs from the model by %d levels" % worst)
    if worst_y > 1e-2:
        raise SystemExit("reference g_a differs from the model by %g (relative)" % worst_y)
    return worst, worst_y


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("--out", help="default weights/<model>.safetensors, by the checkpoint's model")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, st = load_model(a.ckpt)
    T, meta = export_img_wave(model, st.get("lambdas", LAMBDAS))
    if st.get("model_name", meta["model"]) != meta["model"]:
        raise SystemExit("%s: a %s checkpoint whose model exports as %s" % (a.ckpt, st["model_name"], meta["model"]))
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights", meta["model"] + ".safetensors")
    prior = st.get("prior", dict(steps=0, seconds=0.0))  # training before an --init run
    meta["trained_steps"] = str(st["step"] + prior["steps"])
    meta["trained_minutes"] = "%.1f" % ((st["trained_seconds"] + prior["seconds"]) / 60)
    save_file(T, out, metadata=meta)
    canonical_header(out)
    n = check_hs(model, out, load_images(VALID, 3))
    worst, worst_y = check_decoder(model, out, load_images(VALID, 2), meta)
    size = os.path.getsize(out)
    print("wrote %s (%s): %d tensors, %.2f MiB; integer h_s checked on %d indices; "
          "reference decoder within %d level(s), reference g_a within %.2g"
          % (out, meta["model"], len(T), size / 2**20, n, worst, worst_y))


if __name__ == "__main__":
    main()
