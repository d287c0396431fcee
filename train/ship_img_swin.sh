#!/bin/sh
# Ship img-swin weights from a checkpoint in one command: export weights/img-swin.safetensors
# (train/export.py: img-wave's tensors plus the Swin blocks; it checks the integer h_s, the
# checkerboard context and the reference g_a / g_s of train/ref_decode.py against the model),
# remake the agreement fixtures tests/data/codec/swin.png and swin_q*.{neco,sym,pt.png}
# (train/make_codec_fixture.py --model img-swin) and the img-swin conformance streams
# (conformance/make_streams.py --only swin_; every other stream and MANIFEST line stays as it is),
# then run the conformance check.
#
#   train/ship_img_swin.sh train/runs/swin1/ckpt.pt [path/to/neco]
#
# The checkpoint must be an img-swin one (train_image.py --model img-swin: ImgWave with swin_a /
# swin_s stages). neco: a built CLI (default build/apps/neco); it reads the new weights at run
# time, so it need not be rebuilt. Afterwards run test_img_swin, and commit
# weights/img-swin.safetensors, tests/data/codec/swin*, conformance/streams/swin_* (removed ones
# included: git add -A conformance/streams) and conformance/streams/MANIFEST.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CKPT=${1:?usage: train/ship_img_swin.sh CKPT [path/to/neco]}
NECO=${2:-$ROOT/build/apps/neco}
[ -x "$NECO" ] || { echo "no neco CLI at $NECO (build it or pass its path)" >&2; exit 1; }
python3 - "$CKPT" <<'EOF'
import sys, torch
st = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
if st.get("model_name") != "img-swin":
    sys.exit("%s is a %s checkpoint, not img-swin" % (sys.argv[1], st.get("model_name")))
EOF
python3 "$ROOT/train/export.py" "$CKPT" --out "$ROOT/weights/img-swin.safetensors"
rm -f "$ROOT"/tests/data/codec/swin.png "$ROOT"/tests/data/codec/swin_q*.neco "$ROOT"/tests/data/codec/swin_q*.sym \
    "$ROOT"/tests/data/codec/swin_q*.pt.png
python3 "$ROOT/train/make_codec_fixture.py" "$NECO" "$ROOT/weights/img-swin.safetensors" --model img-swin
python3 "$ROOT/conformance/make_streams.py" "$NECO" --weights "$ROOT/weights" --only swin_
"$NECO" conformance "$ROOT/conformance/streams" --weights "$ROOT/weights" | tail -1
