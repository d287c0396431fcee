"""img-swin: convolutional down/up-sampling with Swin-V2 window-attention blocks and a
scale hyperprior whose synthesis is the integer h_s of int_layers.py.

  g_a: conv5x5/2 -> Swin stage -> conv3x3/2 -> Swin stage -> conv3x3/2 -> Swin stage -> conv3x3/2
       -> y (M channels, stride 16), times gain[q]
  h_a: conv3x3 -> lrelu -> conv5x5/2 -> lrelu -> conv5x5/2 -> z (stride 64)
  h_s: integer, z -> scale index of every element of y (IntHyperSynthesis)
  g_s: y_hat * inv_gain[q] -> conv3x3 -> Swin stage -> [conv3x3 -> pixel shuffle 2 -> Swin stage] x 3
       -> conv3x3 -> pixel shuffle 2 -> RGB

References: Liu et al. 2022 (Swin Transformer V2: scaled cosine attention, log-spaced
continuous position bias, res-post-norm); Zhu et al. 2022 (SwinT-ChARM) and Liu et al.
2023 (TCM) for Swin blocks in learned image codecs; Balle et al. 2018 (hyperprior);
Cui et al. 2021 (gains); Shi et al. 2016 (sub-pixel convolution instead of transposed conv).
Images are padded to multiples of 64 (stride of z; windows of 8 fit every stage).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from entropy_models import (FactorizedPrior, SCALE_LEVELS, bounded_clamp, gaussian_likelihood,
                            index_to_scale, round_ste)
from int_layers import IntHyperSynthesis
from models import LAMBDAS


class WindowAttentionV2(nn.Module):
    """Swin-V2 window attention (microsoft/Swin-Transformer, swin_transformer_v2.py)."""

    def __init__(self, dim, window, heads):
        super().__init__()
        self.dim, self.window, self.heads = dim, window, heads
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(heads, 1, 1)))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, heads, bias=False))
        r = torch.arange(-(window - 1), window, dtype=torch.float32)
        table = torch.stack(torch.meshgrid(r, r, indexing="ij")).permute(1, 2, 0)[None]  # 1, 2w-1, 2w-1, 2
        table = table / (window - 1) * 8
        table = torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
        self.register_buffer("coords_table", table, persistent=False)
        c = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (c[:, :, None] - c[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("rel_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def position_bias(self):
        t = self.cpb_mlp(self.coords_table).view(-1, self.heads)
        n = self.window * self.window
        b = t[self.rel_index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        return 16 * torch.sigmoid(b)  # (heads, N, N)

    def forward(self, x, mask=None):
        B, N, C = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        attn = attn + self.position_bias()[None]
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(B // nw, nw, self.heads, N, N) + mask[None, :, None]
            attn = attn.view(-1, self.heads, N, N)
        attn = attn.softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


def window_partition(x, w):  # (B, H, W, C) -> (B*nW, w*w, C)
    B, H, W, C = x.shape
    x = x.view(B, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, C)


def window_reverse(x, w, H, W):
    C = x.shape[-1]
    B = x.shape[0] // ((H // w) * (W // w))
    x = x.view(B, H // w, W // w, w, w, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


def shift_mask(H, W, w, s, device):
    img = torch.zeros(1, H, W, 1, device=device)
    cnt = 0
    for hs in (slice(0, -w), slice(-w, -s), slice(-s, None)):
        for ws in (slice(0, -w), slice(-w, -s), slice(-s, None)):
            img[:, hs, ws, :] = cnt
            cnt += 1
    mw = window_partition(img, w).squeeze(-1)
    m = mw[:, None, :] - mw[:, :, None]
    return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)


class SwinV2Block(nn.Module):
    """Res-post-norm block: x + LN(attn(x)), then x + LN(mlp(x)); cyclic shift by w/2 when shifted."""

    def __init__(self, dim, heads, window=8, shifted=False, mlp_ratio=2.0):
        super().__init__()
        self.window, self.shift = window, (window // 2 if shifted else 0)
        self.attn = WindowAttentionV2(dim, window, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x):  # (B, C, H, W)
        B, C, H0, W0 = x.shape
        w = self.window
        # pad right/bottom with zeros to whole windows (Swin V1 behaviour), crop after attention
        t = F.pad(x, (0, (-W0) % w, 0, (-H0) % w)).permute(0, 2, 3, 1)
        H, W = t.shape[1], t.shape[2]
        mask = None
        if self.shift:
            t = torch.roll(t, (-self.shift, -self.shift), (1, 2))
            mask = shift_mask(H, W, w, self.shift, x.device)
        a = self.attn(window_partition(t, w), mask)
        a = window_reverse(a, w, H, W)
        if self.shift:
            a = torch.roll(a, (self.shift, self.shift), (1, 2))
        t = x.permute(0, 2, 3, 1) + self.norm1(a[:, :H0, :W0])
        t = t + self.norm2(self.mlp(t))
        return t.permute(0, 3, 1, 2)


def stage(dim, depth, heads, window):
    return nn.Sequential(*[SwinV2Block(dim, heads, window, shifted=(i % 2 == 1)) for i in range(depth)])


def up(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.PixelShuffle(2))


class ImgSwin(nn.Module):
    def __init__(self, dims=(96, 128, 128), latent=160, hyper=96, depth=2, heads=4, window=8, levels=len(LAMBDAS),
                 hs_mean=True, norm_init=1.0):
        super().__init__()
        self.stride = 64  # the codec pads images to multiples of this
        self.amp = False  # bf16 autocast inside g_a / g_s (training on CUDA); rates stay fp32
        d1, d2, d3 = dims
        self.latent, self.hyper, self.window = latent, hyper, window
        self.g_a = nn.Sequential(
            nn.Conv2d(3, d1, 5, 2, 2), stage(d1, depth, heads, window),
            nn.Conv2d(d1, d2, 3, 2, 1), stage(d2, depth, heads, window),
            nn.Conv2d(d2, d3, 3, 2, 1), stage(d3, depth, heads, window),
            nn.Conv2d(d3, latent, 3, 2, 1))
        g = torch.exp(torch.linspace(math.log(1 / 16), math.log(1.0), levels))
        self.log_gain = nn.Parameter(torch.log(g)[:, None].repeat(1, latent))
        self.log_inv_gain = nn.Parameter(-torch.log(g)[:, None].repeat(1, latent))
        self.h_a = nn.Sequential(
            nn.Conv2d(latent, 128, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(128, 128, 5, 2, 2), nn.LeakyReLU(0.1),
            nn.Conv2d(128, hyper, 5, 2, 2))
        self.prior_z = FactorizedPrior(hyper)
        self.h_s = IntHyperSynthesis(hyper, latent, h1=128, h2=96, mean=hs_mean)
        self.g_s = nn.Sequential(
            nn.Conv2d(latent, d3, 3, padding=1), stage(d3, depth, heads, window),
            up(d3, d2), stage(d2, depth, heads, window),
            up(d2, d1), stage(d1, depth, heads, window),
            up(d1, d1), stage(d1, depth, heads, window),
            up(d1, 3))
        # res-post-norm blocks add LN(f(x)) to the stream; with the LN gain at 1 every block
        # starts by adding unit-variance noise to the features that carry the image, and the
        # codec learns slowly.  A small initial gain (ReZero / LayerScale-like, Bachlechner et
        # al. 2020, Touvron et al. 2021) starts every block near the identity.
        if norm_init != 1.0:
            for m in self.modules():
                if isinstance(m, SwinV2Block):
                    nn.init.constant_(m.norm1.weight, norm_init)
                    nn.init.constant_(m.norm2.weight, norm_init)

    def gains(self, q):
        return torch.exp(self.log_gain[q]), torch.exp(self.log_inv_gain[q])

    def hyper_analysis(self, y):
        return self.h_a(y)

    def analysis(self, x01, q):
        g, _ = self.gains(q)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
            y = self.g_a((x01 - 0.5) * 4.0)
        return y.float() * 16.0 * g.view(1, -1, 1, 1)

    def synthesis(self, y_hat, q):
        _, ig = self.gains(q)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
            x = self.g_s(y_hat * ig.view(1, -1, 1, 1) / 16.0)
        return x.float() / 4.0 + 0.5

    def forward(self, x01, q):
        y = self.analysis(x01, q)
        z = self.hyper_analysis(y)
        z_hat = round_ste(z)
        p_z = self.prior_z.likelihood(z + torch.empty_like(z).uniform_(-0.5, 0.5))
        t, mu = self.h_s(z_hat)
        t = t if self.h_s.quant else bounded_clamp(t, 0.0, float(SCALE_LEVELS - 1))
        mu = torch.zeros_like(y) if mu is None else mu
        p_y = gaussian_likelihood(y + torch.empty_like(y).uniform_(-0.5, 0.5) - mu, index_to_scale(t))
        bits_y = -torch.log2(p_y.clamp_min(1e-9)).sum()
        bits_z = -torch.log2(p_z.clamp_min(1e-9)).sum()
        return self.synthesis(round_ste(y - mu) + mu, q), bits_y, bits_z

    def decoder_macs_per_pixel(self):
        """Multiply-adds per output pixel of g_s (convs, attention, MLPs) and of h_s."""
        total = 0.0
        hw = 1 / 256.0  # positions per pixel at stride 16
        for m in self.g_s:
            if isinstance(m, nn.Conv2d):
                co, ci, k, _ = m.weight.shape
                total += hw * co * ci * k * k
            elif isinstance(m, nn.Sequential) and isinstance(m[0], nn.Conv2d):  # up
                co, ci, k, _ = m[0].weight.shape
                total += hw * co * ci * k * k
                hw *= 4
            elif isinstance(m, nn.Sequential):  # stage
                for b in m:
                    d, n = b.attn.dim, self.window**2
                    total += hw * (4 * d * d + 2 * n * d + 2 * d * int(d * 2))
        hs = 0.0
        n = 1 / 4096.0
        for L in self.h_s.layers:
            co, ci, k, _ = L.conv.weight.shape
            hs += n * co * ci * k * k
            n *= L.shuffle**2
        if self.h_s.mean_layer is not None:
            co, ci, k, _ = self.h_s.mean_layer.conv.weight.shape
            hs += (1 / 256.0) * co * ci * k * k
        return total, hs
