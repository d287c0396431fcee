#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every CUnit suite with ctest, then
# does the same in an AddressSanitizer + UndefinedBehaviorSanitizer build. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

echo "== release build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNECO_WERROR=ON -DNECO_FFMPEG_TEST=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DNECO_SANITIZE=ON -DNECO_WERROR=ON >/dev/null
cmake --build build-sanitize -j"$jobs"
(cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")
