#!/bin/sh
# Train img-wave on a lent GPU for MINUTES minutes; the checkpoint goes to $OUT (or ./out).
#
#   sh train/gpu_train.sh MINUTES [INIT_CKPT] [DEVICE]
#
# Data: train/cache/crops_gpu.npy (make it here first, <= 64 MiB so it can be carried):
#   python3 train/prepare_data.py --max-mb 60 --out train/cache/crops_gpu.npy
# then run on the device machine with carry = [train/cache/crops_gpu.npy, <INIT_CKPT>].
# INIT_CKPT (optional) starts from a CPU checkpoint's weights (fresh optimiser, QAT state kept).
# DEVICE defaults to cuda; "sh train/gpu_train.sh 0.2 '' cpu" is the CPU smoke test.
set -eu
MIN=${1:?minutes}
INIT=${2:-}
DEV=${3:-cuda}
DIR=$(dirname "$0")
OUTDIR=${OUT:-out}/gpu_run
mkdir -p "$OUTDIR"
set -- --model img-wave --minutes "$MIN" --device "$DEV" --data "$DIR/cache/crops_gpu.npy" \
       --out "$OUTDIR" --batch 32 --lr 2e-4 --ckpt-minutes 2 --threads 8
if [ -n "$INIT" ]; then set -- "$@" --init "$INIT"; fi
python3 "$DIR/train_image.py" "$@" 2>&1 | tee "$OUTDIR/log.txt"
