"""Swin-V2 window-attention blocks of img-swin (models.ImgWave with swin_a / swin_s stages: in
g_a on the branch's features at 1/4 after its second GELU, in g_s after the ConvNeXt blocks).

References: Liu et al. 2022 (Swin Transformer V2: scaled cosine attention, log-spaced
continuous position bias, res-post-norm); Zhu et al. 2022 (SwinT-ChARM) and Liu et al.
2023 (TCM) for Swin blocks in learned image codecs.  ARCH.md "Swin-V2 block" is the exported
form (train/ref_decode.py swin_block the file-only reference).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


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
