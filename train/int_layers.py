"""Integer hyper-synthesis h_s: quantization-aware training and its exact integer form.

Every layer is  acc = conv2d(x_int, w_int) + b_int        (int8 weights, int32 accumulator)
                out = sat((acc * M[c] + 2^(S-1)) >> S)    (int64 product, arithmetic shift)
followed, for some layers, by a pixel shuffle (a pure re-ordering).  Hidden layers
saturate to [0, 255] (this is also their ReLU); the last layer saturates to
[0, 63] and its output IS the scale index.  ARCH.md gives the normative text and
hs_int_ref.py the pure-integer numpy reference.

Training: in 'float' mode the layers are ordinary convs + ReLU, and each hidden
layer keeps an EMA of its activation maximum (the calibration of its uint8 scale).
In 'quant' mode the forward pass is the integer arithmetic above evaluated in
floating point on integer-valued tensors, with straight-through gradients
(Bengio et al. 2013; Jacob et al. 2018, "Quantization and training of neural
networks for efficient integer-arithmetic-only inference").  Evaluated in float64
it is exact (every intermediate is an integer below 2^53), so it produces
exactly the indices of the integer reference (tested in test_hs_int.py).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from entropy_models import bounded_clamp

W_MAX = 127  # int8 weights, symmetric
ACT_MAX = 255  # uint8 hidden activations
M_BITS = 15  # multiplier M[c] < 2^15
Z_CLAMP = 255  # h_s input: z clamped to [-255, 255]
MEAN_FRAC_BITS = 2  # means are int16 in units of 1/4
MEAN_MIN, MEAN_MAX = -32768, 32767


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


class _FloorSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, g):
        return g


def _mult_shift(m, dtype):
    """The per-channel real rescale factors m (float64) as integer multipliers M < 2^M_BITS and
    one shift S: m ~= M / 2^S, S as large as the largest factor allows."""
    S = int(math.floor(math.log2((2**M_BITS - 1) / float(m.max()))))
    S = max(0, min(S, 40))
    return torch.round(m * 2.0**S).clamp(0, 2**M_BITS - 1).to(dtype), S


class QConv2d(nn.Module):
    def __init__(self, cin, cout, k, out_max, shuffle=1, final=False, out_min=0, final_scale=1.0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)
        self.out_max = out_max
        self.out_min = out_min
        self.shuffle = shuffle
        self.final = final
        self.register_buffer("in_scale", torch.tensor(1.0))
        # real value of one output integer step; final layer: 1 index step
        self.register_buffer("out_scale", torch.tensor(final_scale if final else 0.05))
        self.register_buffer("act_max_ema", torch.tensor(0.0))

    # --- integer parameters (functions of the float ones) ---
    def weight_scale(self):
        w = self.conv.weight.detach()
        s = w.abs().amax(dim=(1, 2, 3)) / W_MAX
        return torch.where(s > 0, s, torch.ones_like(s))

    def int_params(self, dtype=torch.float32):
        """(w_int (STE), b_int (STE), M (C,), S) as tensors of `dtype`."""
        s_w = self.weight_scale().to(dtype)
        s_in = self.in_scale.to(dtype)
        w = self.conv.weight.to(dtype)
        w_int = _RoundSTE.apply(w / s_w[:, None, None, None]).clamp(-W_MAX, W_MAX)
        # |bias| <= 2^24 keeps |acc| < 2^26: 9*64 products of |w| <= 127 and x <= 255 add < 2^24.2
        b_int = _RoundSTE.apply(self.conv.bias.to(dtype) / (s_in * s_w)).clamp(-2**24, 2**24)
        m = (s_in * s_w / self.out_scale.to(dtype)).double()
        M, S = _mult_shift(m, dtype)
        return w_int, b_int, M, S

    def forward_float(self, x):
        y = self.conv(x)
        if not self.final:
            y = F.relu(y)
            if self.training:
                with torch.no_grad():
                    mx = y.detach().amax()
                    if self.act_max_ema == 0:
                        self.act_max_ema.fill_(mx)
                    else:
                        self.act_max_ema.mul_(0.99).add_(0.01 * mx)
        if self.shuffle > 1:
            y = F.pixel_shuffle(y, self.shuffle)
        return y

    def forward_quant(self, x_int):
        w_int, b_int, M, S = self.int_params(x_int.dtype)
        acc = F.conv2d(x_int, w_int, b_int, padding=self.conv.padding)
        v = acc * (M / 2.0**S)[None, :, None, None]
        if S > 0:
            v = v + 0.5
        out = _FloorSTE.apply(v)
        if self.final:
            out = bounded_clamp(out, float(self.out_min), float(self.out_max))
        else:
            out = out.clamp(float(self.out_min), float(self.out_max))
        if self.shuffle > 1:
            out = F.pixel_shuffle(out, self.shuffle)
        return out


class IntHyperSynthesis(nn.Module):
    """h_s: z (Cz, H/16) -> scale index (C, H/4).

    L1 conv3x3 Cz->H1, relu            (uint8 out)
    L2 conv3x3 H1->4*H2, relu, shuffle2 (uint8 out)
    L3 conv3x3 H2->4*H2, relu, shuffle2 (uint8 out)
    L4 conv3x3 H2->C                   (index out, [0, 63])
    mean (optional) conv3x3 H2->C on the L3 output (mean out, int16, in units of 2^-MEAN_FRAC_BITS)
    The mean makes it a mean-scale hyperprior (Minnen, Balle & Toderici 2018).
    """

    def __init__(self, cz, c, h1=64, h2=32, index_max=63, mean=True):
        super().__init__()
        self.layers = nn.ModuleList([
            QConv2d(cz, h1, 3, ACT_MAX),
            QConv2d(h1, 4 * h2, 3, ACT_MAX, shuffle=2),
            QConv2d(h2, 4 * h2, 3, ACT_MAX, shuffle=2),
            QConv2d(h2, c, 3, index_max, final=True),
        ])
        self.mean_layer = (QConv2d(h2, c, 3, MEAN_MAX, final=True, out_min=MEAN_MIN, final_scale=2.0**-MEAN_FRAC_BITS)
                           if mean else None)
        self.quant = False  # False: float (calibrating), True: fake-quant (QAT / inference)

    def calibrate(self):
        """Set every hidden layer's uint8 scale from its activation-max EMA, and chain
        in_scale = previous out_scale.  Called when switching to quant mode."""
        prev = torch.tensor(1.0)
        for layer in self.layers:
            layer.in_scale.copy_(prev)
            if not layer.final:
                mx = float(layer.act_max_ema)
                layer.out_scale.fill_(max(mx, 1e-3) / ACT_MAX)
            prev = layer.out_scale.clone()
        if self.mean_layer is not None:
            self.mean_layer.in_scale.copy_(self.layers[-2].out_scale)

    def forward(self, z_hat, features=False):
        """-> (index, mean): index continuous (float mode) or integer (quant mode); mean in
        real units (quant mode: mean_int * 2^-MEAN_FRAC_BITS, exact), or None without means.
        features=True appends the last hidden features (the input of the index and mean layers)."""
        x = z_hat.clamp(-Z_CLAMP, Z_CLAMP)
        fwd = (lambda L, v: L.forward_quant(v)) if self.quant else (lambda L, v: L.forward_float(v))
        for layer in self.layers[:-1]:
            x = fwd(layer, x)
        idx = fwd(self.layers[-1], x)
        mean = None
        if self.mean_layer is not None:
            mean = fwd(self.mean_layer, x)
            if self.quant:
                mean = mean * self.mean_layer.out_scale.to(mean.dtype)
        return (idx, mean, x) if features else (idx, mean)

    @torch.no_grad()
    def export_int(self):
        """Integer tensors for the C side and the numpy reference (index layers, then the mean layer)."""
        out = []
        for layer in list(self.layers) + ([self.mean_layer] if self.mean_layer is not None else []):
            w_int, b_int, M, S = layer.int_params(torch.float64)
            out.append(dict(
                weight=w_int.round().to(torch.int8),
                bias=b_int.round().to(torch.int32),
                mult=M.round().to(torch.int32),
                shift=int(S),
                out_min=int(layer.out_min),
                out_max=int(layer.out_max),
                shuffle=int(layer.shuffle),
            ))
        return out


class QConvCat(QConv2d):
    """An integer layer over a concatenation of inputs quantised at different scales.

    `in_scales[k]` is the real value of one integer step of input channel k; it is folded
    into the weights before their per-output-channel int8 quantisation, so that the exported
    layer is an ordinary integer layer (ARCH.md) on the concatenated integer inputs."""

    def __init__(self, cin, cout, k, out_max, final=False, out_min=0, final_scale=1.0):
        super().__init__(cin, cout, k, out_max, final=final, out_min=out_min, final_scale=final_scale)
        self.register_buffer("in_scales", torch.ones(cin))

    def weight_scale(self):
        w = self.conv.weight.detach() * self.in_scales[None, :, None, None]
        s = w.abs().amax(dim=(1, 2, 3)) / W_MAX
        return torch.where(s > 0, s, torch.ones_like(s))

    def int_params(self, dtype=torch.float32):
        s_w = self.weight_scale().to(dtype)
        w = self.conv.weight.to(dtype) * self.in_scales.to(dtype)[None, :, None, None]
        w_int = _RoundSTE.apply(w / s_w[:, None, None, None]).clamp(-W_MAX, W_MAX)
        b_int = _RoundSTE.apply(self.conv.bias.to(dtype) / s_w).clamp(-2**24, 2**24)
        m = (s_w / self.out_scale.to(dtype)).double()
        M, S = _mult_shift(m, dtype)
        return w_int, b_int, M, S


CTX_CLAMP = 4095  # context input: y_hat in quarter units, clamped to [-4095, 4095]


def anchor_mask(h, w, device=None):
    """Checkerboard anchors: latent positions (i, j) of a tile with i + j even (He et al. 2021)."""
    i = torch.arange(h, device=device).view(-1, 1)
    j = torch.arange(w, device=device).view(1, -1)
    return ((i + j) % 2 == 0).view(1, 1, h, w)


class IntCheckerboardContext(nn.Module):
    """Checkerboard spatial context model (He, Zheng, Sun, Wang & Qin 2021, "Checkerboard
    context model for efficient learned image compression"), in the integer arithmetic of h_s
    so that encoder and decoder compute the same scale indices and means on any machine.

    The anchors (i + j even) are coded with h_s's index and mean.  For the other positions,
      c   = relu(conv5x5(Y_a))                      Y_a: anchors' y_hat in quarter units (int,
                                                    clamped to +-CTX_CLAMP), zero elsewhere
      idx = conv3x3([f ; c])  in [0, 63]            f: h_s's last hidden features (the input of
      mu  = conv3x3([f ; c])  int16, quarter units     its index and mean layers)
    """

    def __init__(self, c, h2=32, cc=32, k=5, index_max=63):
        super().__init__()
        self.ctx = QConv2d(c, cc, k, ACT_MAX)
        self.ctx.in_scale.fill_(2.0**-MEAN_FRAC_BITS)
        self.idx = QConvCat(h2 + cc, c, 3, index_max, final=True)
        self.mean = QConvCat(h2 + cc, c, 3, MEAN_MAX, final=True, out_min=MEAN_MIN, final_scale=2.0**-MEAN_FRAC_BITS)
        self.h2 = h2
        self.quant = False

    @torch.no_grad()
    def init_from(self, h_s):
        """Start as h_s: the feature part of idx/mean copies h_s's index and mean layers, the
        context part is zero."""
        for dst, src in ((self.idx, h_s.layers[-1]), (self.mean, h_s.mean_layer)):
            dst.conv.weight.zero_()
            dst.conv.weight[:, :self.h2].copy_(src.conv.weight)
            dst.conv.bias.copy_(src.conv.bias)
            dst.out_scale.copy_(src.out_scale)

    @torch.no_grad()
    def calibrate(self, h_s):
        self.ctx.out_scale.fill_(max(float(self.ctx.act_max_ema), 1e-3) / ACT_MAX)
        s = torch.cat([h_s.layers[-2].out_scale.expand(self.h2),
                       self.ctx.out_scale.expand(self.idx.conv.in_channels - self.h2)])
        self.idx.in_scales.copy_(s)
        self.mean.in_scales.copy_(s)

    def forward(self, y_hat_anchors, feat, h_s):
        """y_hat_anchors: y_hat (real units) at the anchors, 0 elsewhere; feat: h_s features
        (integers in quant mode).  -> (index, mean in real units) for every position (only the
        non-anchors' are used)."""
        if self.quant:
            x = _RoundSTE.apply(y_hat_anchors * 2.0**MEAN_FRAC_BITS).clamp(-CTX_CLAMP, CTX_CLAMP)
            c = self.ctx.forward_quant(x)
            assert h_s.quant
            cat = torch.cat([feat, c], 1)
            idx = self.idx.forward_quant(cat)
            mean = self.mean.forward_quant(cat) * self.mean.out_scale.to(cat.dtype)
            return idx, mean
        c = self.ctx.forward_float(y_hat_anchors.clamp(-CTX_CLAMP / 4, CTX_CLAMP / 4))
        if h_s.quant:
            feat = feat * h_s.layers[-2].out_scale.to(feat.dtype)
        cat = torch.cat([feat, c], 1)
        return self.idx.forward_float(cat), self.mean.forward_float(cat)

    @torch.no_grad()
    def export_int(self):
        out = []
        for layer in (self.ctx, self.idx, self.mean):
            w_int, b_int, M, S = layer.int_params(torch.float64)
            out.append(dict(weight=w_int.round().to(torch.int8), bias=b_int.round().to(torch.int32),
                            mult=M.round().to(torch.int32), shift=int(S), out_min=int(layer.out_min),
                            out_max=int(layer.out_max), shuffle=1))
        return out
