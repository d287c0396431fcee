#!/usr/bin/env bash
# The main job: installs dependencies, builds neco, then encodes and decodes the sample photo
# and the sample audio clips in samples/, printing sizes, bits per pixel or kbps, and PSNR.
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
echo "The learned models are trained only briefly so far (see README.md, 'Status')."

# run FILE EXT [encode options]: encode, decode, compare with the original
run() {
  local f=$1 ext=$2
  shift 2
  local name
  name=$(basename "${f%.*}")
  echo
  $neco encode "$f" "$out/$name.neco" "$@"
  $neco decode "$out/$name.neco" "$out/$name.$ext"
  printf '%s: ' "$f"
  $neco compare "$f" "$out/$name.$ext"
}

run samples/chelsea.png png --model img-wave --quality 6
run samples/chelsea.png png --model img-wave --quality 8
run samples/drums_120bpm_44k_stereo.flac wav --model aud-wave --quality 3
# aud-wave codes 44.1/48 kHz only; this 8 kHz speech clip goes through raw (no compression).
run samples/fsdd_jackson_digits_8k.flac wav --model raw
