#!/bin/sh
# Train the image models on a lent GPU for MINUTES minutes, two runs side by side on the one
# GPU: img-swin from scratch and img-wave fine-tuned from INIT (default train/checkpoints/img-wave.pt,
# the model-only checkpoint the shipped weights were exported from).  Model-only checkpoints (<= 15 MiB parts, so they come back)
# and logs go to $OUT/swin and $OUT/wave (or ./out).
#
#   python3 train/pack_images.py                 # train/cache/gpu_pack, ~50 MiB of photos
#   sh train/gpu_train.sh 8.5                    # on the device, carry = [train/cache/gpu_pack]
#   sh train/gpu_train.sh 0.3 cpu                # CPU smoke test of the same thing
#
# Back here: cat $OUT/swin/model.part* > swin.pt; export/eval with train/export.py etc.
set -eu
MIN=${1:?minutes}
DEV=${2:-cuda}
DIR=$(dirname "$0")
OUTDIR=${OUT:-out}
INIT=${INIT:-$DIR/checkpoints/img-wave.pt}
mkdir -p "$OUTDIR/swin" "$OUTDIR/wave" /tmp/neco_gpu/swin /tmp/neco_gpu/wave
AMP=; [ "$DEV" = cuda ] && AMP=--amp
(command -v nvidia-smi >/dev/null && nvidia-smi -L) || true
# img-wave: lambdas that move its levels towards the 0.1-1.5 bpp span of the issue
python3 "$DIR/train_image.py" --model img-wave --minutes "$MIN" --device "$DEV" --data "$DIR/cache/gpu_pack" \
    --init "$INIT" --lambdas '[0.0001,0.00023,0.0005,0.0011,0.0025,0.0055,0.012,0.027]' \
    --out /tmp/neco_gpu/wave --light "$OUTDIR/wave/model" --batch 32 --patch 256 --lr 2e-4 \
    --ckpt-minutes 1.5 --threads 4 --log-every 100 >"$OUTDIR/wave/log.txt" 2>&1 &
W=$!
python3 "$DIR/train_image.py" --model img-swin --minutes "$MIN" --device "$DEV" --data "$DIR/cache/gpu_pack" \
    --lambdas '[0.0005,0.001,0.002,0.004,0.008,0.016,0.032,0.06]' --config '{"norm_init": 0.05}' $AMP \
    --out /tmp/neco_gpu/swin --light "$OUTDIR/swin/model" --batch 16 --patch 256 --lr 3e-4 --warmup-frac 0.03 \
    --decay-frac 0.3 --ckpt-minutes 1.5 --threads 4 --log-every 100 >"$OUTDIR/swin/log.txt" 2>&1 &
S=$!
rc=0
wait $W || rc=1
wait $S || rc=1
tail -n 3 "$OUTDIR/wave/log.txt" "$OUTDIR/swin/log.txt"
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used --format=csv) || true
exit $rc
