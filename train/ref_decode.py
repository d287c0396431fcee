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


def hs_from_file(W, z_hat):
    """(scale indices, integer means or None) from the integer h_s of the file; z_hat (CZ, h, w) ints."""
    names = ["h_s.l%d" % i for i in range(4)] + (["h_s.mean"] if "h_s.mean.weight" in W else [])
    layers = []
    for n in names:
        layers.append(dict(weight=W[n + ".weight"], bias=W[n + ".bias"], mult=W[n + ".mult"],
                           shift=int(W[n + ".shift"][0]), out_max=int(W[n + ".out_max"][0]),
                           out_min=int(W[n + ".out_min"][0]) if n + ".out_min" in W else 0,
                           shuffle=int(W[n + ".shuffle"][0])))
    return hs_int_ref.hs_forward(z_hat, layers)


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
