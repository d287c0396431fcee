"""img-wave / img-swin decoder (and encoder transform) written from ARCH.md and the safetensors
file alone (no training classes): the check that the exported tensors and the documented layer
order are the model.  export.py runs it against the training model; make_codec_fixture.py
decodes the C encoder's streams with it.

img-swin is img-wave with Swin-V2 stages: `g_a.swin{b}` on the g_a branch after its second GELU,
`g_s.swin{b}` in g_s after the ConvNeXt blocks (block b shifted by window/2 when b is odd; maps
that are not whole windows zero-padded by each block and cropped after it); the window (metadata
`swin_window`) and the stride (metadata `stride`, 16) are not in the tensors: `read_meta` gives
them.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

import hs_int_ref
import wavelet


def _t(W, name):
    return torch.from_numpy(np.asarray(W[name]))


def read_meta(path):
    """The file's __metadata__ (dict of str)."""
    from safetensors import safe_open
    with safe_open(path, "np") as f:
        return dict(f.metadata() or {})


def stride_of(meta):
    """Multiple the codec pads images to (metadata `stride`; 16 for img-wave)."""
    return int(meta.get("stride", 16))


def window_of(meta):
    """Swin window (metadata `swin_window`; 8 when absent, ARCH.md)."""
    return int(meta.get("swin_window", 8))


def _int_layers(W, names):
    return [dict(weight=W[n + ".weight"], bias=W[n + ".bias"], mult=W[n + ".mult"],
                 shift=int(W[n + ".shift"][0]), out_max=int(W[n + ".out_max"][0]),
                 out_min=int(W[n + ".out_min"][0]) if n + ".out_min" in W else 0,
                 shuffle=int(W[n + ".shuffle"][0])) for n in names]


def hs_from_file(W, z_hat, features=False):
    """(scale indices, integer means or None) from the integer h_s of the file; z_hat (CZ, h, w)
    ints; features=True also returns l2's output (the checkerboard context's input)."""
    names = ["h_s.l%d" % i for i in range(4)] + (["h_s.mean"] if "h_s.mean.weight" in W else [])
    return hs_int_ref.hs_forward(z_hat, _int_layers(W, names), features)


def has_ctx(W):
    return "ctx.c0.weight" in W


def ctx_from_file(W, yq_anchors, feat):
    """The file's checkerboard context: (index, mean_int) from the anchors' y_hat (quarter units)."""
    return hs_int_ref.ctx_forward(yq_anchors, feat, _int_layers(W, ["ctx.c0", "ctx.idx", "ctx.mean"]))


def decode_y(W, z_hat, symbol):
    """Residuals, scale indices and integer means of y (C, H, W) for z_hat, with symbol(index)
    decoding the next residual of the stream in coding order (ARCH.md "Entropy coding of y"):
    all of y in C order, or with the checkerboard context the anchors (C order), then the
    others (C order) with the indices and means that the anchors give."""
    idx, mean, feat = hs_from_file(W, z_hat, features=True)
    if mean is None:
        mean = np.zeros_like(idx)
    if not has_ctx(W):
        y = np.array([symbol(int(k)) for k in idx.reshape(-1)], dtype=np.int64).reshape(idx.shape)
        return y, idx, mean
    a = np.broadcast_to(hs_int_ref.anchors(idx.shape[1], idx.shape[2]), idx.shape)
    y = np.zeros_like(idx)
    y[a] = [symbol(int(k)) for k in idx[a]]
    idx_n, mean_n = ctx_from_file(W, np.where(a, y * 4 + mean, 0), feat)
    idx, mean = np.where(a, idx, idx_n), np.where(a, mean, mean_n)
    y[~a] = [symbol(int(k)) for k in idx[~a]]
    return y, idx, mean


def _conv(W, x, name, groups=1):
    w = _t(W, name + ".weight")
    b = _t(W, name + ".bias") if name + ".bias" in W else None
    return F.conv2d(x, w, b, padding=w.shape[-1] // 2, groups=groups)


def _regions(n, w, s):
    """Region label (0, 1, 2) of each coordinate of a shifted map of extent n (Swin's img_mask)."""
    r = torch.zeros(n, dtype=torch.long)
    r[n - w:] = 1
    r[n - s:] = 2
    return r


def swin_block(W, p, x, window, shift):
    """ARCH.md "Swin-V2 block" on x (1, C, H0, W0), block tensors under prefix p: zero padding to
    whole windows (none when H0, W0 are multiples of the window), the cyclic shift whatever the
    map size, windowed scaled-cosine attention with the continuous position bias, res-post-norm."""
    _, C, H0, W0 = x.shape
    w = window
    heads = W[p + ".attn.logit_scale"].shape[0]
    t = F.pad(x, (0, (-W0) % w, 0, (-H0) % w)).permute(0, 2, 3, 1)[0]  # (H, W, C)
    H, Wd = t.shape[0], t.shape[1]
    if shift:
        t = torch.roll(t, (-shift, -shift), (0, 1))
    # windows: (nW, w*w, C), raster order of windows and of tokens within a window
    win = t.reshape(H // w, w, Wd // w, w, C).permute(0, 2, 1, 3, 4).reshape(-1, w * w, C)
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


def swin_blocks(W, prefix):
    """Number of Swin blocks `prefix.swin{b}` in the file (0 for img-wave)."""
    n = 0
    while "%s.swin%d.attn.qkv.weight" % (prefix, n) in W:
        n += 1
    return n


def swin_stage(W, prefix, x, window=8):
    """The Swin stage `prefix.swin0..`: block b unshifted for even b, shifted by window/2 for odd b;
    the identity when the file has no such blocks (img-wave)."""
    for b in range(swin_blocks(W, prefix)):
        x = swin_block(W, "%s.swin%d" % (prefix, b), x, window, window // 2 if b % 2 else 0)
    return x


def g_a_from_file(W, p, q, window=8):
    """p = v - 127.5 (1, 3, H, W), H, W multiples of the stride -> gained y (1, C, H/4, W/4)."""
    wv = wavelet.wpt2(p, 2)
    t = F.gelu(_conv(W, wv, "g_a.branch0"))
    t = F.gelu(_conv(W, t, "g_a.branch1"))
    t = swin_stage(W, "g_a", t, window)
    y = _conv(W, wv, "g_a.lin") + _conv(W, t, "g_a.branch2")
    return y * _t(W, "gain")[q].view(1, -1, 1, 1)


def g_s_from_file(W, y_hat, q, window=8):
    """y_hat (1, C, H/4, W/4) integer-valued float tensor -> 8-bit image (1, 3, H, W) as float;
    window: the file's `swin_window` (window_of(read_meta(path))), used only with Swin stages."""
    u = y_hat * _t(W, "inv_gain")[q].view(1, -1, 1, 1)

    def conv(x, name, groups=1):
        return _conv(W, x, name, groups)

    h = conv(u, "g_s.conv_in")
    b = 0
    while "g_s.block%d.dw.weight" % b in W:
        t = conv(h, "g_s.block%d.dw" % b, groups=h.shape[1])
        t = F.gelu(conv(t, "g_s.block%d.pw1" % b))
        h = h + conv(t, "g_s.block%d.pw2" % b)
        b += 1
    h = swin_stage(W, "g_s", h, window)
    wv = conv(u, "g_s.lin") + conv(h, "g_s.conv_out")
    p = wavelet.iwpt2(wv, 2)
    return torch.clamp(torch.round(p + 127.5), 0, 255)
