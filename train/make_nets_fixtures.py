#!/usr/bin/env python3
"""Writes the fixtures of tests/test_nets*.c: small safetensors files holding the inputs,
weights and PyTorch (or PyWavelets) outputs of every op of nets/.

    python3 train/make_nets_fixtures.py [--out tests/data/nets]

Needs torch (2.x, CPU), numpy, pywt and safetensors. The output is deterministic for a given
torch version (seeded); CI never runs this script, it uses the committed files.
"""
import argparse
import math
import os

import numpy as np
import pywt
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(1234)
np.random.seed(1234)
torch.set_num_threads(1)
OUT = "tests/data/nets"


def save(name, tensors, meta=None):
    t = {k: v.contiguous() for k, v in tensors.items()}
    save_file(t, os.path.join(OUT, name + ".safetensors"), metadata=meta or {})


def ivec(*vals):
    return torch.tensor(vals, dtype=torch.int32)


def conv_fixtures():
    x = torch.randn(2, 6, 9, 11)
    w = torch.randn(8, 3, 3, 3) * 0.3
    b = torch.randn(8)
    y = F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    # params: stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups, out_pad_h, out_pad_w
    save("conv2d_a", {"x": x, "w": w, "b": b, "y": y, "p": ivec(2, 1, 1, 2, 1, 2, 2, 0, 0)})
    x = torch.randn(1, 3, 16, 12)
    w = torch.randn(4, 3, 5, 5) * 0.2
    b = torch.randn(4)
    y = F.conv2d(x, w, b, stride=2, padding=2)
    save("conv2d_b", {"x": x, "w": w, "b": b, "y": y, "p": ivec(2, 2, 2, 2, 1, 1, 1, 0, 0)})
    x = torch.randn(1, 16, 7, 9)  # depthwise + 1x1
    w = torch.randn(16, 1, 3, 3) * 0.3
    y = F.conv2d(x, w, None, padding=1, groups=16)
    save("conv2d_dw", {"x": x, "w": w, "y": y, "p": ivec(1, 1, 1, 1, 1, 1, 16, 0, 0)})
    x = torch.randn(1, 12, 5, 6)
    w = torch.randn(20, 12, 1, 1) * 0.3
    b = torch.randn(20)
    y = F.conv2d(x, w, b)
    save("conv2d_1x1", {"x": x, "w": w, "b": b, "y": y, "p": ivec(1, 1, 0, 0, 1, 1, 1, 0, 0)})
    # conv1d: stride, pad, dilation, groups, out_pad
    x = torch.randn(2, 4, 50)
    w = torch.randn(6, 2, 7) * 0.3
    b = torch.randn(6)
    y = F.conv1d(x, w, b, stride=2, padding=3, dilation=2, groups=2)
    save("conv1d", {"x": x, "w": w, "b": b, "y": y, "p": ivec(2, 3, 2, 2, 0)})
    x = torch.randn(1, 6, 5, 7)
    w = torch.randn(6, 4, 4, 4) * 0.3
    b = torch.randn(8)
    y = F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=(1, 0), groups=2)
    save("tconv2d", {"x": x, "w": w, "b": b, "y": y, "p": ivec(2, 2, 1, 1, 1, 1, 2, 1, 0)})
    x = torch.randn(1, 3, 4, 5)
    w = torch.randn(3, 2, 3, 3) * 0.3
    y = F.conv_transpose2d(x, w, None, stride=(1, 2), padding=(2, 0), dilation=2)
    save("tconv2d_dil", {"x": x, "w": w, "y": y, "p": ivec(1, 2, 2, 0, 2, 2, 1, 0, 0)})
    x = torch.randn(2, 4, 20)
    w = torch.randn(4, 3, 8) * 0.3
    b = torch.randn(3)
    y = F.conv_transpose1d(x, w, b, stride=4, padding=2, output_padding=1)
    save("tconv1d", {"x": x, "w": w, "b": b, "y": y, "p": ivec(4, 2, 1, 1, 1)})


