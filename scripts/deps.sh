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
