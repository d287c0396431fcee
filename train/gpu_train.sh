#!/bin/sh
# Train the image models on a lent GPU for MINUTES minutes, two runs side by side on the one
# GPU: img-wave fine-tuned from INIT (default train/checkpoints/img-wave.pt, the model-only
# checkpoint the shipped img-wave was exported from), and img-swin (img-wave with Swin-V2 blocks
# in g_a and g_s, models.ImgWave swin_a / swin_s) from INIT_SWIN (default
# train/checkpoints/img-swin.pt; an img-wave checkpoint also works: the blocks then start as the
# identity), its integer h_s and context frozen as in the CPU runs (weights/MODELS.md).
# Model-only checkpoints (<= 15 MiB parts, so they come back) and logs go to $OUT/swin and
# $OUT/wave (or ./out).
#
#   python3 train/pack_images.py                 # train/cache/gpu_pack, ~50 MiB of photos
#   sh train/gpu_train.sh 8.5                    # on the device, carry = [train/cache/gpu_pack]
#   sh train/gpu_train.sh 0.3 cpu                # CPU smoke test of the same thing
#
# Back here: cat $OUT/swin/model.part* > swin.pt; export/eval with train/export.py etc.
# (train/ship_img_swin.sh swin.pt ships img-swin).
set -eu
MIN=${1:?minutes}
DEV=${2:-cuda}
DIR=$(dirname "$0")
OUTDIR=${OUT:-out}
INIT=${INIT:-$DIR/checkpoints/img-wave.pt}
INIT_SWIN=${INIT_SWIN:-$DIR/checkpoints/img-swin.pt}
mkdir -p "$OUTDIR/swin" "$OUTDIR/wave" /tmp/neco_gpu/swin /tmp/neco_gpu/wave
(command -v nvidia-smi >/dev/null && nvidia-smi -L) || true
# img-wave: lambdas that move its levels towards the 0.1-1.5 bpp span of the issue
python3 "$DIR/train_image.py" --model img-wave --minutes "$MIN" --device "$DEV" --data "$DIR/cache/gpu_pack" \
    --init "$INIT" --lambdas '[0.0001,0.00023,0.0005,0.0011,0.0025,0.0055,0.012,0.027]' \
    --out /tmp/neco_gpu/wave --light "$OUTDIR/wave/model" --batch 32 --patch 256 --lr 2e-4 \
    --ckpt-minutes 1.5 --threads 4 --log-every 100 >"$OUTDIR/wave/log.txt" 2>&1 &
W=$!
python3 "$DIR/train_image.py" --model img-swin --minutes "$MIN" --device "$DEV" --data "$DIR/cache/gpu_pack" \
    --init "$INIT_SWIN" --out /tmp/neco_gpu/swin --light "$OUTDIR/swin/model" --batch 16 --patch 256 \
    --patch-sizes 240,256 --lr 2e-5 --swin-lr-mult 15 --freeze h_s.,ctx. --decay-frac 0.3 --ckpt-minutes 1.5 \
    --threads 4 --log-every 100 >"$OUTDIR/swin/log.txt" 2>&1 &
S=$!
rc=0
wait $W || rc=1
wait $S || rc=1
tail -n 3 "$OUTDIR/wave/log.txt" "$OUTDIR/swin/log.txt"
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used --format=csv) || true
exit $rc
