"""Adversarial losses for aud-grvq (training only; nothing here is exported).

The multi-scale STFT discriminator of EnCodec (Defossez et al. 2022, section 3.4), slimmed for a
small budget: for each of three STFT scales (windows 256, 512, 1024, hop 1/4) the complex
spectrogram (real and imaginary parts as 2 channels, frequency x time) goes through a 2-D conv
stack (16 channels, kernels 3x9 along frequency x time, frequency stride 2 after the first layer,
LeakyReLU 0.2, weight norm) to one logit map.  Hinge losses (EnCodec, MelGAN):
  D: mean relu(1 - D(x)) + mean relu(1 + D(x_hat))
  G: mean relu(1 - D(x_hat))
and the relative feature-matching loss of EnCodec: per layer, mean |f(x) - f(x_hat)| divided by
mean |f(x)|.  Why: aud-grvq's mel + waveform objective converged (weights/MODELS.md: 7 more GPU
minutes moved nothing) with PESQ-WB 0.31 short of Opus 8 kbps, and the high band is not the cause
(attenuating it moves PESQ-WB by at most 0.06); what the codec literature adds at this point is
an adversarial term (SoundStream, EnCodec, HiFi-Codec, DAC).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

WN = nn.utils.parametrizations.weight_norm


class StftDisc(nn.Module):
    def __init__(self, win, ch=16):
        super().__init__()
        self.win = win
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        self.convs = nn.ModuleList([
            WN(nn.Conv2d(2, ch, (3, 9), padding=(1, 4))),
            WN(nn.Conv2d(ch, ch, (3, 9), stride=(2, 1), padding=(1, 4))),
            WN(nn.Conv2d(ch, ch, (3, 9), stride=(2, 1), padding=(1, 8), dilation=(1, 2))),
            WN(nn.Conv2d(ch, ch, (3, 9), stride=(2, 1), padding=(1, 16), dilation=(1, 4))),
            WN(nn.Conv2d(ch, ch, (3, 3), padding=(1, 1))),
        ])
        self.out = WN(nn.Conv2d(ch, 1, (3, 3), padding=(1, 1)))

    def forward(self, x):
        s = torch.stft(x, self.win, hop_length=self.win // 4, window=self.window, center=True,
                       return_complex=True)
        h = torch.stack([s.real, s.imag], dim=1)  # (N, 2, F, T)
        feats = []
        for c in self.convs:
            h = F.leaky_relu(c(h), 0.2)
            feats.append(h)
        return self.out(h), feats


class MultiStftDisc(nn.Module):
    def __init__(self, wins=(256, 512, 1024), ch=16):
        super().__init__()
        self.discs = nn.ModuleList([StftDisc(w, ch) for w in wins])

    def forward(self, x):
        return [d(x) for d in self.discs]


def d_loss(disc, x, x_hat):
    """Hinge loss of the discriminator (x_hat detached by the caller)."""
    loss = 0.0
    for (lr, _), (lf, _) in zip(disc(x), disc(x_hat)):
        loss = loss + F.relu(1 - lr).mean() + F.relu(1 + lf).mean()
    return loss / len(disc.discs)


def g_losses(disc, x, x_hat):
    """(adversarial hinge loss, relative feature-matching loss) of the generator."""
    adv, fm, n = 0.0, 0.0, 0
    real = disc(x)
    fake = disc(x_hat)
    for (_, fr), (lf, ff) in zip(real, fake):
        adv = adv + F.relu(1 - lf).mean()
        for a, b in zip(fr, ff):
            a = a.detach()
            fm = fm + (a - b).abs().mean() / (a.abs().mean() + 1e-5)
            n += 1
    return adv / len(disc.discs), fm / n
