#!/usr/bin/env python3
"""Rebuilds the sample files in samples/ from their sources (see samples/README.md).

Needs Debian's apt-get (to download two packages, nothing is installed), dpkg, sox, flac, numpy
and the Free Spoken Digit Dataset copy in ../shared/data (or --fsdd DIR). The outputs are
deterministic for given inputs; they are committed, so this script only documents and repeats
how they were made.

    python3 samples/make_samples.py [--fsdd DIR]
"""
import argparse
import glob
import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The Free Spoken Digit Dataset: speaker "jackson", recording 0 of each digit, in order.
FSDD_SPEAKER = "jackson"
FSDD_FILES = [f"{d}_{FSDD_SPEAKER}_0.wav" for d in range(10)]

# The CC0 "Audiophob" kit of hydrogen-drumkits (each sample is a Freesound upload; the kit's
# drumkit.xml names its role).
KIT = "usr/share/hydrogen/data/drumkits/Audiophob"
KICK = "86335__zgump__tom-0105.wav"
SNARE = "25671__walter-odington__garage-city-snare-snappy.wav"
CLOSED_HH = "116973__cbeeching__hat-light.wav"
OPEN_HH = "104227__minorr__hhat-paiste-302-14-open-p.wav"
CRASH = "124101__connersaw8__crash.wav"


def unpack(package, into):
    subprocess.run(["apt-get", "download", package], cwd=into, check=True,
                   stdout=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(into, package + "_*.deb"))[0]
    subprocess.run(["dpkg", "-x", deb, os.path.join(into, "root")], check=True)
    os.remove(deb)
    return os.path.join(into, "root")


def photo(tmp):
    """chelsea.png from python3-skimage, copied unchanged (451x300 RGB, 8-bit)."""
    root = unpack("python3-skimage", tmp)
    src = glob.glob(os.path.join(root, "usr/lib/python3/dist-packages/skimage/data/chelsea.png"))
    shutil.copyfile(src[0], os.path.join(HERE, "chelsea.png"))


def load(path, channels, rate):
    """A file as float32 frames x channels at `rate`, through sox."""
    raw = subprocess.run(["sox", "-D", path, "-t", "f32", "-r", str(rate), "-c", str(channels),
                          "-"], check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, channels).astype(np.float64)


def write_flac(path, pcm, rate):
    """pcm: int16 frames x channels."""
    wav = path[:-5] + ".tmp.wav"
    with wave.open(wav, "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    subprocess.run(["flac", "--silent", "--force", "-8", "--no-padding", "-o", path, wav],
                   check=True)
    os.remove(wav)


def speech(fsdd):
    """The ten digits of one speaker, 0.15 s of silence between them: 8 kHz mono 16-bit."""
    gap = np.zeros((1200, 1), dtype=np.int16)
    parts = []
    for name in FSDD_FILES:
        with wave.open(os.path.join(fsdd, name), "rb") as w:
            assert w.getframerate() == 8000 and w.getnchannels() == 1 and w.getsampwidth() == 2
            parts.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 1))
        parts.append(gap)
    write_flac(os.path.join(HERE, f"fsdd_{FSDD_SPEAKER}_digits_8k.flac"),
               np.concatenate(parts[:-1]), 8000)


def drums(tmp):
    """Two bars of a rock beat at 120 bpm from the CC0 Audiophob kit: 44.1 kHz stereo 16-bit."""
    root = unpack("hydrogen-drumkits", tmp)
    rate, seconds = 44100, 4.0
    frames = int(rate * seconds)
    mix = np.zeros((frames + rate, 2))
    step = rate * 60 / 120 / 4  # sixteenth notes

    def hit(name, steps, gain, pan):
        x = load(os.path.join(root, KIT, name), 2, rate)
        left, right = np.cos((pan + 1) * np.pi / 4), np.sin((pan + 1) * np.pi / 4)
        x = x * np.array([left, right]) * gain * np.sqrt(2)
        for s in steps:
            at = int(round(s * step))
            mix[at:at + len(x)] += x[: len(mix) - at]

    bars = [0, 16]
    hit(KICK, [b + s for b in bars for s in (0, 6, 8, 11)], 0.9, 0.0)
    hit(SNARE, [b + s for b in bars for s in (4, 12)], 0.8, 0.1)
    hit(CLOSED_HH, [b + s for b in bars for s in range(0, 16, 2) if s != 14], 0.45, 0.35)
    hit(OPEN_HH, [b + 14 for b in bars], 0.35, 0.35)
    hit(CRASH, [0], 0.5, -0.4)
    mix = mix[:frames]
    fade = int(0.05 * rate)  # the bar ends mid-decay: fade the last 50 ms
    mix[-fade:] *= np.linspace(1, 0, fade)[:, None]
    mix *= 10 ** (-1 / 20) / np.max(np.abs(mix))  # peak at -1 dBFS
    pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16)
    write_flac(os.path.join(HERE, "drums_120bpm_44k_stereo.flac"), pcm, rate)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd", default=os.path.join(ROOT, "..", "shared", "data", "speech",
                                                       "train", "fsdd_8k"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photo(tmp)
    speech(args.fsdd)
    with tempfile.TemporaryDirectory() as tmp:
        drums(tmp)


if __name__ == "__main__":
    main()
