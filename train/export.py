#!/usr/bin/env python3
"""Export a trained img-wave checkpoint to weights/img-wave.safetensors (layout: ARCH.md).

  python3 train/export.py train/runs/wave1/ckpt.pt --out weights/img-wave.safetensors

Float weights are stored as F32 with the fixed branch scales of models.py folded in
(IN_SCALE into the first conv of each branch, OUT_SCALE into the last), so the C side
runs plain convolutions.  The integer h_s is stored as I8 weights / I32 bias, multiplier
and shift; the factorized model of z as CompressAI-layout int32 CDF tables built by
train/neco_cdf.py.  After writing, the file is read back and the pure-integer numpy h_s
(hs_int_ref.py) is checked against the PyTorch model on real hyper-latents.
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


def export_img_wave(model, lambdas=LAMBDAS):
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
    conv("g_s.conv_out", model.dec_out, out_scale=OUT_SCALE)
    gs, hs = model.decoder_macs_per_pixel()
    meta = dict(model="img-wave", format_version=str(FORMAT_VERSION), wavelet="bior4.4", wavelet_levels="2",
                latent_channels=str(model.latent), hyper_channels=str(model.hyper), quality_levels=str(len(lambdas)),
                enc_width=str(model.enc_branch[0].out_channels), hyper_width=str(model.h_a[0].out_channels),
                dec_width=str(model.width), dec_blocks=str(model.blocks),
                lambdas=json.dumps(list(lambdas)), cdf_precision=str(coding.PRECISION), stride="16",
                decoder_macs_per_pixel=json.dumps(dict(g_s=gs, h_s=hs)),
                hs_mean=str(int(model.h_s.mean_layer is not None)), mean_frac_bits="2",
                ctx=str(int(model.ctx is not None)))
    return T, meta


@torch.no_grad()
def check_hs(model, path, images):
    """Integer numpy h_s from the file == PyTorch fake-quant h_s, on real z of images."""
    W = load_file(path)
    n = 0
    for _, img in images:
        for q in (0, len(LAMBDAS) - 1):
            x = torch.from_numpy(np.ascontiguousarray(img[:128, :128])).permute(2, 0, 1)[None].float() / 255
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
def check_decoder(model, path, images):
    """ref_decode.py (file + ARCH.md only) decodes like the training model."""
    W = load_file(path)
    worst = 0
    for _, img in images:
        for q in (0, len(LAMBDAS) // 2, len(LAMBDAS) - 1):
            x = torch.from_numpy(np.ascontiguousarray(img[:160, :224])).permute(2, 0, 1)[None].float() / 255
            y_hat = torch.round(model.analysis(x, q))
            a = torch.clamp(torch.round(model.synthesis(y_hat, q) * 255), 0, 255)
            b = ref_decode.g_s_from_file(W, y_hat, q)
            worst = max(worst, int((a - b).abs().max()))
    if worst > 1:
        raise SystemExit("reference decoder differs from the model by %d levels" % worst)
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights", "img-wave.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    model, st = load_model(a.ckpt)
    T, meta = export_img_wave(model, st.get("lambdas", LAMBDAS))
    prior = st.get("prior", dict(steps=0, seconds=0.0))  # training before an --init run
    meta["trained_steps"] = str(st["step"] + prior["steps"])
    meta["trained_minutes"] = "%.1f" % ((st["trained_seconds"] + prior["seconds"]) / 60)
    save_file(T, a.out, metadata=meta)
    canonical_header(a.out)
    n = check_hs(model, a.out, load_images(VALID, 3))
    worst = check_decoder(model, a.out, load_images(VALID, 2))
    size = os.path.getsize(a.out)
    print("wrote %s: %d tensors, %.2f MiB; integer h_s checked on %d indices; "
          "reference decoder within %d level(s)" % (a.out, len(T), size / 2**20, n, worst))


if __name__ == "__main__":
    main()