def misc_fixtures():
    x = torch.randn(2, 8, 3, 5)
    save("pixel_shuffle2d", {"x": x, "y": F.pixel_shuffle(x, 2)})
    x = torch.randn(1, 6, 7)
    # 1-D pixel shuffle, [N, C r, L] -> [N, C, L r]: y[c][l r + i] = x[c r + i][l]
    y = x.view(1, 2, 3, 7).permute(0, 1, 3, 2).reshape(1, 2, 21)
    save("pixel_shuffle1d", {"x": x, "y": y})
    c = 5
    x = torch.randn(1, c, 6, 7)
    gamma = torch.rand(c, c) * 0.1 + torch.eye(c) * 0.5
    beta = torch.rand(c) + 0.5
    norm = F.conv2d(x * x, gamma.view(c, c, 1, 1), beta)
    save("gdn", {"x": x, "gamma": gamma, "beta": beta, "y": x * torch.rsqrt(norm),
                 "y_inv": x * torch.sqrt(norm)})
    x = torch.linspace(-8, 8, 600).view(1, 3, 4, 50)
    save("act", {"x": x, "relu": F.relu(x), "leaky": F.leaky_relu(x, 0.1),
                 "gelu": F.gelu(x), "silu": F.silu(x)})
    x = torch.randn(2, 4, 60) * 3
    alpha = torch.tensor([0.5, 1.0, 2.0, 0.25])
    a = alpha.view(1, -1, 1)
    y = x + (a + 1e-9).reciprocal() * torch.sin(a * x).pow(2)
    save("snake", {"x": x, "alpha": alpha, "y": y})
    x = torch.randn(2, 6, 5, 5) * 2 + 1
    g = torch.randn(6)
    be = torch.randn(6)
    save("group_norm", {"x": x, "gamma": g, "beta": be, "y": F.group_norm(x, 3, g, be, 1e-5)})
    x = torch.randn(2, 5, 4, 3) * 2 + 1
    g = torch.randn(5)
    be = torch.randn(5)
    y = F.layer_norm(x.permute(0, 2, 3, 1), (5,), g, be, 1e-6).permute(0, 3, 1, 2)
    save("layer_norm", {"x": x, "gamma": g, "beta": be, "y": y})
    a = torch.randn(3, 5, 7)
    b = torch.randn(3, 6, 7)
    bias = torch.randn(6)
    b2 = torch.randn(3, 7, 4)
    save("matmul", {"a": a, "b": b, "bias": bias, "c": a @ b.transpose(1, 2) + bias,
                    "b2": b2, "c2": a @ b2})


def wavelet_fixtures():
    x = torch.randn(1, 2, 13, 10)
    ys = []
    for ch in range(2):
        wp = pywt.WaveletPacket2D(x[0, ch].double().numpy(), "bior4.4", mode="symmetric",
                                  maxlevel=2)
        ys += [n.data for n in wp.get_level(2, order="natural")]
    y = torch.tensor(np.stack(ys)[None], dtype=torch.float32)
    a, (h, v, d) = pywt.dwt2(x[0, 0].double().numpy(), "bior4.4", mode="symmetric")
    one = torch.tensor(np.stack([a, h, v, d])[None], dtype=torch.float32)
    save("wavelet2d", {"x": x, "y": y, "level1_ch0": one})
    x = torch.randn(1, 2, 37)
    ys = []
    for ch in range(2):
        wp = pywt.WaveletPacket(x[0, ch].double().numpy(), "bior4.4", mode="symmetric",
                                maxlevel=3)
        ys += [n.data for n in wp.get_level(3, order="natural")]
    y = torch.tensor(np.stack(ys)[None], dtype=torch.float32)
    save("wavelet1d", {"x": x, "y": y})


def vq_fixture():
    k, d, l = 16, 4, 30
    cb = torch.randn(k, d)
    cb[9] = cb[3]   # exact duplicates: ties must go to the lower index
    cb[12] = cb[3]
    pick = torch.randint(0, k, (l,))
    x = (cb[pick] + 0.01 * torch.randn(l, d)).t().unsqueeze(0).contiguous()
    dist = ((x[0].t()[:, None, :] - cb[None]) ** 2).sum(-1)
    idx = torch.argmin(dist, dim=1).to(torch.int32)  # first minimum on ties
    save("vq", {"x": x, "codebook": cb, "idx": idx})


def rescale(acc, mult, shift, lo, hi):
    """INTEGER.md: y = sat(floor((acc * mult + 2^(shift-1)) / 2^shift)), rounding half up."""
    v = acc * mult
    if shift:
        v = (v + (1 << (shift - 1))) >> shift  # Python's >> floors
    return max(lo, min(hi, v))


