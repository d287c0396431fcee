"""Code lengths of coding.BitCounter, escapes included (BITSTREAM.md 2.4), and the factorized
tables built from a FactorizedPrior.  Run: python3 train/test_coding.py"""
import math

import numpy as np
import torch

import coding
from entropy_models import FactorizedPrior


def test_bits_with_escapes():
    cdf = [0, 100000, 500000, 900000, 1048000, 1 << 20]  # values -2..1, then the escape
    bc = coding.BitCounter([(-2, cdf)])
    p = lambda a: 20 - math.log2(a)  # noqa: E731
    esc = p(576)
    bits, n_esc = bc(np.array([-2, 0, 1, 2, -3, 10]), np.zeros(6, dtype=np.int64))
    want = p(100000) + p(400000) + p(148000) + (esc + 6) + (esc + 6 + 1) + (esc + 6 + 4)
    assert n_esc == 3
    assert abs(bits - want) < 1e-9


def test_factorized_tables_cover_the_density():
    torch.manual_seed(0)
    prior = FactorizedPrior(3)
    tabs = coding.factorized_tables(prior)
    assert len(tabs) == 3
    for off, cdf in tabs:
        assert cdf[0] == 0 and cdf[-1] == 1 << coding.PRECISION
        assert all(b > a for a, b in zip(cdf, cdf[1:]))
        assert off <= 0 <= off + len(cdf) - 3  # zero is a direct value
    cdfs, lengths, offsets = coding.flatten(tabs)
    assert cdfs.dtype == np.int32 and lengths.sum() == len(cdfs)


if __name__ == "__main__":
    test_bits_with_escapes()
    test_factorized_tables_cover_the_density()
    print("ok")
