"""Makes the conformance streams and their MANIFEST (conformance/README.md).

Inputs are generated here (synthetic images and tones, crops of a validation photo), coded with
the `neco` CLI, and the expected checksums are the digests that `neco info` prints with the
ref backend (ARCHITECTURE.md: the ref backend defines conformance output).

usage: python3 conformance/make_streams.py path/to/neco [--weights DIR] [--only PREFIX]
Rerun whenever a model's weights or the bitstream change; commit the result. With --only, only
the streams whose names start with PREFIX are remade (e.g. --only swin_ after new img-swin
weights); the others and their MANIFEST lines are kept as they are."""
import argparse
import math
import os
import random
import struct
import subprocess
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
STREAMS = os.path.join(HERE, "streams")
PHOTO = "/work/shared/data/img/valid/cbsd68"


def photo(w, h, index=0):
    files = sorted(os.listdir(PHOTO))
    img = np.asarray(Image.open(os.path.join(PHOTO, files[index])).convert("RGB"))
    return img[40:40 + h, 60:60 + w]


def synthetic(w, h, c, depth, seed):
    rnd = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    planes = []
    for k in range(c):
        v = 0.5 + 0.35 * np.sin(xx * 0.11 + k) * np.cos(yy * 0.07 - k) + rnd.normal(0, 0.03, (h, w))
        planes.append(np.clip(v, 0, 1))
    a = np.stack(planes, -1)
    top = 255 if depth == 8 else 65535
    return np.round(a * top).astype(np.uint8 if depth == 8 else np.uint16)


def save_png(path, arr):
    if arr.dtype == np.uint16:
        # Pillow writes 16-bit only for single-channel images; write the rest with the PNG
        # writer of numpy-free code below.
        write_png16(path, arr)
    else:
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
        Image.fromarray(arr[..., 0] if mode == "L" else arr, mode).save(path)


def write_png16(path, arr):
    import zlib
    h, w, c = arr.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)


