"""Pure-integer numpy reference of the integer hyper-synthesis h_s (ARCH.md, "h_s").

Nothing here uses floating point: inputs, weights, accumulators and outputs are
int64 numpy arrays, so this is the model the C implementation must reproduce.
"""
import numpy as np

Z_CLAMP = 255


def conv3x3_int(x, w, b):
    """x (Cin, H, W) int64, w (Cout, Cin, k, k) int, b (Cout,) int: zero padding k//2,
    stride 1 -> (Cout, H, W) int64, exact."""
    cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    p = k // 2
    xp = np.zeros((cin, h + 2 * p, wd + 2 * p), dtype=np.int64)
    xp[:, p:p + h, p:p + wd] = x
    acc = np.zeros((cout, h, wd), dtype=np.int64)
    w64 = w.astype(np.int64)
    for dy in range(k):
        for dx in range(k):
            patch = xp[:, dy:dy + h, dx:dx + wd].reshape(cin, -1)
            acc += (w64[:, :, dy, dx] @ patch).reshape(cout, h, wd)
    return acc + b.astype(np.int64)[:, None, None]


def rescale(acc, mult, shift, out_max, out_min=0):
    """sat((acc * M[c] + 2^(S-1)) >> S) to [out_min, out_max], arithmetic (flooring) shift."""
    v = acc * mult.astype(np.int64)[:, None, None]
    if shift > 0:
        v = (v + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)
    return np.clip(v, out_min, out_max)


def pixel_shuffle(x, r):
    """(C*r*r, H, W) -> (C, H*r, W*r); input channel c*r*r + i*r + j goes to (c, r*h+i, r*w+j)."""
    crr, h, w = x.shape
    c = crr // (r * r)
    return x.reshape(c, r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(c, h * r, w * r)


def _layer(x, L):
    acc = conv3x3_int(x, np.asarray(L["weight"]), np.asarray(L["bias"]))
    # int32 accumulator: the C side relies on it; check the weights respect it
    assert np.abs(acc).max() < 2**31, "int32 accumulator overflow"
    x = rescale(acc, np.asarray(L["mult"]), int(L["shift"]), int(L["out_max"]), int(L.get("out_min", 0)))
    if int(L["shuffle"]) > 1:
        x = pixel_shuffle(x, int(L["shuffle"]))
    return x


def hs_forward(z, layers, features=False):
    """z: (Cz, h, w) integers; layers: dicts from IntHyperSynthesis.export_int (numpy arrays):
    l0..l2 hidden, l3 the scale index, optional l4 (the mean layer) on l3's input.
    -> (index (C, 4h, 4w) in [0, 63], mean_int (C, 4h, 4w) int16 range, or None), and with
    features=True also l2's output (the input of l3 and of the mean layer)."""
    x = np.clip(np.asarray(z, dtype=np.int64), -Z_CLAMP, Z_CLAMP)
    for L in layers[:3]:
        x = _layer(x, L)
    idx = _layer(x, layers[3])
    mean = _layer(x, layers[4]) if len(layers) > 4 else None
    return (idx, mean, x) if features else (idx, mean)


CTX_CLAMP = 4095


def anchors(h, w):
    """Checkerboard anchors of a (h, w) latent: i + j even."""
    i, j = np.indices((h, w))
    return (i + j) % 2 == 0


def ctx_forward(yq_anchors, feat, layers):
    """The checkerboard context (ARCH.md): yq_anchors (C, H, W) the anchors' y_hat in quarter
    units (zero elsewhere), feat h_s's l2 output; layers (ctx.c0, ctx.idx, ctx.mean) ->
    (index, mean_int) at every position (the non-anchors' are the coded ones)."""
    c = _layer(np.clip(np.asarray(yq_anchors, dtype=np.int64), -CTX_CLAMP, CTX_CLAMP), layers[0])
    cat = np.concatenate([feat, c], 0)
    return _layer(cat, layers[1]), _layer(cat, layers[2])


def hs_indices(z, layers):
    return hs_forward(z, layers)[0]
