"""img-wave decoder written from ARCH.md and the safetensors file alone (no training
classes): the check that the exported tensors and the documented layer order are the
model.  export.py runs it against the training model; the C side can use it to make
fixtures.
"""
import numpy as np
import torch
import torch.nn.functional as F

import hs_int_ref
import wavelet


def _t(W, name):
    return torch.from_numpy(np.asarray(W[name]))


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


def g_s_from_file(W, y_hat, q):
    """y_hat (1, C, H/4, W/4) integer-valued float tensor -> 8-bit image (1, 3, H, W) as float."""
    u = y_hat * _t(W, "inv_gain")[q].view(1, -1, 1, 1)

    def conv(x, name, groups=1):
        w = _t(W, name + ".weight")
        return F.conv2d(x, w, _t(W, name + ".bias"), padding=w.shape[-1] // 2, groups=groups)

    h = conv(u, "g_s.conv_in")
    b = 0
    while "g_s.block%d.dw.weight" % b in W:
        t = conv(h, "g_s.block%d.dw" % b, groups=h.shape[1])
        t = F.gelu(conv(t, "g_s.block%d.pw1" % b))
        h = h + conv(t, "g_s.block%d.pw2" % b)
        b += 1
    wv = conv(u, "g_s.lin") + conv(h, "g_s.conv_out")
    p = wavelet.iwpt2(wv, 2)
    return torch.clamp(torch.round(p + 127.5), 0, 255)
