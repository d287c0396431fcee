#!/bin/sh
# Train aud-grvq on a lent GPU for MINUTES minutes, two runs side by side on the one GPU, from
# the shipped models' checkpoints (train/checkpoints/aud-grvq.pt, aud-grvq-24k.pt):
#   g16: the 16 kHz speech model fine-tuned (batch 64, lr 1e-4) with the PESQ-like loss of
#        pesq_proxy.py (weight PESQ, default 1, as the CPU runs that made the shipped weights;
#        it needs torch-pesq's wheel in the pack: `pip download --no-deps torch-pesq -d
#        train/cache/audio_pack`, installed there with --no-index) and, if ADV > 0, the
#        adversarial loss of grvq_adv.py (default 0; WAVE: waveform L1 weight, default 0);
#   g24: the 24 kHz general-audio model (aud-grvq-24k: the same network at 24 kHz, 75 latent
#        frames/s) on music, speech and drums (lr 3e-4; its first run started from aud-grvq.pt
#        at lr 5e-4).
# Data: train/cache/audio_pack (python3 train/pack_audio.py pack; ~26 MiB, carried).
# Model-only checkpoints (F32, ~10 MiB, so they come back) and logs go to $OUT/g16, $OUT/g24
# (or ./out).
#
#   python3 train/pack_audio.py pack                 # here
#   sh train/gpu_train_audio.sh 7.5                  # on the device, carry = [train/cache/audio_pack]
#   sh train/gpu_train_audio.sh 0.2 cpu              # CPU smoke test of the same thing
set -eu
MIN=${1:?minutes}
DEV=${2:-cuda}
DIR=$(dirname "$0")
OUTDIR=${OUT:-out}
T=/tmp/neco_gpu_audio
mkdir -p "$OUTDIR/g16" "$OUTDIR/g24" $T
(command -v nvidia-smi >/dev/null && nvidia-smi -L) || true
python3 "$DIR/pack_audio.py" unpack "$DIR/cache/audio_pack" $T/data
if [ "${PESQ:-1}" != 0 ] && ! python3 -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch_pesq') is None)"; then
    python3 -m pip install -q --no-deps --no-index "$DIR"/cache/audio_pack/torch_pesq-*.whl
fi
TH=$([ "$DEV" = cuda ] && echo 4 || echo 1)
python3 "$DIR/train_audio.py" --model aud-grvq --device "$DEV" --data $T/data/speech16 \
    --init "$DIR/checkpoints/aud-grvq.pt" --run $T/g16 --minutes "$MIN" --batch 64 --lr 1e-4 \
    --pesq "${PESQ:-1}" --wave-weight "${WAVE:-0}" --adv "${ADV:-0}" --ckpt-minutes 1.5 --threads $TH \
    >"$OUTDIR/g16/log.txt" 2>&1 &
A=$!
python3 "$DIR/train_audio.py" --model aud-grvq --rate 24000 --device "$DEV" --data $T/data/gen24 \
    --init "$DIR/checkpoints/aud-grvq-24k.pt" --run $T/g24 --minutes "$MIN" --batch 64 --length 12480 \
    --lr 3e-4 --wave-weight 5 --ckpt-minutes 1.5 --threads $TH >"$OUTDIR/g24/log.txt" 2>&1 &
B=$!
rc=0
wait $A || rc=1
wait $B || rc=1
for r in g16 g24; do
    python3 - $T/$r/ckpt.pt "$OUTDIR/$r/model.pt" <<'PY' || rc=1
import sys, torch
st = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
torch.save({k: v for k, v in st.items() if k not in ("opt", "disc_opt")}, sys.argv[2])
PY
    tail -n 3 "$OUTDIR/$r/log.txt"
done
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used --format=csv) || true
exit $rc
