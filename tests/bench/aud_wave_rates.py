"""aud-wave on speech at another sample rate: SI-SDR and bitrate per quality level of the
held-out Emo-DB speakers (../shared/data/speech/valid/emodb, 22.05 kHz WAV with 16 kHz content)
converted to RATE Hz with sox (no dither), coded by the CLI (which resamples to 44.1 kHz and
back, BITSTREAM.md 3.2). For comparison, the same clips converted to 44.1 kHz and coded as they
are. SI-SDR as Le Roux et al. 2019 define it (zero-mean, scale-invariant), averaged over clips;
kbps = all bytes over all seconds.

usage: python3 tests/bench/aud_wave_rates.py build/apps/neco [--rate 16000] [--weights weights]
           [--data ../shared/data/speech/valid/emodb] [--markdown]"""
import argparse
import glob
import os
import subprocess
import tempfile
import wave

import numpy as np


def read_wav(path):
    """A 16-bit PCM WAV (what sox writes here and neco decodes it to) as floats, and its rate."""
    with wave.open(path) as w:
        assert w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        return x.astype(np.float64).ravel() / 32768.0, w.getframerate()


def si_sdr(ref, est):
    ref = ref - ref.mean()
    est = est - est.mean()
    target = (est @ ref) / (ref @ ref) * ref
    return 10 * np.log10((target @ target) / max(((est - target) @ (est - target)), 1e-20))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..", "..")
    ap = argparse.ArgumentParser()
    ap.add_argument("neco")
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--weights", default=os.path.join(root, "weights"))
    ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "speech", "valid", "emodb"))
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.data, "*.wav")))
    tmp = tempfile.mkdtemp()
    rows = []
    total = 0.0
    for rate in (a.rate, 44100):
        clips = []
        for f in files:
            p = os.path.join(tmp, "%d_%s" % (rate, os.path.basename(f)))
            subprocess.run(["sox", "-D", f, "-r", str(rate), p], check=True, capture_output=True)
            clips.append(p)
        q = 1
        while True:
            sdr, nbytes, seconds = [], 0, 0.0
            for p in clips:
                coded, dec = p + ".neco", p + ".dec.wav"
                r = subprocess.run([a.neco, "encode", p, coded, "--model", "aud-wave", "--quality", str(q),
                                    "--weights", a.weights, "--quiet"], capture_output=True)
                if r.returncode:
                    break
                subprocess.run([a.neco, "decode", coded, dec, "--weights", a.weights, "--quiet"], check=True)
                x, fs = read_wav(p)
                y, fs2 = read_wav(dec)
                assert fs == fs2 == rate and len(x) == len(y)
                sdr.append(si_sdr(x, y))
                nbytes += os.path.getsize(coded)
                seconds += len(x) / fs
            if not sdr:
                break
            rows.append((rate, q, nbytes * 8 / seconds / 1000, float(np.mean(sdr))))
            total = seconds
            q += 1
    print("%d clips, %.0f s" % (len(files), total))
    if a.markdown:
        print("| level | %g kHz kbps | %g kHz SI-SDR (dB) | 44.1 kHz kbps | 44.1 kHz SI-SDR (dB) |" % (a.rate / 1000, a.rate / 1000))
        print("|---|---:|---:|---:|---:|")
        native = {q: (k, s) for r, q, k, s in rows if r == 44100}
        for r, q, k, s in rows:
            if r == a.rate and q in native:
                print("| q%d | %.1f | %.2f | %.1f | %.2f |" % (q, k, s, native[q][0], native[q][1]))
    else:
        for r in rows:
            print("%6d Hz q%d: %6.1f kbps  SI-SDR %6.2f dB" % r)


if __name__ == "__main__":
    main()
