#!/usr/bin/env python3
"""Audio data for neco's audio models: real speech and music at 44.1 kHz, cached as int16 .npy.

Sources (licences recorded in weights/MODELS.md; audio is never committed):
  * speech: Emo-DB from ../shared/data/speech (16 kHz content in 22.05 kHz WAV; train speakers
    03, 08-14; validation speakers 15, 16 in speech/valid/emodb, held out by speaker);
  * music: Debian `wesnoth-1.16-music` (GPL-2, Vorbis 44.1 kHz stereo, 41 tracks); the tracks
    in VALID_TRACKS are held out (never trained on);
  * drums, lossless: Debian `hydrogen-drumkits` (GPL-2+/CC-BY/CC0 per kit, WAV/FLAC one-shots);
    the kits in VALID_KITS are held out by kit (the source), the others are trained on.

Decoding and resampling use the `sox` command (the Python environment has no audio libraries);
every clip is converted to 44100 Hz, 16-bit, and stored with shape (frames, channels).

  python3 train/audio_data.py prepare      # download + convert into train/cache/audio (~5 min)
  python3 train/audio_data.py list         # what is cached
  python3 train/audio_data.py prepare16    # 16 kHz speech for aud-grvq (SPEECH16)
  python3 train/audio_data.py prepare24    # the clips of `prepare` at 24 kHz, for aud-grvq-24k (GEN24)

Training reads random mono crops (`CropSampler`): a stereo clip gives its mid or side
channel, (L+R)/2 or (L-R)/2, as the codec codes stereo as mid/side with the mono model.
"""
import glob
import os
import subprocess
import sys
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, "cache", "audio")
DEBS = os.path.join(HERE, "cache", "debs")
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
RATE = 44100
MUSIC_SECONDS = 120  # first seconds of each track kept (bounds cache size and decode time)
VALID_TRACKS = ("battle", "elvish-theme", "northerners", "the_deep_path")
VALID_KITS = ("ColomboAcousticDrumkit", "VariBreaks")


