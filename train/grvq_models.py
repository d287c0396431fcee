"""aud-grvq: low-rate speech codec with group-residual vector quantisation (HiFi-Codec, Yang et
al. 2023; residual VQ of SoundStream/EnCodec, Zeghidour et al. 2021, Defossez et al. 2022).

16 kHz mono.  A fixed 1-D wavelet packet (the one of aud-wave, 4 levels: 16 subbands at 1 kHz)
replaces the first strided layers of HiFi-Codec's encoder and the last of its decoder, so the
learned parts run at 1 kHz and below (cheap on a CPU, and the wavelet already separates the
bands a conv stem would have to learn).  Encoder: convs with strides 4 and 5 down to 50 latent
frames per second.  The latent (D = 128) is cut into G = 2 groups of 64 channels; each group is
quantised by S = 8 residual stages of K = 256 codewords (8 bits).  Quality level q (0..Q-1) uses
the first q + 2 stages of every group: 2 x 8 x 50 x (q + 2) bit/s = 1.6 .. 6.4 kbps before
entropy coding.  Decoder: conv, sub-pixel (pixel-shuffle) upsampling by 5 and 4 with Snake
activations (Ziyin et al. 2020, as in DAC/BigVGAN), back to the 16 subbands, inverse wavelet.

Training (train_audio.py --model aud-grvq): multi-scale mel distance (DAC's, the evaluation
metric) + commitment loss; codebooks by EMA (van den Oord et al. 2017, appendix) with k-means
style initialisation from the first batch and dead-code restarts (Dhariwal et al. 2020,
Jukebox); quantiser dropout (the number of stages drawn per item, SoundStream) makes one model
serve every level.  train/ARCH_AUDIO.md "aud-grvq" specifies inference.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from audio_models import wpt_forward, wpt_inverse

RATE = 16000
LEVELS = 4
NW = 2 ** LEVELS
HOP = 320  # samples per latent frame (NW * 4 * 5): 50 frames/s
DIM = 128
GROUPS = 2
STAGES = 8
CODES = 256
MIN_STAGES = 2  # level q uses q + MIN_STAGES stages
Q_LEVELS = STAGES - MIN_STAGES + 1
ENC = (64, 128, 256)  # encoder widths at 1 kHz, 250 Hz, 50 Hz
DEC = (256, 128, 64)  # decoder widths at 50 Hz, 250 Hz, 1 kHz


def level_kbps(q):
    return GROUPS * (q + MIN_STAGES) * 8 * (RATE / HOP) / 1000


class Snake(nn.Module):
    """x + 1/(alpha + 1e-9) sin^2(alpha x), alpha per channel (nets: nn_snake)."""

    def __init__(self, ch):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(ch))

    def forward(self, x):
        a = self.alpha[None, :, None]
        return x + (1.0 / (a + 1e-9)) * torch.sin(a * x) ** 2


class EncBlock(nn.Module):
    """h + pw(gelu(conv3(gelu(h))))."""

    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, 3, padding=1)
        self.pw = nn.Conv1d(ch, ch, 1)

    def forward(self, h):
        return h + self.pw(F.gelu(self.conv(F.gelu(h))))


class DecBlock(nn.Module):
    """h + pw(snake2(conv3(snake1(h)))) (a DAC residual unit without dilation)."""

    def __init__(self, ch):
        super().__init__()
        self.act1 = Snake(ch)
        self.conv = nn.Conv1d(ch, ch, 3, padding=1)
        self.act2 = Snake(ch)
        self.pw = nn.Conv1d(ch, ch, 1)

    def forward(self, h):
        return h + self.pw(self.act2(self.conv(self.act1(h))))


class GRVQ(nn.Module):
    """Group-residual VQ with EMA codebooks.  z (N, D, T) -> (z_q, idx (N, G, S, T), commit)."""

    def __init__(self, dim=DIM, groups=GROUPS, stages=STAGES, codes=CODES, decay=0.99):
        super().__init__()
        self.g, self.s, self.k, self.d = groups, stages, codes, dim // groups
        self.decay = decay
        self.register_buffer("codebook", torch.zeros(groups, stages, codes, self.d))
        self.register_buffer("ema_count", torch.ones(groups, stages, codes))
        self.register_buffer("ema_sum", torch.zeros(groups, stages, codes, self.d))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @staticmethod
    def nearest(v, cb):
        """v (M, d), cb (K, d) -> index (M,): squared L2, ties to the lowest index."""
        d = (v * v).sum(1, keepdim=True) - 2 * v @ cb.T + (cb * cb).sum(1)[None]
        return d.argmin(1)

    @torch.no_grad()
    def _kmeans_init(self, v, iters=10):
        k = self.k
        cb = v[torch.randperm(v.shape[0], device=v.device)[:k]].clone()
        if cb.shape[0] < k:
            cb = torch.cat([cb, cb[torch.randint(0, cb.shape[0], (k - cb.shape[0],), device=v.device)]
                            + 1e-3 * torch.randn(k - cb.shape[0], v.shape[1], device=v.device)])
        for _ in range(iters):
            i = self.nearest(v, cb)
            cnt = torch.bincount(i, minlength=k).float()
            s = torch.zeros_like(cb).index_add_(0, i, v)
            live = cnt > 0
            cb[live] = s[live] / cnt[live, None]
        return cb

    def forward(self, z, n_stages):
        """n_stages: (N,) long, stages used per item (quantiser dropout)."""
        n, dim, t = z.shape
        zg = z.reshape(n, self.g, self.d, t).permute(1, 0, 3, 2)  # (G, N, T, d)
        active = torch.arange(self.s, device=z.device)[:, None] < n_stages[None, :]  # (S, N)
        out = torch.zeros_like(zg)
        idx = torch.zeros(self.g, self.s, n, t, dtype=torch.long, device=z.device)
        train = self.training
        init = train and not bool(self.initialised)
        for g in range(self.g):
            res = zg[g].detach().reshape(n * t, self.d)
            q_sum = torch.zeros_like(res)
            for s in range(self.s):
                m = active[s][:, None].expand(n, t).reshape(-1)
                if not m.any():
                    break
                if init:
                    self.codebook[g, s] = self._kmeans_init(res[m])
                    self.ema_sum[g, s] = self.codebook[g, s].clone()
                    self.ema_count[g, s] = 1.0
                cb = self.codebook[g, s]
                i = self.nearest(res, cb)
                q = cb[i] * m[:, None]
                if train:
                    with torch.no_grad():
                        rv, ri = res[m], i[m]
                        cnt = torch.bincount(ri, minlength=self.k).float()
                        ssum = torch.zeros_like(cb).index_add_(0, ri, rv)
                        self.ema_count[g, s].mul_(self.decay).add_(cnt, alpha=1 - self.decay)
                        self.ema_sum[g, s].mul_(self.decay).add_(ssum, alpha=1 - self.decay)
                        c = self.ema_count[g, s]
                        tot = c.sum()
                        c_s = (c + 1e-5) / (tot + self.k * 1e-5) * tot  # Laplace smoothing
                        self.codebook[g, s] = self.ema_sum[g, s] / c_s[:, None]
                        # dead codes (used less than once per ~50 steps) restart on batch vectors
                        dead = c < 0.02
                        nd = int(dead.sum())
                        if nd and rv.shape[0]:
                            pick = rv[torch.randint(0, rv.shape[0], (nd,), device=z.device)]
                            self.codebook[g, s][dead] = pick
                            self.ema_sum[g, s][dead] = pick
                            self.ema_count[g, s][dead] = 1.0
                idx[g, s] = i.reshape(n, t)
                q_sum = q_sum + q
                res = res - q
            out[g] = q_sum.reshape(n, t, self.d)
        if init:
            self.initialised.fill_(True)
        z_q = out.permute(1, 0, 3, 2).reshape(n, dim, t)
        commit = ((z - z_q.detach()) ** 2).mean(dim=(1, 2))
        z_st = z + (z_q - z).detach()
        return z_st, idx.permute(2, 0, 1, 3), commit

    def decode(self, idx, n_stages):
        """idx (N, G, S, T) -> (N, D, T), summing the first n_stages stages (an int)."""
        n, _, _, t = idx.shape
        out = []
        for g in range(self.g):
            q = 0
            for s in range(n_stages):
                q = q + self.codebook[g, s][idx[:, g, s]]  # (N, T, d)
            out.append(q.permute(0, 2, 1))
        return torch.cat(out, dim=1)


class AudGrvq(nn.Module):
    """postfilter: (g_n, g_d, mu) of the formant postfilter on the output (postfilter.py), or ()."""

    def __init__(self, postfilter=()):
        super().__init__()
        self.postfilter = tuple(float(v) for v in postfilter)
        e0, e1, e2 = ENC
        self.enc_in = nn.Conv1d(NW, e0, 7, padding=3)
        self.enc_b0 = EncBlock(e0)
        self.enc_d1 = nn.Conv1d(e0, e1, 8, stride=4, padding=2)  # 1 kHz -> 250 Hz
        self.enc_b1 = EncBlock(e1)
        self.enc_d2 = nn.Conv1d(e1, e2, 15, stride=5, padding=5)  # 250 Hz -> 50 Hz
        self.enc_b2 = EncBlock(e2)
        self.enc_out = nn.Conv1d(e2, DIM, 3, padding=1)
        self.vq = GRVQ()
        d0, d1, d2 = DEC
        self.dec_in = nn.Conv1d(DIM, d0, 3, padding=1)
        self.dec_b0 = DecBlock(d0)
        self.dec_u1 = nn.Conv1d(d0, d1 * 5, 3, padding=1)  # + pixel shuffle 5: 250 Hz
        self.dec_b1 = DecBlock(d1)
        self.dec_u2 = nn.Conv1d(d1, d2 * 4, 3, padding=1)  # + pixel shuffle 4: 1 kHz
        self.dec_b2 = DecBlock(d2)
        self.dec_b3 = DecBlock(d2)
        self.dec_act = Snake(d2)
        self.dec_out = nn.Conv1d(d2, NW, 7, padding=3)

    @staticmethod
    def shuffle(h, r):  # (N, C r, L) -> (N, C, L r), y[c][l r + i] = x[c r + i][l]
        n, cr, length = h.shape
        return h.reshape(n, cr // r, r, length).permute(0, 1, 3, 2).reshape(n, cr // r, length * r)

    def encode(self, x):
        """x (N, L) with L a multiple of HOP -> z (N, D, L / HOP)."""
        w = wpt_forward(x, LEVELS) * 4.0  # speech-level coefficients to ~unit scale
        h = self.enc_b0(F.gelu(self.enc_in(w)))
        h = self.enc_b1(F.gelu(self.enc_d1(h)))
        h = self.enc_b2(F.gelu(self.enc_d2(h)))
        return self.enc_out(F.gelu(h))

    def decode(self, zq):
        h = self.dec_b0(self.dec_in(zq))
        h = self.dec_b1(self.shuffle(self.dec_u1(h), 5))
        h = self.dec_b3(self.dec_b2(self.shuffle(self.dec_u2(h), 4)))
        w = self.dec_out(self.dec_act(h)) * 0.25
        x = wpt_inverse(w, LEVELS)
        if self.postfilter:
            import postfilter
            x = postfilter.apply(x, *self.postfilter)
        return x

    def forward(self, x, n_stages):
        z = self.encode(x)
        zq, idx, commit = self.vq(z, n_stages)
        return self.decode(zq), idx, commit

    def decoder_macs_per_second(self, rate=RATE):
        d0, d1, d2 = DEC
        f = rate / HOP
        m = f * (DIM * d0 * 3 + d0 * d0 * 4 + d0 * d1 * 5 * 3)
        m += 5 * f * (d1 * d1 * 4 + d1 * d2 * 4 * 3)
        m += 20 * f * (2 * d2 * d2 * 4 + d2 * NW * 7)
        return m
