#!/usr/bin/env python3
"""Speed benchmark of neco's audio models: real-time factor of encode and decode on one core.

What it does
  1. Writes two test signals to WAV (no dataset audio needed): 30 s of 16 kHz mono speech-like
     audio (harmonics of a gliding pitch under moving formants, in syllables, with noise bursts:
     conformance/make_streams.py `voice`) for aud-grvq, and 30 s of 44.1 kHz stereo music-like
     audio (tones and noise: `tone`) for aud-wave, and 30 s of it as 24 kHz mono for aud-grvq-24k.
  2. Runs each configuration once untimed (warm-up), then REPS times, with the CLI pinned to one
     CPU (`taskset -c 0`) and --threads 1.
  3. Reports the median over the runs of the process's CPU time (user + system, from
     os.wait4) and wall time, and the real-time factor = audio seconds / CPU seconds: the whole
     process is timed, file reading and writing included, as a user of the CLI sees it.

Configurations: aud-grvq, aud-wave and aud-grvq-24k at their default quality, --backend ref and
onednn (--models picks some).
Targets (issue 7): aud-grvq decodes >= 100x real time, aud-wave >= 50x, on one core.

  python3 tools/bench_audio_speed.py build/apps/neco [--reps 5] [--weights weights]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
from make_streams import tone, voice, write_wav  # noqa: E402

SECONDS = 30


def run(cmd):
    """(cpu seconds, wall seconds) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if status != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), err))
    return ru.ru_utime + ru.ru_stime, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("neco")
    ap.add_argument("--weights", default=os.path.join(HERE, "..", "weights"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=SECONDS)
    ap.add_argument("--models", default="aud-grvq,aud-wave,aud-grvq-24k")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    speech = os.path.join(tmp, "speech16k.wav")
    music = os.path.join(tmp, "music44k.wav")
    write_wav(speech, voice(16000 * a.seconds, 1, 16000, 1), 16000, "s16")
    write_wav(music, tone(44100 * a.seconds, 2, 44100, 2), 44100, "s16")
    music24 = os.path.join(tmp, "music24k.wav")
    write_wav(music24, tone(24000 * a.seconds, 1, 24000, 2), 24000, "s16")
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    cases = [(m, s) for m, s in (("aud-grvq", speech), ("aud-wave", music), ("aud-grvq-24k", music24))
             if m in a.models.split(",")]
    rows = []
    for model, src in cases:
        for backend in ("ref", "onednn"):
            coded = os.path.join(tmp, "%s_%s.neco" % (model, backend))
            out = os.path.join(tmp, "%s_%s.wav" % (model, backend))
            common = ["--model", model, "--backend", backend, "--threads", "1", "--weights", a.weights, "--quiet"]
            enc = pin + [a.neco, "encode", src, coded] + common
            dec = pin + [a.neco, "decode", coded, out, "--backend", backend, "--threads", "1",
                         "--weights", a.weights, "--quiet"]
            run(enc)
            run(dec)
            e = [run(enc) for _ in range(a.reps)]
            d = [run(dec) for _ in range(a.reps)]
            ec = statistics.median(c for c, _ in e)
            dc = statistics.median(c for c, _ in d)
            kbps = os.path.getsize(coded) * 8 / a.seconds / 1000
            rows.append((model, backend, kbps, ec, a.seconds / ec, dc, a.seconds / dc))
            print("%-12s %-6s %6.1f kbps  encode %.3f s CPU (%.0fx real time)  decode %.3f s CPU (%.0fx real time)" % (
                model, backend, kbps, ec, a.seconds / ec, dc, a.seconds / dc), flush=True)
    print("\n| model | backend | kbps | encode CPU s / %d s | encode x real time | decode CPU s / %d s | decode x real time |"
          % (a.seconds, a.seconds))
    print("|---|---|---:|---:|---:|---:|---:|")
    for m, b, k, ec, er, dc, dr in rows:
        print("| %s | %s | %.1f | %.3f | %.0f | %.3f | %.0f |" % (m, b, k, ec, er, dc, dr))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
