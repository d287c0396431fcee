#!/usr/bin/env bash
# Prepares, on this (CPU) machine, what tools/cuda_device_check.sh carries to a GPU machine
# (issue 10): .device/ (git-ignored through .git/info/exclude) with
#   debs/      CUnit (the test framework: the GPU image has CMake, nvcc and cuDNN, not CUnit)
#   1080p.jpg  a real 1920x1080 photo (Debian's mate-backgrounds, nature/Garden.jpg 2560x1600,
#              downscaled to 1920x1200 to hide its JPEG artefacts, the middle 1080 rows), JPEG
#              quality 95 (small to carry); the check turns it into the binary PPM that
#              bench_image reads without libpng, with the GPU machine's PIL
# Then, with the device tool: run(command="bash tools/cuda_device_check.sh", carry=[".device"]).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
rm -rf .device && mkdir -p .device/debs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd .device/debs && apt-get download -q libcunit1 libcunit1-dev >/dev/null)
(cd "$tmp" && apt-get download -q mate-backgrounds >/dev/null && dpkg -x mate-backgrounds_*.deb x)
python3 - "$tmp/x/usr/share/backgrounds/mate/nature/Garden.jpg" .device/1080p.jpg <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB").resize((1920, 1200), Image.LANCZOS)
im.crop((0, 60, 1920, 1140)).save(sys.argv[2], quality=95)
PY
ls -l .device .device/debs