def int_fixtures():
    g = torch.Generator().manual_seed(7)
    for name, transposed in (("int_conv", False), ("int_tconv", True)):
        cin, cout, kh, kw = 4, 6, 3, 3
        x = torch.randint(-3000, 3000, (1, cin, 6, 5), generator=g, dtype=torch.int16)
        if transposed:
            w = torch.randint(-128, 128, (cin, cout // 2, kh, kw), generator=g, dtype=torch.int8)
            acc = F.conv_transpose2d(x.double(), w.double(), stride=2, padding=1,
                                     output_padding=1, groups=2)
            p = ivec(2, 2, 1, 1, 1, 1, 2, 1, 1)
        else:
            w = torch.randint(-128, 128, (cout, cin // 2, kh, kw), generator=g, dtype=torch.int8)
            acc = F.conv2d(x.double(), w.double(), stride=(1, 2), padding=1, groups=2)
            p = ivec(1, 2, 1, 1, 1, 1, 2, 0, 0)
        bias = torch.randint(-100000, 100000, (cout,), generator=g, dtype=torch.int32)
        mult = torch.randint(1, 32768, (cout,), generator=g, dtype=torch.int32)
        shift = torch.tensor([20, 21, 22, 23, 18, 0], dtype=torch.int32)
        lo, hi = (0, 32767) if transposed else (-32768, 32767)
        acc = acc.to(torch.int64) + bias.view(1, -1, 1, 1).to(torch.int64)
        y = torch.empty(acc.shape, dtype=torch.int16)
        flat, yf = acc.flatten().tolist(), y.view(-1)
        plane = acc.shape[2] * acc.shape[3]
        for i, a in enumerate(flat):
            o = (i // plane) % cout
            yf[i] = rescale(a, int(mult[o]), int(shift[o]), lo, hi)
        save(name, {"x": x, "w": w, "bias": bias, "mult": mult, "shift": shift, "y": y,
                    "p": p, "clamp": ivec(lo, hi)})


def dtype_fixture():
    vals = [0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08, -3.0517578e-05,
            float("inf"), float("-inf"), 0.33325195]
    h = torch.tensor(vals, dtype=torch.float16)
    save("dtypes", {"half": h, "half_as_f32": h.float(),
                    "i8": torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
                    "i16": torch.tensor([-32768, -2, 0, 3, 32767], dtype=torch.int16),
                    "i32": torch.tensor([-2147483648, -5, 0, 7, 2147483647], dtype=torch.int32),
                    "m": torch.zeros(2, 3, 4)},
         meta={"model": "fixture", "version": "1"})


# ---- Swin-V2 block: a direct port of the official swin_transformer_v2.py (Liu et al.) ----
class WindowAttention(torch.nn.Module):
    def __init__(self, dim, ws, heads, cpb_hidden=512):
        super().__init__()
        self.dim, self.ws, self.heads = dim, ws, heads
        self.logit_scale = torch.nn.Parameter(torch.log(10 * torch.ones((heads, 1, 1))))
        self.cpb_mlp = torch.nn.Sequential(torch.nn.Linear(2, cpb_hidden, bias=True),
                                           torch.nn.ReLU(inplace=True),
                                           torch.nn.Linear(cpb_hidden, heads, bias=False))
        rh = torch.arange(-(ws - 1), ws, dtype=torch.float32)
        table = torch.stack(torch.meshgrid([rh, rh], indexing="ij")).permute(1, 2, 0)
        table = table.contiguous().unsqueeze(0)
        table[:, :, :, 0] /= ws - 1
        table[:, :, :, 1] /= ws - 1
        table *= 8
        table = torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / np.log2(8)
        self.register_buffer("table", table)
        coords = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij"))
        cf = torch.flatten(coords, 1)
        rel = (cf[:, :, None] - cf[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += ws - 1
        rel[:, :, 1] += ws - 1
        rel[:, :, 0] *= 2 * ws - 1
        self.register_buffer("index", rel.sum(-1))
        self.qkv = torch.nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = torch.nn.Parameter(torch.randn(dim) * 0.1)
        self.v_bias = torch.nn.Parameter(torch.randn(dim) * 0.1)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        b_, n, c = x.shape
        qkv_bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, qkv_bias)
        qkv = qkv.reshape(b_, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        scale = torch.clamp(self.logit_scale, max=torch.log(torch.tensor(1.0 / 0.01))).exp()
        attn = attn * scale
        t = self.cpb_mlp(self.table).view(-1, self.heads)
        bias = t[self.index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()
        attn = attn + 16 * torch.sigmoid(bias).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(-1)
        x = (attn @ v).transpose(1, 2).reshape(b_, n, c)
        return self.proj(x)


def window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def window_reverse(win, ws, h, w):
    b = int(win.shape[0] / (h * w / ws / ws))
    x = win.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


class SwinV2Block(torch.nn.Module):
    def __init__(self, dim, res, heads, ws, shift, hidden):
        super().__init__()
        self.res, self.ws, self.shift = res, ws, shift
        if min(res) <= ws:
            self.shift, self.ws = 0, min(res)
        self.norm1 = torch.nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, self.ws, heads)
        self.norm2 = torch.nn.LayerNorm(dim)
        self.fc1 = torch.nn.Linear(dim, hidden)
        self.fc2 = torch.nn.Linear(hidden, dim)
        mask = None
        if self.shift > 0:
            h, w = res
            img = torch.zeros((1, h, w, 1))
            cnt = 0
            sl = (slice(0, -self.ws), slice(-self.ws, -self.shift), slice(-self.shift, None))
            for hs in sl:
                for wsl in sl:
                    img[:, hs, wsl, :] = cnt
                    cnt += 1
            mw = window_partition(img, self.ws).view(-1, self.ws * self.ws)
            mask = mw.unsqueeze(1) - mw.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))
        self.register_buffer("mask", mask)

    def forward(self, x):
        h, w = self.res
        b, l, c = x.shape
        shortcut = x
        x = x.view(b, h, w, c)
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        win = window_partition(x, self.ws).view(-1, self.ws * self.ws, c)
        win = self.attn(win, mask=self.mask).view(-1, self.ws, self.ws, c)
        x = window_reverse(win, self.ws, h, w)
        if self.shift > 0:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + self.norm1(x.view(b, h * w, c))
        return x + self.norm2(self.fc2(F.gelu(self.fc1(x))))


def swin_fixtures():
    for name, shift in (("swin_shift", 2), ("swin_noshift", 0)):
        dim, heads, ws, hidden, h, w = 16, 2, 4, 32, 8, 12
        blk = SwinV2Block(dim, (h, w), heads, ws, shift, hidden)
        with torch.no_grad():
            for p in blk.parameters():  # non-trivial norms, biases and logit scales
                p.add_(torch.randn(p.shape) * 0.05)
            blk.attn.logit_scale[0] = 5.0  # above log(100): exercises the clamp
        x = torch.randn(2, dim, h, w)
        with torch.no_grad():
            y = blk(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, dim, h, w)
        a = blk.attn
        save(name, {"x": x, "y": y, "qkv_w": a.qkv.weight, "q_bias": a.q_bias,
                    "v_bias": a.v_bias, "logit_scale": a.logit_scale.flatten(),
                    "cpb_w1": a.cpb_mlp[0].weight, "cpb_b1": a.cpb_mlp[0].bias,
                    "cpb_w2": a.cpb_mlp[2].weight, "proj_w": a.proj.weight,
                    "proj_b": a.proj.bias, "norm1_w": blk.norm1.weight,
                    "norm1_b": blk.norm1.bias, "norm2_w": blk.norm2.weight,
                    "norm2_b": blk.norm2.bias, "fc1_w": blk.fc1.weight, "fc1_b": blk.fc1.bias,
                    "fc2_w": blk.fc2.weight, "fc2_b": blk.fc2.bias,
                    "cfg": ivec(dim, heads, ws, shift, hidden, 512)})


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT)
    OUT = ap.parse_args().out
    os.makedirs(OUT, exist_ok=True)
    with torch.no_grad():
        conv_fixtures()
        misc_fixtures()
        wavelet_fixtures()
        vq_fixture()
        int_fixtures()
        dtype_fixture()
    swin_fixtures()


if __name__ == "__main__":
    main()
