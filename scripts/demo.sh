#!/usr/bin/env bash
# The main job: installs dependencies, builds neco, then encodes and decodes the sample photo
# and the sample audio clip in samples/, printing sizes, bits per pixel or kbps, and PSNR.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
neco=build/apps/neco
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo
echo "Models in this build:"
$neco models
echo
echo "Note: only the 'raw' model exists so far (no compression); learned models are in progress."
for f in samples/*.png samples/*.flac samples/*.wav; do
  [ -e "$f" ] || continue
  name=$(basename "${f%.*}")
  case "$f" in
    *.png) ext=png ;;
    *) ext=wav ;;
  esac
  echo
  $neco encode "$f" "$out/$name.neco" --model raw
  $neco decode "$out/$name.neco" "$out/$name.$ext"
  printf '%s: ' "$f"
  $neco compare "$f" "$out/$name.$ext"
done
