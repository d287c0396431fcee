#!/usr/bin/env bash
# The GPU machine's check of the cuda backend (issue 10), one run of a few minutes:
#   here, once:   bash tools/cuda_device_prep.sh
#   device tool:  run(command="bash tools/cuda_device_check.sh", carry=[".device"], timeout_s=540)
# Builds neco with the CUDA backend (Release, no oneDNN and no apps/: the GPU image has nvcc,
# cuDNN and CMake but not libpng, libsndfile or oneDNN; CUnit comes from .device/debs), runs
# the suites that touch the GPU (the cuda op tests against ref, the Swin block, the codec round
# trips, the conformance streams with --backend cuda; again with NECO_CUDA_ASYNC=1) and the
# nets/ suites, then times the decoders on a 1920x1080 photo (img-swin: issue 10's 20 ms
# target; img-wave: 60 frames/s), with synchronous and with asynchronous ops.
# Everything goes to $OUT (report.txt, build.log).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/neco-device-out}
mkdir -p "$out"
exec > >(tee "$out/report.txt") 2>&1
deps=/tmp/neco-deps
mkdir -p "$deps"
for f in .device/debs/*.deb; do dpkg -x "$f" "$deps"; done
lib=$(dirname "$(find "$deps" -name 'libcunit.so*' | head -1)")
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PKG_CONFIG_PATH="$lib/pkgconfig"
# the headers too: not every target takes pkg-config's flags
export CPATH="$deps/usr/include${CPATH:+:$CPATH}" LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
nvidia-smi -L
nvcc --version | tail -1
# cuDNN and cuBLAS: the toolkit's, else the pip wheels' (nvidia-cudnn-cu13, nvidia-cublas), which
# ship versioned libraries only (libcudnn.so.9): named to CMake by path, and put on the loader's path.
extra=()
pydir() { python3 -c "import importlib, sys; m = importlib.import_module(sys.argv[1]); print(list(m.__path__)[0])" "$1" 2>/dev/null; }
any() { for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
if ! any /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h; then
  d=$(pydir nvidia.cudnn)
  if [ -n "$d" ]; then
    extra+=("-DNECO_CUDNN_INCLUDE=$d/include" "-DNECO_CUDNN_LIB=$(ls "$d"/lib/libcudnn.so* | head -1)")
    export LD_LIBRARY_PATH="$d/lib:$LD_LIBRARY_PATH"
  fi
fi
if ! any /usr/local/cuda/lib64/libcublas.so* /usr/local/cuda/lib/libcublas.so*; then
  d=$(pydir nvidia.cublas)
  if [ -n "$d" ]; then
    extra+=("-DNECO_CUBLAS_LIB=$(ls "$d"/lib/libcublas.so* | head -1)")
    export LD_LIBRARY_PATH="$d/lib:$LD_LIBRARY_PATH"
  fi
fi
echo "cuDNN / cuBLAS from: ${extra[*]:-the toolkit}"
b=/tmp/neco-build
gen=$(command -v ninja >/dev/null && echo "-G Ninja" || true)
# NECO_WERROR off: this image's compiler may warn where Debian 12's gcc does not; the warnings
# stay in build.log.
cmake -S . -B $b $gen -DCMAKE_BUILD_TYPE=Release -DNECO_WITH_ONEDNN=OFF -DNECO_BUILD_APPS=OFF \
  -DNECO_WITH_CUDA=ON -DNECO_WERROR=OFF -DCMAKE_PREFIX_PATH="$deps/usr" \
  -DCMAKE_LIBRARY_PATH="$lib" "${extra[@]}" >"$out/build.log" 2>&1 &&
  cmake --build $b -j"$(nproc)" >>"$out/build.log" 2>&1 || { echo "BUILD FAILED"; tail -40 "$out/build.log"; exit 1; }
grep -c "warning:" "$out/build.log" | sed 's/^/compiler warnings: /'
echo "== tests"
(cd $b && ctest -j4 --output-on-failure -R 'cuda|nets|conformance_ref_t1|test_codec$' --timeout 300)
echo "== the GPU suites again with NECO_CUDA_ASYNC=1 (ops leave work in flight; nn_context_sync)"
(cd $b && NECO_CUDA_ASYNC=1 ctest -j2 --output-on-failure -R 'test_nets_cuda|test_cuda_codec|conformance_cuda' --timeout 300)
python3 -c "from PIL import Image; Image.open('.device/1080p.jpg').save('/tmp/1080p.ppm')"
echo "== speed (library level, images in memory, median of 10), synchronous ops, then async"
for async in 0 1; do
  for m in "img-swin 4" "img-wave 4"; do
    set -- $m
    echo "NECO_CUDA_ASYNC=$async"
    NECO_CUDA_ASYNC=$async $b/tests/bench_image --weights weights --backend cuda --threads 4 \
      --model "$1" --quality "$2" --reps 10 /tmp/1080p.ppm
  done
done
echo "== the same on this machine's CPU (ref, $(nproc) threads), for scale"
$b/tests/bench_image --weights weights --backend ref --threads "$(nproc)" --model img-wave \
  --quality 4 --reps 3 /tmp/1080p.ppm
