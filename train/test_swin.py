"""img-swin smoke test (models.ImgWave with Swin-V2 stages, models_swin.SwinV2Block): shifted-window
masks, window independence, the stages start as the identity (img-wave's output unchanged), the
stride stays 16 (the blocks pad their maps), a training step stays finite, and the integer h_s
path runs.
Run: python3 train/test_swin.py"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import ImgWave  # noqa: E402
from models_swin import SwinV2Block, shift_mask  # noqa: E402


def _small(**kw):
    return ImgWave(latent=16, hyper=16, width=32, blocks=1, enc_width=32, hyper_width=16, levels=4,
                   swin_head_dim=16, **kw)


def test_mask_blocks_cross_region_attention():
    m = shift_mask(16, 16, 8, 4, "cpu")
    assert m.shape == (4, 64, 64)
    assert (m[0] == 0).all()  # the top-left window is one region
    assert (m[3] != 0).any()


def test_block_is_translation_consistent_without_shift():
    torch.manual_seed(0)
    b = SwinV2Block(32, 4, 8, shifted=False).eval()
    x = torch.randn(1, 32, 16, 16)
    y = b(x)
    # windows are independent: the top-left window's output depends only on its input
    x2 = x.clone()
    x2[:, :, 8:, :] = 0
    x2[:, :, :, 8:] = 0
    assert torch.allclose(b(x2)[:, :, :8, :8], y[:, :, :8, :8], atol=1e-5)


def test_stages_start_as_identity():
    """Swin stages added to an img-wave leave its transforms exactly as they were."""
    torch.manual_seed(0)
    wave = _small().eval()
    torch.manual_seed(0)
    swin = _small(swin_a=2, swin_s=2).eval()
    missing, unexpected = swin.load_state_dict(wave.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("enc_swin.", "dec_swin.")) for k in missing)
    assert wave.stride == 16 and swin.stride == 16
    assert [b.shift for b in swin.enc_swin] == [0, 4] and [b.shift for b in swin.dec_swin] == [0, 4]
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        for q in (0, 3):
            y = swin.analysis(x, q)
            assert torch.equal(y, wave.analysis(x, q))
            assert torch.equal(swin.synthesis(torch.round(y), q), wave.synthesis(torch.round(y), q))


def test_train_step_and_integer_hs():
    torch.manual_seed(0)
    m = _small(swin_a=2, swin_s=2, ctx=True)
    for b in list(m.enc_swin) + list(m.dec_swin):  # as after some training
        torch.nn.init.constant_(b.norm1.weight, 0.1)
        torch.nn.init.constant_(b.norm2.weight, 0.1)
    opt = torch.optim.Adam(m.parameters(), 1e-4)
    x = torch.rand(2, 3, 64, 64)
    x_hat, by, bz = m(x, 3)
    assert x_hat.shape == x.shape
    loss = ((x_hat - x) * 255).pow(2).mean() * 0.01 + (by + bz) / (2 * 64 * 64)
    opt.zero_grad()
    loss.backward()
    assert all(p.grad is not None for n, p in m.named_parameters() if n.startswith(("enc_swin.", "dec_swin.")))
    opt.step()
    assert torch.isfinite(loss)
    m.h_s.calibrate()
    m.h_s.quant = True
    with torch.no_grad():
        z = torch.round(m.hyper_analysis(m.analysis(x, 0)))
        idx, mean = m.h_s(z.double())
    assert mean.shape == idx.shape
    assert idx.shape == (2, 16, 16, 16) and idx.min() >= 0 and idx.max() <= 63
    gs, hs = m.decoder_macs_per_pixel()
    gs0, _ = _small().decoder_macs_per_pixel()
    assert gs > gs0 > 0 and hs > 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    test_mask_blocks_cross_region_attention()
    test_block_is_translation_consistent_without_shift()
    test_stages_start_as_identity()
    test_train_step_and_integer_hs()
    print("ok")
