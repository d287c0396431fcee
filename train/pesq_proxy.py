"""A differentiable PESQ-like loss for aud-grvq's training (`train_audio.py --pesq W`): the PesqLoss
of torch-pesq (PyPI `torch-pesq` 0.1.2, MIT; Ziegler et al., "Fine-tuning speech enhancement with a
differentiable PESQ"), P.862's symmetric and asymmetric disturbances on Bark loudness spectra.
torch-pesq imports torchaudio, torchtyping and typeguard for four things; they are stood in for
here (install it alone: `pip install --no-deps torch-pesq`): Resample (16 kHz in, so the identity),
Spectrogram (torch.stft), lfilter (the IIR filter's impulse response truncated to 1024 taps, by FFT:
both of its filters decay far faster) and the type annotations (no-ops).  On aud-grvq's held-out
speech its MOS follows PESQ-WB with correlation 0.97 (135 segments, levels 1, 4 and 7).

  loss = PesqLoss(1.0, sample_rate=16000); loss(ref, deg)  # (batch, samples) -> (batch,)
  python3 train/pesq_proxy.py [CKPT]   # the proxy against PESQ-WB on the held-out speech
"""
import sys
import types

import numpy as np
import torch
from scipy.signal import lfilter as _sp_lfilter


def _install_stubs():
    if "torchtyping" not in sys.modules:
        tt = types.ModuleType("torchtyping")
        class _TT:
            def __class_getitem__(cls, item):
                return torch.Tensor
        tt.TensorType = _TT
        sys.modules["torchtyping"] = tt
    if "typeguard" not in sys.modules:
        tg = types.ModuleType("typeguard")
        tg.typechecked = lambda f: f
        sys.modules["typeguard"] = tg
    if "torchaudio" not in sys.modules:
        ta = types.ModuleType("torchaudio")
        fn = types.ModuleType("torchaudio.functional")
        tr = types.ModuleType("torchaudio.transforms")
        def lfilter(x, a, b, clamp=False, taps=1024):
            # IIR b/a as its impulse response truncated to `taps` (the filters here decay fast), by FFT
            imp = np.zeros(taps)
            imp[0] = 1.0
            h = _sp_lfilter(b.detach().cpu().numpy(), a.detach().cpu().numpy(), imp)
            h = torch.as_tensor(h, dtype=x.dtype, device=x.device)
            n = x.shape[-1] + taps
            y = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(h, n=n), n=n)
            return y[..., :x.shape[-1]]
        fn.lfilter = lfilter
        class Resample(torch.nn.Module):
            def __init__(self, a, b):
                super().__init__()
                assert a == b, "16 kHz only"
            def forward(self, x):
                return x
        class Spectrogram(torch.nn.Module):
            def __init__(self, win_length, n_fft, hop_length, window_fn, power, normalized, center):
                super().__init__()
                self.n_fft, self.hop = n_fft, hop_length
                self.register_buffer("w", window_fn(win_length))
            def forward(self, x):
                s = torch.stft(x, self.n_fft, self.hop, window=self.w, center=False, return_complex=True)
                return s.real ** 2 + s.imag ** 2
        tr.Resample, tr.Spectrogram = Resample, Spectrogram
        ta.functional, ta.transforms = fn, tr
        sys.modules.update({"torchaudio": ta, "torchaudio.functional": fn, "torchaudio.transforms": tr})


_install_stubs()
from torch_pesq import PesqLoss  # noqa: E402


def main():
    """python3 train/pesq_proxy.py [CKPT]: the proxy's MOS against PESQ-WB (eval_grvq.py's metric)
    on the held-out speech, levels 1, 4 and 7 of an aud-grvq checkpoint."""
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import eval_grvq as E
    torch.set_num_threads(1)
    loss = PesqLoss(1.0, sample_rate=16000)
    tg = E.TorchGrvq(sys.argv[1] if len(sys.argv) > 1 else os.path.join(E.HERE, "checkpoints", "aud-grvq.pt"))
    segs = E.select_segments("valid", 4.0, 180.0)
    rows = []
    for src in sorted(segs):
        x = np.concatenate([s for _, _, s in segs[src]])
        for lv, (y, _) in tg.code_levels(x, [0, 3, 6]).items():
            pos = 0
            for _, _, s in segs[src]:
                yy = y[pos:pos + len(s)]
                pos += len(s)
                pesq = E.speech_metrics(s, yy)["pesq"]
                with torch.no_grad():
                    mos = float(loss.mos(torch.from_numpy(s)[None].float(), torch.from_numpy(yy)[None].float()))
                if pesq is not None:
                    rows.append((lv, pesq, mos))
    r = np.array(rows)
    print("%d segments x levels: correlation of the proxy's MOS with PESQ-WB %.3f" % (len(r), np.corrcoef(r[:, 1], r[:, 2])[0, 1]))
    for lv in (0, 3, 6):
        m = r[r[:, 0] == lv]
        print("level q%d: PESQ-WB %.3f  proxy MOS %.3f" % (lv + 1, m[:, 1].mean(), m[:, 2].mean()))


if __name__ == "__main__":
    main()
