"""Entropy models used in training: the factorized prior (Balle et al. 2018,
"Variational image compression with a scale hyperprior", appendix 6.1) for z and
the scale-table Gaussian conditional for y.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# 64 log-spaced scales from 0.11 to 256 (entropy issue #3 default; CompressAI's
# get_scale_table uses the same end points).  Index i -> SCALE_MIN * exp(i * SCALE_STEP).
SCALE_MIN = 0.11
SCALE_MAX = 256.0
SCALE_LEVELS = 64
SCALE_STEP = math.log(SCALE_MAX / SCALE_MIN) / (SCALE_LEVELS - 1)


def scale_table():
    return np.exp(np.log(SCALE_MIN) + SCALE_STEP * np.arange(SCALE_LEVELS))


class _BoundedClamp(torch.autograd.Function):
    """clamp(x, lo, hi) whose gradient still flows when it pushes x back into range
    (the 'LowerBound' trick of Balle's tensorflow_compression, both sides)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        pass_ = ((x >= ctx.lo) | (g < 0)) & ((x <= ctx.hi) | (g > 0))
        return g * pass_, None, None


def bounded_clamp(x, lo, hi):
    return _BoundedClamp.apply(x, lo, hi)


def round_ste(x):
    return x + (torch.round(x) - x).detach()


def _std_normal_cdf(x):
    return 0.5 * torch.erfc(-x * (2 ** -0.5))


def gaussian_likelihood(y, scale):
    """P(Y in [y-1/2, y+1/2]) for Y ~ N(0, scale^2) (zero mean), computed on the
    lower tail for accuracy as CompressAI does."""
    v = y.abs()
    upper = _std_normal_cdf((0.5 - v) / scale)
    lower = _std_normal_cdf((-0.5 - v) / scale)
    return upper - lower


def index_to_scale(t):
    """Continuous scale index -> scale (train); at inference t is an integer index."""
    return SCALE_MIN * torch.exp(t * SCALE_STEP)


class FactorizedPrior(nn.Module):
    """Per-channel univariate density model (Balle 2018, appendix 6.1) with the
    cumulative modelled by a small monotone network; filters (3, 3, 3), init_scale 10."""

    def __init__(self, channels, filters=(3, 3, 3), init_scale=10.0):
        super().__init__()
        self.channels = channels
        f = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / f[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, f[i + 1], f[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, f[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, f[i + 1], 1)))

    def logits_cdf(self, x):
        """x: (C, 1, M) -> logits of the CDF, (C, 1, M)."""
        for i in range(len(self.matrices)):
            x = torch.matmul(F.softplus(self.matrices[i]), x) + self.biases[i]
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, z):
        """z: (N, C, H, W), integer valued (or noisy) -> P(z +- 1/2)."""
        n, c, h, w = z.shape
        v = z.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cdf(v - 0.5)
        upper = self.logits_cdf(v + 0.5)
        sign = -torch.sign(lower + upper).detach()
        p = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return p.reshape(c, n, h, w).permute(1, 0, 2, 3)

    @torch.no_grad()
    def pmf_tables(self, tail=1e-9, search=512):
        """Integer support and pmf per channel, for export and for exact rate.

        For channel c the support is [offset[c], offset[c] + length[c]); it is the
        smallest integer range whose two tails each hold less than `tail` mass.
        Returns (offset int32 (C,), pmf list of float64 arrays, tail masses (C,)).
        """
        grid = torch.arange(-search, search + 1, dtype=torch.float32)
        v = grid.expand(self.channels, 1, -1)
        lo = torch.sigmoid(self.logits_cdf(v - 0.5))[:, 0].double()  # CDF at k-1/2
        hi = torch.sigmoid(self.logits_cdf(v + 0.5))[:, 0].double()  # CDF at k+1/2
        offsets, pmfs, tails = [], [], []
        for c in range(self.channels):
            first = int(torch.nonzero(hi[c] >= tail)[0])  # first k whose upper CDF passes tail
            last = int(torch.nonzero(1 - lo[c] >= tail)[-1])
            first = min(first, search)  # always keep 0 in the support
            last = max(last, search)
            pmf = (hi[c, first:last + 1] - lo[c, first:last + 1]).clamp_min(0).numpy()
            offsets.append(first - search)
            pmfs.append(pmf)
            tails.append(float(lo[c, first] + (1 - hi[c, last])))
        return np.array(offsets, dtype=np.int32), pmfs, np.array(tails)