def write_wav(path, samples, rate, fmt):
    """samples: (frames, channels) float in [-1, 1]; fmt: s16, s24, s32 or f32."""
    frames, ch = samples.shape
    if fmt == "f32":
        data, tag, bits = samples.astype("<f4").tobytes(), 3, 32
    else:
        bits = {"s16": 16, "s24": 24, "s32": 32}[fmt]
        top = 2 ** (bits - 1) - 1
        ints = np.round(samples * top).astype(np.int64)
        if bits == 24:
            b = ints.astype("<i4").tobytes()
            data = b"".join(b[i:i + 3] for i in range(0, len(b), 4))
        else:
            data = ints.astype("<i2" if bits == 16 else "<i4").tobytes()
        tag = 1
    extensible = ch > 2
    fmt_chunk = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, ch, rate, rate * ch * bits // 8, ch * bits // 8, bits)
    if extensible:
        # KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: {0000000T-0000-0010-8000-00AA00389B71}
        guid = struct.pack("<I", tag) + bytes([0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71])
        fmt_chunk += struct.pack("<HHI", 22, bits, (1 << ch) - 1) + guid
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", len(data)) + data
    open(path, "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)


def tone(frames, ch, rate, seed):
    rnd = random.Random(seed)
    t = np.arange(frames) / rate
    out = np.zeros((frames, ch))
    for k in range(ch):
        f = rnd.uniform(110, 1500)
        out[:, k] = 0.4 * np.sin(2 * math.pi * f * t) + 0.1 * np.sin(2 * math.pi * 3.1 * f * t + k)
    return out


def voice(frames, ch, rate, seed):
    """Speech-like test signal for aud-grvq: harmonics of a gliding pitch under two moving
    formants in 4 Hz syllables, with noise bursts between them; one pitch per channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / rate
    out = np.zeros((frames, ch))
    f1 = 700 + 200 * np.sin(2 * math.pi * 1.3 * t)
    f2 = 1200 + 400 * np.sin(2 * math.pi * 0.9 * t)
    syll = np.clip(np.sin(2 * math.pi * 4 * t), 0, None) ** 0.7
    for k in range(ch):
        f0 = (120 + 30 * k) * (1 + 0.25 * np.sin(2 * math.pi * 0.7 * t))
        ph = 2 * math.pi * np.cumsum(f0) / rate
        v = np.zeros(frames)
        for h in range(1, 30):
            fh = h * f0
            amp = np.exp(-0.5 * ((fh - f1) / 90) ** 2) + np.exp(-0.5 * ((fh - f2) / 110) ** 2)
            v += amp / h ** 0.5 * np.sin(h * ph) * (fh < min(rate / 2, 7600))
        noise = rng.standard_normal(frames) * np.clip(-np.sin(2 * math.pi * 4 * t), 0, None) ** 4
        out[:, k] = 0.12 * v * syll + 0.03 * noise
    return np.clip(out, -1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("neco")
    ap.add_argument("--weights", default=os.path.join(HERE, "..", "weights"))
    ap.add_argument("--out", default=STREAMS)
    ap.add_argument("--only", default="", help="remake only the streams whose names start with this")
    a = ap.parse_args()
    streams = a.out
    os.makedirs(streams, exist_ok=True)
    kept = {}  # name -> MANIFEST line of the streams --only leaves alone
    if a.only and os.path.exists(os.path.join(streams, "MANIFEST")):
        for line in open(os.path.join(streams, "MANIFEST")):
            if not line.startswith("#") and line.strip():
                kept[line.split()[0][:-len(".neco")]] = line.rstrip("\n")
    for f in os.listdir(streams):
        if (f.endswith(".neco") and f.startswith(a.only)) or (f == "MANIFEST" and not a.only):
            os.remove(os.path.join(streams, f))
    tmp = tempfile.mkdtemp()
    jobs = []  # (name, input path, encode options, description)

    def img(name, arr, opts, desc):
        p = os.path.join(tmp, name + ".png")
        save_png(p, arr)
        jobs.append((name, p, opts, desc))

    def aud(name, samples, rate, fmt, desc, opts=("--model", "raw")):
        p = os.path.join(tmp, name + ".wav")
        write_wav(p, samples, rate, fmt)
        jobs.append((name, p, list(opts), desc))

    # img-wave: every quality level on two photo crops, then odd sizes, gray, 16-bit, tiles.
    for q in range(1, 9):
        img("wave_photo_q%d" % q, photo(128, 96, 0), ["--model", "img-wave", "--quality", str(q)], "img-wave, photo 128x96, quality %d" % q)
        img("wave_photo2_q%d" % q, photo(80, 64, 5), ["--model", "img-wave", "--quality", str(q)], "img-wave, photo 80x64, quality %d" % q)
    img("wave_1x1", synthetic(1, 1, 3, 8, 1), ["--model", "img-wave", "--quality", "4"], "img-wave 1x1")
    img("wave_3x5", synthetic(3, 5, 3, 8, 2), ["--model", "img-wave", "--quality", "4"], "img-wave 3x5")
    img("wave_4097x17", synthetic(4097, 17, 3, 8, 3), ["--model", "img-wave", "--quality", "4"], "img-wave 4097x17, 5 tiles")
    img("wave_gray", synthetic(61, 47, 1, 8, 4), ["--model", "img-wave", "--quality", "5"], "img-wave gray 61x47")
    img("wave_rgb16", synthetic(40, 24, 3, 16, 5), ["--model", "img-wave", "--quality", "6"], "img-wave RGB 16-bit 40x24")
    # raw images
    img("raw_1x1", synthetic(1, 1, 3, 8, 6), ["--model", "raw"], "raw 1x1 RGB")
    img("raw_3x5_gray16", synthetic(3, 5, 1, 16, 7), ["--model", "raw"], "raw 3x5 gray 16-bit")
    img("raw_4097x17", synthetic(4097, 17, 3, 8, 8), ["--model", "raw"], "raw 4097x17 RGB, 17 tiles")
    img("raw_gray_alpha", synthetic(30, 20, 2, 8, 9), ["--model", "raw"], "raw gray+alpha 30x20")
    img("raw_rgba16", synthetic(33, 33, 4, 16, 10), ["--model", "raw"], "raw RGBA 16-bit 33x33")
    img("raw_rgba_tiles", synthetic(300, 260, 4, 8, 11), ["--model", "raw"], "raw RGBA 300x260, 4 tiles")
    # raw audio: shorter than a chunk, many chunks, mono, stereo, multichannel, formats
    aud("raw_mono_short", tone(100, 1, 16000, 1), 16000, "s16", "raw mono 16-bit, 100 frames")
    aud("raw_mono_chunks", tone(16384 * 3 + 5, 1, 8000, 2), 8000, "s16", "raw mono 16-bit, 4 chunks")
    aud("raw_stereo_s24", tone(20000, 2, 44100, 3), 44100, "s24", "raw stereo 24-bit, 2 chunks")
    aud("raw_6ch_f32", tone(1000, 6, 48000, 4), 48000, "f32", "raw 6 channels float")
    aud("raw_stereo_s32", tone(300, 2, 22050, 5), 22050, "s32", "raw stereo 32-bit")
    aud("raw_empty", tone(0, 1, 16000, 6), 16000, "s16", "raw, no frames")
    # aud-wave: every quality level (as many as the weights have), then chunking and channels.
    if os.path.exists(os.path.join(a.weights, "aud-wave.safetensors")):
        clip = tone(22050, 2, 44100, 7)
        for q in range(1, 17):
            probe = os.path.join(tmp, "probe.wav")
            write_wav(probe, clip[:64], 44100, "s16")
            if subprocess.run([a.neco, "encode", probe, os.path.join(tmp, "probe.neco"), "--model", "aud-wave",
                               "--quality", str(q), "--weights", a.weights, "--quiet"], capture_output=True).returncode:
                break
            aud("awave_q%d" % q, clip, 44100, "s16", "aud-wave stereo 44.1 kHz 0.5 s, quality %d" % q,
                ("--model", "aud-wave", "--quality", str(q)))
        aud("awave_mono_short", tone(300, 1, 48000, 8), 48000, "s16", "aud-wave mono 48 kHz, 300 frames",
            ("--model", "aud-wave", "--quality", "2"))
        aud("awave_stereo_chunks", tone(131072 * 2 + 77, 2, 48000, 9), 48000, "s16", "aud-wave stereo 48 kHz, 3 chunks",
            ("--model", "aud-wave", "--quality", "1"))
        aud("awave_6ch_f32", tone(2000, 6, 44100, 10), 44100, "f32", "aud-wave 6 channels float",
            ("--model", "aud-wave", "--quality", "3"))
        # Other rates, coded at 44.1 kHz through the resampler (BITSTREAM.md 3.2): up at the
        # encoder and down at the decoder, and the reverse over a chunk boundary.
        aud("awave_16k_mono", tone(16000, 1, 16000, 11), 16000, "s16", "aud-wave mono 16 kHz (resampled), 1 s",
            ("--model", "aud-wave", "--quality", "3"))
        aud("awave_96k_stereo_chunks", tone(131072 + 300, 2, 96000, 12), 96000, "s24",
            "aud-wave stereo 96 kHz 24-bit (resampled), 2 chunks", ("--model", "aud-wave", "--quality", "2"))

    # aud-grvq (when its weights are there): every level on 1 s of 16 kHz speech-like signal,
    # then short, several chunks, resampled rates (up and down), stereo (mid/side), 3 channels.
    if os.path.exists(os.path.join(a.weights, "aud-grvq.safetensors")):
        from safetensors import safe_open
        with safe_open(os.path.join(a.weights, "aud-grvq.safetensors"), "np") as f:
            levels = int(f.metadata()["quality_levels"])
        clip = voice(16000, 1, 16000, 20)
        for q in range(1, levels + 1):
            aud("agrvq_q%d" % q, clip, 16000, "s16", "aud-grvq mono 16 kHz 1 s, quality %d" % q,
                ("--model", "aud-grvq", "--quality", str(q)))
        aud("agrvq_short", voice(100, 1, 16000, 21), 16000, "s16", "aud-grvq mono 16 kHz, 100 frames",
            ("--model", "aud-grvq", "--quality", "4"))
        aud("agrvq_chunks", voice(131072 + 77, 1, 16000, 22), 16000, "s16", "aud-grvq mono 16 kHz, 2 chunks",
            ("--model", "aud-grvq", "--quality", "1"))
        aud("agrvq_96k_chunks", voice(131072 * 2 + 5, 1, 96000, 26), 96000, "s16",
            "aud-grvq mono 96 kHz (resampled), 3 chunks", ("--model", "aud-grvq", "--quality", "6"))
        aud("agrvq_8k_mono", voice(8000, 1, 8000, 23), 8000, "s16", "aud-grvq mono 8 kHz (resampled), 1 s",
            ("--model", "aud-grvq", "--quality", "3"))
        aud("agrvq_48k_stereo", voice(24000, 2, 48000, 24), 48000, "s24",
            "aud-grvq stereo 48 kHz 24-bit (resampled, mid/side), 0.5 s", ("--model", "aud-grvq", "--quality", "5"))
        aud("agrvq_3ch_f32", voice(13230, 3, 44100, 25), 44100, "f32", "aud-grvq 3 channels float 44.1 kHz (resampled)",
            ("--model", "aud-grvq", "--quality", "2"))

    # aud-grvq-24k (when its weights are there): the lowest, a middle and the highest level at its
    # own 24 kHz, then the resampler's way (44.1 kHz stereo, mid/side) over a chunk boundary.
    if os.path.exists(os.path.join(a.weights, "aud-grvq-24k.safetensors")):
        clip = voice(24000, 1, 24000, 30)
        for q in (1, 4, 7):
            aud("agrvq24_q%d" % q, clip, 24000, "s16", "aud-grvq-24k mono 24 kHz 1 s, quality %d" % q,
                ("--model", "aud-grvq-24k", "--quality", str(q)))
        aud("agrvq24_44k_stereo_chunks", voice(131072 + 99, 2, 44100, 31), 44100, "s16",
            "aud-grvq-24k stereo 44.1 kHz (resampled, mid/side), 2 chunks", ("--model", "aud-grvq-24k", "--quality", "3"))

    # img-swin (when its weights are there): every quality level on a photo crop, then 1x1 (one
    # shifted Swin window at 1/4), odd sizes (padded to multiples of 32), gray, 16-bit, two tiles.
    # Small sizes: img-swin decodes ~2x slower than img-wave, and the sanitizer build runs the
    # conformance suite four times.
    if os.path.exists(os.path.join(a.weights, "img-swin.safetensors")):
        from safetensors import safe_open
        with safe_open(os.path.join(a.weights, "img-swin.safetensors"), "np") as f:
            levels = int(f.metadata()["quality_levels"])
        for q in range(1, levels + 1):
            img("swin_photo_q%d" % q, photo(64, 48, 0), ["--model", "img-swin", "--quality", str(q)], "img-swin, photo 64x48, quality %d" % q)
        img("swin_1x1", synthetic(1, 1, 3, 8, 12), ["--model", "img-swin", "--quality", "4"], "img-swin 1x1")
        img("swin_photo2_q3", photo(136, 70, 5), ["--model", "img-swin", "--quality", "3"], "img-swin, photo 136x70 (coded at 160x96: 5x3 windows at 1/4), quality 3")
        img("swin_gray", synthetic(61, 47, 1, 8, 13), ["--model", "img-swin", "--quality", "5"], "img-swin gray 61x47")
        img("swin_rgb16", synthetic(40, 24, 3, 16, 14), ["--model", "img-swin", "--quality", "6"], "img-swin RGB 16-bit 40x24")
        img("swin_1030x24", synthetic(1030, 24, 3, 8, 15), ["--model", "img-swin", "--quality", "2"], "img-swin 1030x24, 2 tiles")

    lines = ["# conformance streams: name, SHA-256 of the ref decoder's output, SHA-256 of the",
             "# entropy-decoded symbols (BITSTREAM.md section 4), description. Made by",
             "# conformance/make_streams.py; check with: neco conformance conformance/streams"]
    for name, src, opts, desc in jobs:
        out = os.path.join(streams, name + ".neco")
        if a.only and not name.startswith(a.only) and name in kept:
            lines.append(kept[name])
            continue
        subprocess.run([a.neco, "encode", src, out, "--backend", "ref", "--threads", "1", "--weights", a.weights, "--quiet"] + opts, check=True)
        info = subprocess.run([a.neco, "info", out, "--backend", "ref", "--weights", a.weights], check=True, capture_output=True, text=True).stdout
        d = {k.strip(): v.strip() for k, v in (l.split(":", 1) for l in info.splitlines() if ":" in l)}
        lines.append("%s %s %s %s" % (name + ".neco", d["output sha256"], d["symbols sha256"], desc))
    open(os.path.join(streams, "MANIFEST"), "w").write("\n".join(lines) + "\n")
    print("%d streams in %s" % (len(jobs), streams))


if __name__ == "__main__":
    main()