def sox_to_array(path, seconds=None, channels=None, rate=RATE):
    """Decodes any file sox reads to int16 (frames, channels) at `rate`."""
    cmd = ["sox", "-V1", path, "-t", "raw", "-e", "signed-integer", "-b", "16", "-L"]
    if channels:
        cmd += ["-c", str(channels)]
    cmd += ["-r", str(rate), "-"]
    if seconds:
        cmd += ["trim", "0", str(seconds)]
    if channels is None:
        info = subprocess.run(["soxi", "-c", path], capture_output=True, text=True, check=True)
        ch = int(info.stdout.strip())
    else:
        ch = channels
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    a = np.frombuffer(raw, dtype="<i2")
    return a[: len(a) // ch * ch].reshape(-1, ch)


def read_wav16(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2
        a = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return a.reshape(-1, w.getnchannels()), w.getframerate()


def _deb(pkg):
    os.makedirs(DEBS, exist_ok=True)
    root = os.path.join(DEBS, pkg)
    if not os.path.isdir(root):
        if not glob.glob(os.path.join(DEBS, pkg + "_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=DEBS, check=True)
        deb = glob.glob(os.path.join(DEBS, pkg + "_*.deb"))[0]
        subprocess.run(["dpkg", "-x", deb, root], check=True)
    return root


def _save(split, source, name, a, root=CACHE):
    d = os.path.join(root, split, source)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(a))


def prepare():
    # speech: Emo-DB (held out by speaker in ../shared/data)
    for split in ("train", "valid"):
        for f in sorted(glob.glob(os.path.join(SHARED, "speech", split, "emodb", "*.wav"))):
            _save(split, "emodb", os.path.basename(f)[:-4], sox_to_array(f, channels=1))
    # music: wesnoth, held out by track
    root = _deb("wesnoth-1.16-music")
    for f in sorted(glob.glob(os.path.join(root, "usr/share/games/wesnoth/*/data/core/music/*.ogg"))):
        name = os.path.basename(f)[:-4]
        split = "valid" if name in VALID_TRACKS else "train"
        _save(split, "wesnoth", name, sox_to_array(f, seconds=MUSIC_SECONDS, channels=2))
    # drums: hydrogen kits, held out by kit; the one-shots of a kit are concatenated
    root = _deb("hydrogen-drumkits")
    for kit in sorted(glob.glob(os.path.join(root, "usr/share/hydrogen/data/drumkits/*"))):
        name = os.path.basename(kit)
        files = sorted(glob.glob(os.path.join(kit, "*.wav")) + glob.glob(os.path.join(kit, "*.flac")))
        parts = []
        for f in files:
            try:
                parts.append(sox_to_array(f, channels=2))
            except subprocess.CalledProcessError:
                continue
        if parts:
            split = "valid" if name in VALID_KITS else "train"
            _save(split, "hydrogen", name.replace(" ", "_"), np.concatenate(parts))


# 16 kHz speech for aud-grvq: Emo-DB (held out by speaker, as above), and the spoken words and
# letters of Debian `ktuberling-data` and `klettres-data` (GPL-2+, Vorbis/Opus/WAV, ~27 languages);
# their English recordings are held out (validation by source: speakers never trained on).
SPEECH16 = os.path.join(HERE, "cache", "speech16")
VALID_LANGS = ("en", "en_GB")


def prepare_speech16():
    for split in ("train", "valid"):
        parts = [sox_to_array(f, channels=1, rate=16000)
                 for f in sorted(glob.glob(os.path.join(SHARED, "speech", split, "emodb", "*.wav")))]
        _save(split, "emodb", "emodb", np.concatenate(parts), root=SPEECH16)
    for pkg, sub in (("ktuberling-data", "usr/share/ktuberling/sounds"), ("klettres-data", "usr/share/klettres")):
        root = os.path.join(_deb(pkg), sub)
        for lang in sorted(os.listdir(root)):
            files = sorted(f for f in glob.glob(os.path.join(root, lang, "**", "*"), recursive=True)
                           if f.endswith((".ogg", ".opus", ".wav")))
            parts = []
            for f in files:
                try:
                    parts.append(sox_to_array(f, channels=1, rate=16000))
                except subprocess.CalledProcessError:
                    continue
            if parts:
                split = "valid" if lang in VALID_LANGS else "train"
                _save(split, pkg.split("-")[0], lang.replace("@", "_"), np.concatenate(parts), root=SPEECH16)


# 24 kHz general audio for aud-grvq-24k: the clips of CACHE (music, speech, drums; the same
# held-out tracks, speakers and kits), each source's clips concatenated and resampled by sox.
GEN24 = os.path.join(HERE, "cache", "gen24")


def resample(a, rate_in, rate_out):
    """int16 (frames, ch) -> int16 (frames', ch) at rate_out, by sox."""
    ch = a.shape[1]
    fmt = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-L"]
    cmd = ["sox", "-V1"] + fmt + ["-c", str(ch), "-r", str(rate_in), "-"] + fmt + ["-r", str(rate_out), "-"]
    raw = subprocess.run(cmd, input=np.ascontiguousarray(a, dtype="<i2").tobytes(), capture_output=True,
                         check=True).stdout
    out = np.frombuffer(raw, dtype="<i2")
    return out[: len(out) // ch * ch].reshape(-1, ch)


def prepare_gen24():
    for split in ("train", "valid"):
        by_src = {}
        for src, _, a in clips(split):
            by_src.setdefault(src, []).append(np.asarray(a))
        for src, parts in by_src.items():
            _save(split, src, src, resample(np.concatenate(parts), RATE, 24000), root=GEN24)


def clips(split, root=CACHE):
    """[(source, name, int16 array (frames, channels))], memory-mapped."""
    out = []
    for f in sorted(glob.glob(os.path.join(root, split, "*", "*.npy"))):
        out.append((os.path.basename(os.path.dirname(f)), os.path.basename(f)[:-4], np.load(f, mmap_mode="r")))
    return out


def to_mono_variants(a):
    """A stereo clip as mid and side (float, [-1, 1)); a mono clip as itself."""
    x = a.astype(np.float32) / 32768
    if x.shape[1] == 1:
        return [x[:, 0]]
    return [(x[:, 0] + x[:, 1]) / 2, (x[:, 0] - x[:, 1]) / 2]


class CropSampler:
    """Random mono crops of `length` samples; sources weighted so that music, speech and drums
    each get a fixed share whatever their cached durations."""

    SHARES = {"wesnoth": 0.6, "emodb": 0.25, "hydrogen": 0.15}

    def __init__(self, split, length, seed=0, root=CACHE, shares=None):
        self.length = length
        self.rng = np.random.default_rng(seed)
        self.by_source = {}
        for src, _, a in clips(split, root):
            if a.shape[0] > length:
                self.by_source.setdefault(src, []).append(a)
        shares = shares or self.SHARES
        self.sources = [s for s in shares if s in self.by_source]
        p = np.array([shares[s] for s in self.sources])
        self.p = p / p.sum()

    def crop(self):
        while True:
            src = self.sources[self.rng.choice(len(self.sources), p=self.p)]
            lst = self.by_source[src]
            lens = np.array([a.shape[0] for a in lst], dtype=np.float64)
            a = lst[self.rng.choice(len(lst), p=lens / lens.sum())]
            i = int(self.rng.integers(0, a.shape[0] - self.length))
            seg = np.asarray(a[i:i + self.length], dtype=np.float32) / 32768
            if seg.shape[1] == 2:
                # mid 70 % of the time, side 30 %: the codec codes both with the same model
                seg = (seg[:, 0] + seg[:, 1]) / 2 if self.rng.random() < 0.7 else (seg[:, 0] - seg[:, 1]) / 2
            else:
                seg = seg[:, 0]
            if np.abs(seg).max() < 1e-3:  # digital silence teaches nothing; redraw
                continue
            # random gain in [-12, +6] dB: level robustness (music is mastered loud)
            g = 10 ** (self.rng.uniform(-12, 6) / 20)
            return np.clip(seg * g, -1, 1)

    def batch(self, n):
        return np.stack([self.crop() for _ in range(n)])


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "list"
    if cmd == "prepare":
        prepare()
    if cmd == "prepare24":
        prepare_gen24()
        for split in ("train", "valid"):
            print("gen24", split, {src: "%.1f min" % (a.shape[0] / 24000 / 60) for src, _, a in clips(split, GEN24)})
        return
    if cmd == "prepare16":
        prepare_speech16()
        for split in ("train", "valid"):
            tot = {}
            for src, _, a in clips(split, SPEECH16):
                tot[src] = tot.get(src, 0) + a.shape[0] / 16000
            print("speech16", split, {k: "%.1f min" % (v / 60) for k, v in tot.items()})
        return
    for split in ("train", "valid"):
        tot = {}
        for src, _, a in clips(split):
            tot[src] = tot.get(src, 0) + a.shape[0] / RATE
        print(split, {k: "%.1f min" % (v / 60) for k, v in tot.items()})


if __name__ == "__main__":
    main()
