"""The fake-quant h_s (float64) and the pure-integer numpy reference give identical indices.
Run: python3 train/test_hs_int.py"""
import numpy as np
import torch

from hs_int_ref import anchors, ctx_forward, hs_forward, pixel_shuffle
from int_layers import IntCheckerboardContext, IntHyperSynthesis


def _trained_like(seed):
    torch.manual_seed(seed)
    hs = IntHyperSynthesis(8, 6, h1=16, h2=8)
    with torch.no_grad():
        for L in list(hs.layers) + [hs.mean_layer]:
            L.conv.weight.normal_(0, 0.2)
            L.conv.bias.normal_(0, 0.5)
        hs.layers[-1].conv.bias.add_(20)  # indices away from the clamp
    hs.train()
    for _ in range(3):  # calibration statistics
        hs(torch.randint(-6, 7, (2, 8, 5, 7)).float())
    hs.calibrate()
    hs.quant = True
    return hs


def test_fake_quant_equals_integer_reference():
    for seed in range(4):
        hs = _trained_like(seed)
        layers = [{k: (v.numpy() if torch.is_tensor(v) else v) for k, v in L.items()} for L in hs.export_int()]
        rng = np.random.default_rng(seed)
        for trial in range(3):
            z = rng.integers(-40, 41, size=(8, 3 + trial, 4 + 2 * trial))
            if trial == 2:
                z[0, 0, 0] = 1000  # beyond the input clamp
            ref, ref_mean = hs_forward(z, layers)
            with torch.no_grad():
                got, got_mean = hs(torch.from_numpy(z)[None].double())
            got, got_mean = got[0].numpy(), got_mean[0].numpy()
            assert got.shape == ref.shape == (6, 4 * z.shape[1], 4 * z.shape[2])
            np.testing.assert_array_equal(got, ref.astype(np.float64))
            np.testing.assert_array_equal(got_mean * 4, ref_mean.astype(np.float64))
            assert ref.min() >= 0 and ref.max() <= 63
            assert len(np.unique(ref)) > 5  # the test exercises many indices
            assert ref_mean.min() < 0 < ref_mean.max()


def test_checkerboard_context_equals_integer_reference():
    """The context's fake quantisation (float64) against hs_int_ref.ctx_forward: the same
    indices and means at the non-anchors, from integer anchors and integer h_s features."""
    for seed in range(3):
        hs = _trained_like(seed)
        cx = IntCheckerboardContext(6, h2=8, cc=5, k=5)
        torch.manual_seed(seed)
        with torch.no_grad():
            for L in (cx.ctx, cx.idx, cx.mean):
                L.conv.weight.normal_(0, 0.2)
                L.conv.bias.normal_(0, 0.5)
            cx.idx.conv.bias.add_(20)
        z = torch.randint(-6, 7, (1, 8, 3, 4)).double()
        rng = np.random.default_rng(seed)
        with torch.no_grad():
            idx, mean, feat = hs(z, features=True)
            a = torch.from_numpy(anchors(12, 16))[None, None]
            y_hat = torch.from_numpy(rng.integers(-9, 10, (1, 6, 12, 16))).double() + mean
            y_hat[0, 0, 0, 0] = 5000.25  # beyond the input clamp
            ya = torch.where(a, y_hat, torch.zeros_like(y_hat))
            cx.train()
            cx(ya.float(), feat.float(), hs)  # float mode: calibration statistics
            cx.calibrate(hs)
            cx.quant = True
            got, got_mean = cx(ya, feat, hs)
        layers = [{k: (v.numpy() if torch.is_tensor(v) else v) for k, v in L.items()} for L in cx.export_int()]
        ref, ref_mean = ctx_forward(np.round(ya[0].numpy() * 4).astype(np.int64), feat[0].numpy().astype(np.int64), layers)
        np.testing.assert_array_equal(got[0].numpy(), ref.astype(np.float64))
        np.testing.assert_array_equal(got_mean[0].numpy() * 4, ref_mean.astype(np.float64))
        assert len(np.unique(ref)) > 5 and ref_mean.min() < 0 < ref_mean.max()


def test_rounding_is_half_up_and_saturates():
    from hs_int_ref import rescale
    acc = np.array([[[-3, -1, 1, 3, 5, 1000000]]], dtype=np.int64)
    out = rescale(acc, np.array([1]), 1, 255)  # (acc + 1) >> 1, then [0, 255]
    np.testing.assert_array_equal(out[0, 0], [0, 0, 1, 2, 3, 255])


def test_pixel_shuffle_matches_torch():
    x = np.arange(2 * 4 * 3 * 5).reshape(8, 3, 5)
    ref = torch.nn.functional.pixel_shuffle(torch.from_numpy(x)[None], 2)[0].numpy()
    np.testing.assert_array_equal(pixel_shuffle(x, 2), ref)


if __name__ == "__main__":
    test_fake_quant_equals_integer_reference()
    test_checkerboard_context_equals_integer_reference()
    test_rounding_is_half_up_and_saturates()
    test_pixel_shuffle_matches_torch()
    print("ok")
