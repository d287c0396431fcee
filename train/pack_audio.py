#!/usr/bin/env python3
"""Cut a GPU machine's audio training data small enough to carry (the device tool carries at most
64 MiB with the tracked tree), losslessly.

  python3 train/pack_audio.py pack [--speech-min 4,3,3] [--gen-min 5,1.5,1]
      -> train/cache/audio_pack/speech16.bin   16 kHz speech (train split of audio_data.SPEECH16):
                                                minutes per source emodb, klettres, ktuberling
         train/cache/audio_pack/gen24.bin       24 kHz general audio (train split of
                                                audio_data.CACHE, resampled by sox): minutes of
                                                music (the mid channel), speech, drums
  python3 train/pack_audio.py unpack train/cache/audio_pack /tmp/audio
      -> /tmp/audio/speech16/train/<source>/<name>.npy and /tmp/audio/gen24/train/...: the
         layout audio_data.CropSampler reads (root=...)

Each source's minutes are evenly spaced 4-second segments of all its clips concatenated (so every
speaker, language and track is represented).  A pack file is an LZMA stream of a pickle holding,
per clip, the first differences of the int16 samples as two byte planes (about 0.6 of the raw
size: no codec on the GPU machine reads FLAC).  Validation data is never packed (held out).
"""
import argparse
import lzma
import os
import pickle
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio_data as ad  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PACK = os.path.join(HERE, "cache", "audio_pack")
SEG_SECONDS = 4


def segments(a, rate, seconds):
    """Evenly spaced SEG_SECONDS segments of `a` (frames, ch) adding up to about `seconds`."""
    seg = SEG_SECONDS * rate
    n = max(1, int(round(seconds * rate / seg)))
    if a.shape[0] <= seg * n:
        return np.asarray(a)
    starts = np.linspace(0, a.shape[0] - seg, n).astype(np.int64)
    return np.concatenate([np.asarray(a[s:s + seg]) for s in starts])


def encode(a):
    d = np.diff(a.astype(np.int32), axis=0, prepend=0).astype("<i2")  # wraps mod 2^16: exact
    return dict(shape=a.shape, planes=d.view(np.uint8).reshape(-1, 2).T.copy().tobytes())


def decode(e):
    n = int(np.prod(e["shape"]))
    planes = np.frombuffer(e["planes"], dtype=np.uint8).reshape(2, n)
    d = planes.T.copy().view("<i2").reshape(e["shape"])
    return np.cumsum(d, axis=0, dtype=np.int64).astype(np.int16)  # mod 2^16, as encode wrapped


def take(root, budgets, rate, rate_out=None, mid=()):
    """{(source, source): int16 array}: `budgets[source]` minutes from each source's clips
    concatenated in name order (many clips are single words, shorter than a segment)."""
    by_src = {}
    for src, _, a in ad.clips("train", root):
        a = np.asarray(a)
        if src in mid and a.shape[1] == 2:
            a = ((a[:, :1].astype(np.int32) + a[:, 1:]) // 2).astype(np.int16)
        by_src.setdefault(src, []).append(a)
    out = {}
    for src, minutes in budgets.items():
        if src not in by_src:
            continue
        s = segments(np.concatenate(by_src[src]), rate, minutes * 60)
        if rate_out and rate_out != rate:
            s = ad.resample(s, rate, rate_out)
        out[(src, src)] = s
    return out


def write(path, clips_):
    blob = pickle.dumps({k: encode(v) for k, v in clips_.items()}, protocol=4)
    with open(path + ".tmp", "wb") as f:
        f.write(lzma.compress(blob, preset=3))
    os.replace(path + ".tmp", path)
    secs = {}
    for (src, _), v in clips_.items():
        secs[src] = secs.get(src, 0) + v.shape[0]
    print("%s: %.1f MiB, %s" % (path, os.path.getsize(path) / 2**20, {k: v for k, v in secs.items()}))


def unpack(pack, out):
    for name in ("speech16", "gen24"):
        path = os.path.join(pack, name + ".bin")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            d = pickle.loads(lzma.decompress(f.read()))
        for (src, clip), e in d.items():
            ad._save("train", src, clip, decode(e), root=os.path.join(out, name))
        print("unpacked %s: %d clips" % (path, len(d)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=("pack", "unpack"))
    ap.add_argument("args", nargs="*")
    # 4,3,3 (about 12 MiB) since aud-grvq-24k's checkpoint joined the tracked tree; the first GPU
    # run (2026-11-28) carried 7,6,6 (22.5 MiB)
    ap.add_argument("--speech-min", default="4,3,3", help="minutes of emodb, klettres, ktuberling (16 kHz)")
    ap.add_argument("--gen-min", default="5,1.5,1", help="minutes of music, speech, drums (24 kHz)")
    a = ap.parse_args()
    if a.cmd == "unpack":
        return unpack(*a.args)
    os.makedirs(PACK, exist_ok=True)
    sm = [float(v) for v in a.speech_min.split(",")]
    write(os.path.join(PACK, "speech16.bin"),
          take(ad.SPEECH16, dict(zip(("emodb", "klettres", "ktuberling"), sm)), 16000))
    gm = [float(v) for v in a.gen_min.split(",")]
    write(os.path.join(PACK, "gen24.bin"),
          take(ad.CACHE, dict(zip(("wesnoth", "emodb", "hydrogen"), gm)), ad.RATE, 24000, mid=("wesnoth",)))


if __name__ == "__main__":
    main()
