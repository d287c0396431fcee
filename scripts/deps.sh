#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test neco (run as root).
set -euo pipefail
# clang: the second compiler of scripts/test.sh (and the fuzzing build).
packages=(build-essential clang cmake pkg-config libpng-dev libsndfile1-dev libdnnl-dev
  libcunit1-dev libavformat-dev libavcodec-dev libswscale-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Python packages of the speech evaluation only (train/eval_grvq.py: PESQ-WB and STOI); the codec,
# its tests and CI do not need them, so a failure here warns and goes on.  pesq builds a C
# extension (build-essential above).  A Debian-managed python3 needs --break-system-packages.
if command -v python3 >/dev/null && ! python3 -c "import pesq, pystoi" 2>/dev/null; then
  echo "installing python packages: pesq pystoi"
  python3 -m pip install -q pesq pystoi 2>/dev/null ||
    python3 -m pip install -q --break-system-packages pesq pystoi ||
    echo "warning: could not install the python packages pesq and pystoi (only train/eval_grvq.py uses them)" >&2
fi
