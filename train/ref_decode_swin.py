"""img-swin decoder (and encoder transform) written from ARCH.md "img-swin" and the safetensors
file alone (no training classes): the check that the exported tensors and the documented layer
order are the model.  export_swin.py runs it against the training model; make_swin_fixture.py
decodes the C encoder's streams with it.  The integer h_s is ref_decode.hs_from_file (the same
tensors and arithmetic as img-wave).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F


def _t(W, name):
    return torch.from_numpy(np.asarray(W[name]))


def _conv(W, x, name, stride=1):
    w = _t(W, name + ".weight")
    return F.conv2d(x, w, _t(W, name + ".bias"), stride=stride, padding=w.shape[-1] // 2)


def _regions(n, w, s):
    """Region label (0, 1, 2) of each coordinate of a shifted map of extent n (Swin's img_mask)."""
    r = torch.zeros(n, dtype=torch.long)
    r[n - w:] = 1
    r[n - s:] = 2
    return r


def swin_block(W, p, x, window, shift):
    """ARCH.md "Swin-V2 block" on x (1, C, H0, W0), block tensors under prefix p."""
    _, C, H0, W0 = x.shape
    w = window
    heads = W[p + ".attn.logit_scale"].shape[0]
    t = F.pad(x, (0, (-W0) % w, 0, (-H0) % w)).permute(0, 2, 3, 1)[0]  # (H, W, C)
    H, Wd = t.shape[0], t.shape[1]
    if shift:
        t = torch.roll(t, (-shift, -shift), (0, 1))
    # windows: (nW, w*w, C), raster order of windows and of tokens within a window
    win = t.view(H // w, w, Wd // w, w, C).permute(0, 2, 1, 3, 4).reshape(-1, w * w, C)
    bias = torch.cat([_t(W, p + ".attn.q_bias"), torch.zeros(C), _t(W, p + ".attn.v_bias")])
    qkv = F.linear(win, _t(W, p + ".attn.qkv.weight"), bias)
    qkv = qkv.view(win.shape[0], w * w, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    a = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    a = a * torch.clamp(_t(W, p + ".attn.logit_scale"), max=math.log(100.0)).exp().view(1, heads, 1, 1)
    # continuous position bias from the log-spaced offset table
    r = torch.arange(-(w - 1), w, dtype=torch.float32)
    tab = torch.stack(torch.meshgrid(r, r, indexing="ij"), -1) / (w - 1) * 8
    tab = torch.sign(tab) * torch.log2(tab.abs() + 1.0) / math.log2(8)
    hid = F.relu(F.linear(tab, _t(W, p + ".attn.cpb.fc1.weight"), _t(W, p + ".attn.cpb.fc1.bias")))
    tab = F.linear(hid, _t(W, p + ".attn.cpb.fc2.weight")).view(-1, heads)
    c = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (c[:, :, None] - c[:, None, :]) + (w - 1)
    pos = tab[(rel[0] * (2 * w - 1) + rel[1]).view(-1)].view(w * w, w * w, heads).permute(2, 0, 1)
    a = a + 16 * torch.sigmoid(pos)[None]
    if shift:
        lab = _regions(H, w, shift)[:, None] * 3 + _regions(Wd, w, shift)[None, :]
        lab = lab.view(H // w, w, Wd // w, w).permute(0, 2, 1, 3).reshape(-1, w * w)
        a = a + torch.where(lab[:, None, :] != lab[:, :, None], -100.0, 0.0)[:, None]
    a = a.softmax(-1)
    o = (a @ v).transpose(1, 2).reshape(-1, w * w, C)
    o = F.linear(o, _t(W, p + ".attn.proj.weight"), _t(W, p + ".attn.proj.bias"))
    o = o.view(H // w, Wd // w, w, w, C).permute(0, 2, 1, 3, 4).reshape(H, Wd, C)
    if shift:
        o = torch.roll(o, (shift, shift), (0, 1))
    t = x[0].permute(1, 2, 0) + F.layer_norm(o[:H0, :W0], (C,), _t(W, p + ".norm1.weight"), _t(W, p + ".norm1.bias"))
    m = F.gelu(F.linear(t, _t(W, p + ".mlp.fc1.weight"), _t(W, p + ".mlp.fc1.bias")))
    m = F.linear(m, _t(W, p + ".mlp.fc2.weight"), _t(W, p + ".mlp.fc2.bias"))
    t = t + F.layer_norm(m, (C,), _t(W, p + ".norm2.weight"), _t(W, p + ".norm2.bias"))
    return t.permute(2, 0, 1)[None]


def stage(W, p, x, window, depth):
    for b in range(depth):
        x = swin_block(W, "%s.block%d" % (p, b), x, window, window // 2 if b % 2 else 0)
    return x


def meta_ints(meta):
    return int(meta["window"]), int(meta["depth"])


def g_a_from_file(W, window, depth, p, q):
    """p = v - 127.5 (1, 3, H, W), H, W multiples of 64 -> gained y (1, C, H/16, W/16)."""
    x = _conv(W, p, "g_a.conv0", 2)
    x = stage(W, "g_a.stage0", x, window, depth)
    x = _conv(W, x, "g_a.conv1", 2)
    x = stage(W, "g_a.stage1", x, window, depth)
    x = _conv(W, x, "g_a.conv2", 2)
    x = stage(W, "g_a.stage2", x, window, depth)
    y = _conv(W, x, "g_a.conv3", 2)
    return y * _t(W, "gain")[q].view(1, -1, 1, 1)


def g_s_from_file(W, window, depth, y_hat, q):
    """y_hat (1, C, h, w) float -> 8-bit image (1, 3, 16 h, 16 w) as float."""
    u = y_hat * _t(W, "inv_gain")[q].view(1, -1, 1, 1)
    x = _conv(W, u, "g_s.conv_in")
    x = stage(W, "g_s.stage0", x, window, depth)
    for i in range(3):
        x = F.pixel_shuffle(_conv(W, x, "g_s.up%d" % i), 2)
        x = stage(W, "g_s.stage%d" % (i + 1), x, window, depth)
    x = F.pixel_shuffle(_conv(W, x, "g_s.up3"), 2)
    return torch.clamp(torch.round(x + 127.5), 0, 255)
