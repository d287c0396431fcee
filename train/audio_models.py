"""aud-wave: WaLLoC-style audio codec (Jacobellis & Yadwadkar 2024, "Learned compression for
compressed learning"): a fixed 1-D wavelet packet, a LINEAR encoder (initialised from PCA of the
wavelet coefficients), uniform quantisation with per-quality gains (Cui et al. 2021), a factorized
entropy model (Balle et al. 2018, appendix 6.1) and a small 1-D conv decoder with residual blocks
back to wavelet coefficients, then the inverse wavelet.  train/ARCH_AUDIO.md specifies inference.

Signals are mono float in [-1, 1) at 44.1 kHz (stereo is coded as mid/side with this model).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from entropy_models import FactorizedPrior, round_ste
from wavelet import dwt1, idwt1

LEVELS = 4  # wavelet packet levels: 16 subbands at 1/16 of the sample rate
NW = 2 ** LEVELS
LATENT = 16  # latent channels C
HIDDEN = 32  # decoder width
BLOCKS = 2  # residual blocks of the decoder
STRIDE = NW
# Nominal per-channel bitrates the quality levels are trained to (kbps of one mono channel at
# 44.1 kHz); the rate controller of train_audio.py adjusts each level's lambda towards its target.
TARGET_KBPS = (32, 48, 64, 96, 128, 160)
RATE = 44100


def wpt_forward(x, levels=LEVELS):
    """(N, L) -> (N, 2^levels, L / 2^levels).  Packet order: channel b1 2^(L-1) + ... + bL
    (b = 0 low, 1 high at each level), i.e. channel 2c + b after each one-level split."""
    y = x[:, None, :]
    for _ in range(levels):
        lo, hi = dwt1(y, 2)
        y = torch.stack([lo, hi], dim=2).reshape(y.shape[0], -1, lo.shape[2])
    return y


def wpt_inverse(y, levels=LEVELS):
    for _ in range(levels):
        n, c, t = y.shape
        y = y.reshape(n, c // 2, 2, t)
        y = idwt1(y[:, :, 0], y[:, :, 1], 2)
    return y[:, 0]


class ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, 3, padding=1)
        self.pw = nn.Conv1d(ch, ch, 1)
        nn.init.zeros_(self.pw.weight)
        nn.init.zeros_(self.pw.bias)

    def forward(self, h):
        return h + self.pw(F.gelu(self.conv(h)))


class AudWave(nn.Module):
    def __init__(self, latent=LATENT, hidden=HIDDEN, blocks=BLOCKS, levels=len(TARGET_KBPS)):
        super().__init__()
        self.latent, self.hidden, self.q_levels = latent, hidden, levels
        # The linear encoder is the PCA basis of the training data's wavelet coefficients (an
        # orthonormal (C, NW) matrix, fixed after init_pca) and the linear decoder path its
        # transpose, so that encoder + linear decoder reconstruct perfectly up to quantisation
        # whatever the signal (loud, full-band, unlike the training data); the per-level gains
        # do the bit allocation and the conv path learns the residual correction.  (Training the
        # encoder and the linear decoder freely let the rate term shrink rows to nothing and left
        # the linear path far from an inverse on out-of-distribution signals.)
        self.register_buffer("enc_basis", torch.eye(NW)[:latent].clone())
        # initial gains: geometric ladder (the rate controller and training refine them)
        g0 = torch.linspace(math.log(150.0), math.log(3000.0), levels)[:, None].repeat(1, latent)
        self.log_gain = nn.Parameter(g0.clone())
        # The inverse gain is tied to 1 / gain, so that the linear decoder path is the exact
        # dequantisation at every level; the conv path's correction is scaled per level and
        # subband by res_gain (Q, NW), so that it can shrink noise at low rates (Wiener-like)
        # and step aside at high rates.  (With free inverse gains the shared conv path took
        # over half of the reconstruction at every level and capped the SNR of high levels.)
        self.res_gain = nn.Parameter(torch.ones(levels, NW))
        # One density per (level, latent channel): table q * C + c codes channel c at level q.
        # A prior shared by all levels is a compromise that overcharges the low levels (their
        # mostly-zero latents) and wastes bits at every level.
        self.prior = FactorizedPrior(latent * levels, init_scale=50.0)
        self.dec_lin = nn.Conv1d(latent, NW, 1)
        self.dec_in = nn.Conv1d(latent, hidden, 5, padding=2)
        self.blocks = nn.ModuleList([ResBlock(hidden) for _ in range(blocks)])
        self.dec_out = nn.Conv1d(hidden, NW, 1)
        nn.init.zeros_(self.dec_out.weight)
        nn.init.zeros_(self.dec_out.bias)
        nn.init.zeros_(self.dec_lin.bias)
        with torch.no_grad():
            self.dec_lin.weight.copy_(self.enc_basis.T[:, :, None])
        self.dec_lin.weight.requires_grad_(False)
        self.dec_lin.bias.requires_grad_(False)

    @torch.no_grad()
    def init_pca(self, x):
        """Encoder rows = principal directions of the wavelet coefficients of x (N, L), by
        decreasing variance; the linear decoder path starts as the transpose (the inverse)."""
        w = wpt_forward(x).permute(0, 2, 1).reshape(-1, NW).double()
        cov = w.T @ w / w.shape[0]
        evals, evecs = torch.linalg.eigh(cov)
        order = torch.argsort(evals, descending=True)
        basis = evecs[:, order].T[: self.latent].float()  # (C, NW)
        self.enc_basis.copy_(basis)
        self.dec_lin.weight.copy_(basis.T[:, :, None])
        return evals[order]

    @property
    def enc(self):
        """The encoder matrix (C, NW): orthonormal rows."""
        return self.enc_basis

    def analysis(self, x, q):
        """x (N, L) -> y (N, C, L/16), gained, not rounded.  q: int or (N,) long tensor."""
        w = wpt_forward(x)
        y = torch.einsum("ck,nkt->nct", self.enc, w)
        g = torch.exp(self.log_gain[q])
        return y * (g[:, :, None] if g.dim() == 2 else g[None, :, None])

    def synthesis(self, y_hat, q):
        g = torch.exp(-self.log_gain[q])
        u = y_hat * (g[:, :, None] if g.dim() == 2 else g[None, :, None])
        h = self.dec_in(u)
        for b in self.blocks:
            h = b(h)
        r = self.res_gain[q]
        w = self.dec_lin(u) + self.dec_out(h) * (r[:, :, None] if r.dim() == 2 else r[None, :, None])
        return wpt_inverse(w)

    def likelihood(self, y, q):
        """P(y +- 1/2) of (N, C, T) values under the densities of level q (an int)."""
        P, C = self.prior, self.latent
        sl = slice(q * C, (q + 1) * C)
        n, _, t = y.shape
        v = y.permute(1, 0, 2).reshape(C, 1, -1)

        def logits(x):  # FactorizedPrior.logits_cdf restricted to the channels of level q
            for i in range(len(P.matrices)):
                x = torch.matmul(F.softplus(P.matrices[i][sl]), x) + P.biases[i][sl]
                if i < len(P.factors):
                    x = x + torch.tanh(P.factors[i][sl]) * torch.tanh(x)
            return x

        lower, upper = logits(v - 0.5), logits(v + 0.5)
        sign = -torch.sign(lower + upper).detach()
        p = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return p.reshape(C, n, t).permute(1, 0, 2)

    def forward(self, x, q):
        """x (N, L), q: the level (an int, one per batch)."""
        y = self.analysis(x, q)
        noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        lik = self.likelihood(noisy, q).clamp_min(1e-9)
        bits = -torch.log2(lik).sum(dim=(1, 2))  # per item
        x_hat = self.synthesis(round_ste(y), q)
        return x_hat, bits

    def decoder_macs_per_frame(self):
        c, h, nw = self.latent, self.hidden, NW
        return c * h * 5 + len(self.blocks) * (h * h * 3 + h * h) + h * nw + c * nw
