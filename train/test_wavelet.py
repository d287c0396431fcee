"""Tests: the torch wavelet packet equals PyWavelets and reconstructs perfectly.
Run: python3 -m pytest -q train/  (or python3 train/test_wavelet.py)"""
import numpy as np
import pywt
import torch

import wavelet


def test_1d_matches_pywt_reflect():
    rng = np.random.default_rng(0)
    for n in (2, 4, 6, 16, 34, 100):
        x = rng.standard_normal(n)
        lo, hi = wavelet.dwt1(torch.from_numpy(x)[None], 1)
        pa, pd = pywt.dwt(x, "bior4.4", mode="reflect")
        if n >= 8:  # pywt's reflect extension equals ours once the signal is longer than the filter
            np.testing.assert_allclose(lo[0].numpy(), pa[2:2 + n // 2], atol=1e-12)
            np.testing.assert_allclose(hi[0].numpy(), pd[2:2 + n // 2], atol=1e-12)
        r = wavelet.idwt1(lo, hi, 1)
        np.testing.assert_allclose(r[0].numpy(), x, atol=1e-12)


def test_2d_packet_matches_pywt_and_inverts():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 32, 48))
    for levels in (1, 2):
        y = wavelet.wpt2(torch.from_numpy(x)[None], levels)[0].numpy()
        ref = wavelet.wpt2_numpy_reference(x, levels)
        np.testing.assert_allclose(y, ref, atol=1e-10)
        r = wavelet.iwpt2(torch.from_numpy(y)[None], levels)[0].numpy()
        np.testing.assert_allclose(r, x, atol=1e-10)


def test_band_order():
    # a constant image has energy only in band 0 of each colour (channel c*16)
    x = torch.ones(1, 3, 16, 16, dtype=torch.float64)
    y = wavelet.wpt2(x, 2)
    e = y.pow(2).sum((0, 2, 3))
    nz = torch.nonzero(e > 1e-12).flatten().tolist()
    assert nz == [0, 16, 32]
    assert torch.allclose(y[0, 0], torch.full((4, 4), 4.0, dtype=torch.float64))
    # horizontal stripes (varying along height only) put energy only in v=1 bands
    s = torch.tensor([1.0, -1.0] * 8, dtype=torch.float64)[:, None].expand(16, 16)
    y = wavelet.dwt2(s[None, None])
    e = y.pow(2).sum((0, 2, 3))
    assert e[0] < 1e-12 and e[1] < 1e-12 and e[3] < 1e-12 and e[2] > 1


if __name__ == "__main__":
    test_1d_matches_pywt_reflect()
    test_2d_packet_matches_pywt_and_inverts()
    test_band_order()
    print("ok")
