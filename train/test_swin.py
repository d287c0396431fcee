"""img-swin smoke test: shapes, shifted-window masks, a training step lowers nothing to NaN,
and the integer h_s path runs.  Run: python3 train/test_swin.py"""
import torch

from models_swin import ImgSwin, SwinV2Block, shift_mask


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


def test_train_step_and_integer_hs():
    torch.manual_seed(0)
    m = ImgSwin(dims=(32, 32, 32), latent=32, hyper=16, depth=2, heads=2)
    opt = torch.optim.Adam(m.parameters(), 1e-4)
    x = torch.rand(2, 3, 64, 64)
    x_hat, by, bz = m(x, 3)
    assert x_hat.shape == x.shape
    loss = ((x_hat - x) * 255).pow(2).mean() * 0.01 + (by + bz) / (2 * 64 * 64)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    m.h_s.calibrate()
    m.h_s.quant = True
    with torch.no_grad():
        z = torch.round(m.h_a(m.analysis(x, 0)))
        idx, mean = m.h_s(z.double())
    assert mean.shape == idx.shape
    assert idx.shape == (2, 32, 4, 4) and idx.min() >= 0 and idx.max() <= 63
    gs, hs = m.decoder_macs_per_pixel()
    assert gs > 0 and hs > 0


if __name__ == "__main__":
    test_mask_blocks_cross_region_attention()
    test_block_is_translation_consistent_without_shift()
    test_train_step_and_integer_hs()
    print("ok")
