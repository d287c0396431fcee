"""Integer coding tables of a trained model and exact code lengths from them.

The tables are the ones the C coder uses (entropy/, conformance/BITSTREAM.md section 2),
built with train/neco_cdf.py, the Python twin of the C construction:
  * y: zero-mean Gaussian tables for the 64 default scales, precision NECO_CDF_PRECISION,
    each with an escape symbol;
  * z: one factorized table per channel from the learned density (FactorizedPrior.pmf_tables):
    integer weights w_k = round(2^30 * pmf_k) for the support values and an escape symbol
    whose weight is round(2^30 * tail mass); then neco_cdf.cdf_from_weights.
Code length of a value = -log2((C[s+1] - C[s]) / 2^P).  A value outside the support costs
the escape symbol plus the raw bits of BITSTREAM.md 2.4 (6 + floor(log2(e + 1)) bits).
The rANS stream adds a few bytes of state per tile on top (not counted here).
"""
import numpy as np

import neco_cdf

PRECISION = 20  # NECO_CDF_PRECISION (entropy/cdf.h)
FACTORIZED_WEIGHT_BITS = 30


def gaussian_tables(precision=PRECISION):
    erf = neco_cdf.erf_table()
    scales = neco_cdf.default_scales_q16()
    return scales, neco_cdf.gaussian_tables(precision, scales, erf)


def factorized_tables(prior, precision=PRECISION):
    offsets, pmfs, tails = prior.pmf_tables()
    tables = []
    for c in range(len(pmfs)):
        w = [int(round(float(p) * 2**FACTORIZED_WEIGHT_BITS)) for p in pmfs[c]]
        w.append(int(round(float(tails[c]) * 2**FACTORIZED_WEIGHT_BITS)))
        tables.append((int(offsets[c]), neco_cdf.cdf_from_weights(w, precision)))
    return tables


def flatten(tables):
    """CompressAI layout: concatenated cdfs, cdf_lengths, offsets (int32)."""
    cdfs = np.concatenate([np.asarray(c, dtype=np.int64) for _, c in tables]).astype(np.int32)
    lengths = np.array([len(c) for _, c in tables], dtype=np.int32)
    offsets = np.array([o for o, _ in tables], dtype=np.int32)
    return cdfs, lengths, offsets


class BitCounter:
    """Vectorised code lengths for values coded with table index per value."""

    def __init__(self, tables, precision=PRECISION):
        n = max(len(c) - 1 for _, c in tables)  # symbols incl. escape
        self.offset = np.array([o for o, _ in tables], dtype=np.int64)
        self.nreg = np.array([len(c) - 2 for _, c in tables], dtype=np.int64)
        bits = np.full((len(tables), n), np.inf)
        for t, (_, c) in enumerate(tables):
            c = np.asarray(c, dtype=np.float64)
            bits[t, :len(c) - 1] = precision - np.log2(np.diff(c))
        self.bits = bits

    def __call__(self, values, index):
        v = np.asarray(values, dtype=np.int64).ravel()
        t = np.broadcast_to(np.asarray(index, dtype=np.int64), np.shape(values)).ravel()
        s = v - self.offset[t]
        ok = (s >= 0) & (s < self.nreg[t])
        total = self.bits[t[ok], s[ok]].sum()
        if (~ok).any():
            # BITSTREAM.md 2.4: escape symbol, then a 6-bit length and len raw bits of m
            te, se, nr = t[~ok], s[~ok], self.nreg[t[~ok]]
            e = np.where(se < 0, -2 * se - 1, 2 * (se - nr))
            length = np.floor(np.log2(e + 1.0))
            total += self.bits[te, nr].sum() + (6 + length).sum()
        return float(total), int((~ok).sum())
