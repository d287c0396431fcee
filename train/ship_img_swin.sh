#!/bin/sh
# Ship img-swin weights from a checkpoint in one command: export weights/img-swin.safetensors
# (train/export_swin.py, which checks the integer h_s and the reference decoder against the
# model), remake the agreement fixtures tests/data/codec/swin_q*.{neco,sym,pt.png}
# (train/make_swin_fixture.py) and the img-swin conformance streams (conformance/make_streams.py
# --only swin_; every other stream and MANIFEST line stays as it is).
#
#   train/ship_img_swin.sh train/cache/swin_gpu.pt [path/to/neco]
#
# neco: a built CLI (default build/apps/neco); it reads the new weights at run time, so it need
# not be rebuilt. Afterwards run test_img_swin and `neco conformance conformance/streams`, and
# commit weights/img-swin.safetensors, tests/data/codec/swin_q*, conformance/streams/swin_*,
# conformance/streams/MANIFEST.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CKPT=${1:?usage: train/ship_img_swin.sh CKPT [path/to/neco]}
NECO=${2:-$ROOT/build/apps/neco}
[ -x "$NECO" ] || { echo "no neco CLI at $NECO (build it or pass its path)" >&2; exit 1; }
python3 "$ROOT/train/export_swin.py" "$CKPT" --out "$ROOT/weights/img-swin.safetensors"
rm -f "$ROOT"/tests/data/codec/swin_q*.neco "$ROOT"/tests/data/codec/swin_q*.sym "$ROOT"/tests/data/codec/swin_q*.pt.png
python3 "$ROOT/train/make_swin_fixture.py" "$NECO" "$ROOT/weights/img-swin.safetensors"
python3 "$ROOT/conformance/make_streams.py" "$NECO" --weights "$ROOT/weights" --only swin_
"$NECO" conformance "$ROOT/conformance/streams" --weights "$ROOT/weights" | tail -1
