"""Image models.  img-wave: WaLLoC-style wavelet-domain codec with a scale hyperprior.

  x (RGB in [0,1]) -> p = 255*x - 127.5 -> 2-level bior4.4 packet (48 ch, H/4)
  g_a:  y = [ W_lin * c  +  16 * branch(c / 64) ] * gain[q]        (C channels)
  h_a:  z = h_a(y)                                               (Cz channels, H/16)
  z_hat = round(z) (factorized prior), idx = h_s_int(z_hat)  -> scale table
  y_hat = round(y)  (Gaussian conditional, zero mean, scale table[idx])
  g_s:  c' = W_skip * u + 16 * branch(u / 64),  u = y_hat * inv_gain[q]
  x' = (iwpt(c') + 127.5) / 255

References: WaLLoC (Jacobellis & Yadwadkar 2024) for the wavelet front end and the
linear (PCA-initialised) encoder; Balle et al. 2018 for the hyperprior; Cui et al.
2021 ("Asymmetric gained deep image compression with continuous rate adaptation")
for the per-level gain / inverse-gain vectors; Liu et al. 2022 (ConvNeXt) for the
depthwise + pointwise residual blocks of the decoder.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import wavelet
from entropy_models import (FactorizedPrior, SCALE_LEVELS, bounded_clamp, gaussian_likelihood,
                            index_to_scale, round_ste)
from int_layers import IntCheckerboardContext, IntHyperSynthesis, anchor_mask

# Rate-distortion trade-offs of the quality levels: loss = lambda * MSE(0..255) + bpp,
# i.e. CompressAI's lambda * 255^2 * MSE(0..1) convention.
LAMBDAS = [0.0009, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932]

IN_SCALE = 1.0 / 64  # fixed input scale of the conv branches (folded into the first conv on export)
OUT_SCALE = 16.0  # fixed output scale of the conv branches (folded into the last conv on export)


class ConvNeXtBlock(nn.Module):
    """x + pw2(gelu(pw1(dw5x5(x)))) (no normalisation: cheap and exactly reproducible)."""

    def __init__(self, ch, expand=2, k=5):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, k, padding=k // 2, groups=ch)
        self.pw1 = nn.Conv2d(ch, ch * expand, 1)
        self.pw2 = nn.Conv2d(ch * expand, ch, 1)

    def forward(self, x):
        return x + self.pw2(F.gelu(self.pw1(self.dw(x))))


def swin_stage(dim, depth, head_dim, window):
    """depth Swin-V2 blocks that start as the identity: their res-post-norm gains are zero, so
    a stage added to a trained img-wave leaves it exactly as it was (and learns from there)."""
    from models_swin import SwinV2Block
    blocks = [SwinV2Block(dim, max(1, dim // head_dim), window, shifted=(i % 2 == 1)) for i in range(depth)]
    for b in blocks:
        nn.init.zeros_(b.norm1.weight)
        nn.init.zeros_(b.norm2.weight)
    return nn.Sequential(*blocks)


class ImgWave(nn.Module):
    def __init__(self, latent=24, hyper=32, width=96, blocks=3, enc_width=64, hyper_width=64, levels=len(LAMBDAS),
                 hs_mean=True, ha_in_scale=1.0, ctx=False, ctx_channels=32, swin_a=0, swin_s=0, swin_window=8,
                 swin_head_dim=32):
        super().__init__()
        self.levels_wpt = 2
        # the codec pads images to multiples of this (the Swin blocks pad their maps to whole
        # windows with zeros themselves: padding the image to 32 cost 3-5 % more bits)
        self.stride = 16
        self.nw = 3 * 4**self.levels_wpt  # 48 wavelet channels
        self.latent, self.hyper, self.width, self.blocks = latent, hyper, width, blocks
        nw = self.nw
        # --- analysis g_a ---
        self.enc_lin = nn.Conv2d(nw, latent, 1, bias=False)
        self.enc_branch = nn.Sequential(
            nn.Conv2d(nw, enc_width, 3, padding=1), nn.GELU(),
            nn.Conv2d(enc_width, enc_width, 3, padding=1), nn.GELU(),
            nn.Conv2d(enc_width, latent, 3, padding=1))
        nn.init.zeros_(self.enc_branch[-1].weight)
        nn.init.zeros_(self.enc_branch[-1].bias)
        # img-swin: Swin-V2 window-attention stages at the wavelet resolution, in g_a after the
        # branch's second GELU and in g_s after the ConvNeXt blocks (models_swin.SwinV2Block;
        # even blocks plain windows, odd ones shifted by half a window)
        self.window = swin_window
        self.enc_swin = swin_stage(enc_width, swin_a, swin_head_dim, swin_window)
        self.dec_swin = swin_stage(width, swin_s, swin_head_dim, swin_window)
        # --- gains (Cui et al. 2021), log-parametrised; level 0 = lowest rate ---
        g = torch.exp(torch.linspace(math.log(1 / 64), math.log(1 / 4), levels))
        self.log_gain = nn.Parameter(torch.log(g)[:, None].repeat(1, latent))
        self.log_inv_gain = nn.Parameter(-torch.log(g)[:, None].repeat(1, latent))
        # --- hyper analysis h_a (float, encoder only) ---
        self.h_a = nn.Sequential(
            nn.Conv2d(latent, hyper_width, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(hyper_width, hyper_width, 5, stride=2, padding=2), nn.LeakyReLU(0.1),
            nn.Conv2d(hyper_width, hyper, 5, stride=2, padding=2))
        # fixed input scale of h_a (folded into h_a.conv0 on export): at low-rate levels the
        # gained y is ~1, so z starts below the rounding step and the hyperprior can collapse
        self.ha_in_scale = ha_in_scale
        self.prior_z = FactorizedPrior(hyper)
        self.h_s = IntHyperSynthesis(hyper, latent, mean=hs_mean)
        # checkerboard spatial context for the non-anchor half of y (needs the mean layer)
        self.ctx = IntCheckerboardContext(latent, cc=ctx_channels) if ctx else None
        # --- synthesis g_s ---
        self.dec_lin = nn.Conv2d(latent, nw, 1)
        self.dec_in = nn.Conv2d(latent, width, 3, padding=1)
        self.dec_blocks = nn.Sequential(*[ConvNeXtBlock(width) for _ in range(blocks)])
        self.dec_out = nn.Conv2d(width, nw, 1)
        nn.init.zeros_(self.dec_out.weight)
        nn.init.zeros_(self.dec_out.bias)

    # ------------------------------------------------------------------ helpers
    @torch.no_grad()
    def init_pca(self, crops_uint8):
        """WaLLoC: initialise the linear encoder / decoder from a PCA of the wavelet
        coefficients (crops: (N, H, W, 3) uint8)."""
        x = torch.from_numpy(crops_uint8).permute(0, 3, 1, 2).double()
        c = wavelet.wpt2(x - 127.5, self.levels_wpt)  # pixel units
        v = c.permute(0, 2, 3, 1).reshape(-1, self.nw)
        mean = v.mean(0)
        cov = (v - mean).T @ (v - mean) / v.shape[0]
        evals, evecs = torch.linalg.eigh(cov)
        order = torch.argsort(evals, descending=True)
        basis = evecs[:, order[:self.latent]].T  # (latent, nw)
        self.enc_lin.weight.copy_(basis[:, :, None, None].float())
        self.dec_lin.weight.copy_(basis.T[:, :, None, None].float())
        self.dec_lin.bias.copy_(mean.float() - (basis.T @ (basis @ mean)).float())
        return evals[order].float()

    def gains(self, q):
        return torch.exp(self.log_gain[q]), torch.exp(self.log_inv_gain[q])

    def analysis(self, x01, q):
        c = wavelet.wpt2(x01 * 255.0 - 127.5, self.levels_wpt)
        b = self.enc_branch
        h = b[3](b[2](b[1](b[0](c * IN_SCALE))))
        y = self.enc_lin(c) + OUT_SCALE * b[4](self.enc_swin(h))
        g, _ = self.gains(q)
        return y * g.view(1, -1, 1, 1)

    def synthesis(self, y_hat, q):
        _, ig = self.gains(q)
        u = y_hat * ig.view(1, -1, 1, 1)
        h = self.dec_swin(self.dec_blocks(self.dec_in(u * IN_SCALE)))
        c = self.dec_lin(u) + OUT_SCALE * self.dec_out(h)
        return (wavelet.iwpt2(c, self.levels_wpt) + 127.5) / 255.0

    def hyper_analysis(self, y):
        return self.h_a(y * self.ha_in_scale)

    def hyper_index(self, z_hat):
        return self.h_s(z_hat)

    def entropy_params(self, y, z_hat, rounding):
        """Scale index and mean of every element of y: h_s's, and with the checkerboard context
        the non-anchors' from the anchors' y_hat = rounding(y - mu) + mu."""
        if self.ctx is None:
            return self.h_s(z_hat)
        t, mu, feat = self.h_s(z_hat, features=True)
        a = anchor_mask(y.shape[2], y.shape[3], y.device)
        y_hat = rounding(y - mu) + mu
        t_n, mu_n = self.ctx(torch.where(a, y_hat, torch.zeros_like(y_hat)), feat, self.h_s)
        return torch.where(a, t, t_n), torch.where(a, mu, mu_n)

    # ------------------------------------------------------------------ training
    def forward(self, x01, q):
        """Training forward: returns (x_hat, bits_y, bits_z) with noise-based rates and
        straight-through rounding for the decoder input."""
        y = self.analysis(x01, q)
        z = self.hyper_analysis(y)
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        z_hat = round_ste(z)
        p_z = self.prior_z.likelihood(z_noisy)
        t, mu = self.entropy_params(y, z_hat, round_ste)
        if self.h_s.quant and (self.ctx is None or self.ctx.quant):
            scale = index_to_scale(t)
        else:
            scale = index_to_scale(bounded_clamp(t, 0.0, float(SCALE_LEVELS - 1)))
        if mu is None:
            mu = torch.zeros_like(y)
        y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        p_y = gaussian_likelihood(y_noisy - mu, scale)
        bits_y = -torch.log2(p_y.clamp_min(1e-9)).sum()
        bits_z = -torch.log2(p_z.clamp_min(1e-9)).sum()
        x_hat = self.synthesis(round_ste(y - mu) + mu, q)
        return x_hat, bits_y, bits_z

    # ------------------------------------------------------------------ cost
    def decoder_macs_per_pixel(self):
        """Multiply-adds per output pixel of g_s (+ h_s) at inference."""
        C, W, nw = self.latent, self.width, self.nw
        per_latent = C * nw  # dec_lin
        per_latent += C * W * 9  # dec_in
        per_latent += self.blocks * (W * 25 + 2 * W * 2 * W)
        per_latent += W * nw  # dec_out
        for blk in self.dec_swin:  # qkv + proj, q k^T and attn v over a window, the 2x MLP
            d, n = blk.attn.dim, self.window ** 2
            per_latent += 4 * d * d + 2 * n * d + 2 * d * blk.mlp[0].out_features
        gs = per_latent / 16.0
        # inverse packet: per level, 2 passes x 4 lifting steps x 2 MACs + 2 scalings, per sample
        gs += 2 * 2 * (4 * 2 + 2)
        hs = 0.0
        n = 1 / 256.0  # z positions per pixel
        # with the checkerboard context, l3 and the mean layer run at the anchors only (half the
        # positions), the context's index and mean layers at the others, and its first layer
        # everywhere on an input that is zero at half the taps (nn_int_conv2d_checker)
        half = 0.5 if self.ctx is not None else 1.0
        for i, L in enumerate(self.h_s.layers):
            co, ci, k, _ = L.conv.weight.shape
            hs += n * co * ci * k * k * (half if i == len(self.h_s.layers) - 1 else 1.0)
            n *= L.shuffle ** 2
        if self.h_s.mean_layer is not None:
            co, ci, k, _ = self.h_s.mean_layer.conv.weight.shape
            hs += (1 / 16.0) * co * ci * k * k * half
        if self.ctx is not None:
            for L in (self.ctx.ctx, self.ctx.idx, self.ctx.mean):
                co, ci, k, _ = L.conv.weight.shape
                hs += (1 / 16.0) * co * ci * k * k / 2
        return gs, hs
