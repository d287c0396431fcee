#!/usr/bin/env bash
# neco's FFmpeg filters end to end: installs neco from a build into a prefix, builds a minimal
# FFmpeg 5.1 with the filters against it (apps/ffmpeg/build-ffmpeg.sh: Debian's source, needs
# http access to deb.debian.org), then runs a PNG and a WAV through them and checks
#   - output size / pixel format, duration / sample count;
#   - that the filters' metadata equals what `neco encode` reports for the same input and model:
#     neco.bytes and neco.bpp of each image, and for audio header + sum of neco.bytes = the size
#     of `neco encode`'s file (the filter codes whole codec chunks, so the chunk payloads are the
#     same bytes);
#   - that the filtered samples are exactly `neco decode`'s output for that file (md5 of the
#     decoded pixels / PCM), which for audio also shows that no sample is lost, added or moved
#     at the frame seams;
#   - 8- and 16-bit, RGB and gray, odd sizes (partial tiles), s16 / s32 / float audio, a final
#     short chunk, and one error path (an unknown model).
# Learned models are tested when their weights are there ($NECO_TEST_WEIGHTS, default: the
# prefix's share/neco/weights, installed from the source tree's weights/); otherwise those cases
# print SKIP and the raw-model cases still run.
#
# usage: tests/ffmpeg_test.sh SOURCE_DIR BUILD_DIR [WORK_DIR]
#   WORK_DIR (default BUILD_DIR/ffmpeg-test) keeps the FFmpeg source and build, so that a rerun
#   only rebuilds what changed.
set -u
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=${3:-$build/ffmpeg-test}
mkdir -p "$work"
work=$(cd "$work" && pwd)
prefix=$work/prefix
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
  fail=$((fail + 1))
  echo "FAIL: $*"
}
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
t_all=$(now)

# ---- neco into a prefix, FFmpeg against it ----
t0=$(now)
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1; }
echo "== install neco: $(took "$t0")"
"$src/apps/ffmpeg/build-ffmpeg.sh" --neco-prefix "$prefix" --workdir "$work" ||
  { echo "FAIL: build-ffmpeg.sh"; exit 1; }
ffdir=$(ls -d "$work"/ffmpeg-*/ | head -n 1)
ffmpeg=${ffdir}ffmpeg
ffprobe=${ffdir}ffprobe
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
neco=$prefix/bin/neco
weights=${NECO_TEST_WEIGHTS:-$prefix/share/neco/weights}
t_run=$(now)

ff() { "$ffmpeg" -nostdin -hide_banner -loglevel error -y "$@"; }
# md5 of the decoded samples of a file (pixels at PIX_FMT, or PCM as it is stored).
pixels_md5() { ff -i "$1" -pix_fmt "$2" -f md5 - 2>/dev/null; }
pcm_md5() { ff -i "$1" -f md5 - 2>/dev/null; }
# meta FILE KEY [FRAME]: the value of KEY in metadata=print:file= output (frame 0 by default).
meta() { awk -v k="$2" -v f="${3:-0}" '/^frame:/ { split($1, a, ":"); n = a[2] }
  n == f && index($0, k "=") == 1 { print substr($0, length(k) + 2) }' "$1"; }
meta_sum() { awk -v k="$2" 'index($0, k "=") == 1 { s += substr($0, length(k) + 2) } END { print s + 0 }' "$1"; }

# ---- fixtures: an RGB PNG (451x300: partial tiles), 16-bit RGB and 8-bit gray PNGs of odd
# size made from it, a 16-bit stereo WAV of 4 s (176400 frames: 10 whole raw chunks + a short
# one) ----
png=$src/samples/chelsea.png
ff -i "$png" -vf scale=97:61,format=rgb48be "$tmp/rgb48.png" || bad "make the 16-bit PNG"
ff -i "$png" -vf scale=203:117,format=gray "$tmp/gray.png" || bad "make the gray PNG"
# The fixtures are only as good as this FFmpeg's scaler: the one-step gray must match a two-step
# one (scale, then convert) closely. (An FFmpeg 5.1 built with inline asm but without x86asm
# fails this: its one-step rgb24 -> gray scaling is garbage.)
ff -i "$png" -vf scale=203:117 "$tmp/small.png" && ff -i "$tmp/small.png" -vf format=gray "$tmp/gray2.png" &&
  "$neco" compare "$tmp/gray.png" "$tmp/gray2.png" | awk '{ exit !($2 > 35) }' && ok ||
  bad "FFmpeg's scaler: one-step and two-step gray differ ($("$neco" compare "$tmp/gray.png" "$tmp/gray2.png" 2>&1))"
"$neco" encode "$src/samples/drums_120bpm_44k_stereo.flac" "$tmp/drums.neco" --model raw --quiet &&
  "$neco" decode "$tmp/drums.neco" "$tmp/drums.wav" --quiet || bad "make the WAV"

# image_case NAME INPUT PIXFMT NECO_ARGS FILTER_ARGS: the filter's metadata against `neco encode`,
# its pixels against `neco decode`, its size against the input's.
image_case() {
  local name=$1 in=$2 pixfmt=$3 cli_args=$4 filter_args=$5
  local cli rc
  cli=$("$neco" encode "$in" "$tmp/$name.neco" $cli_args 2>"$tmp/$name.err")
  rc=$?
  if [ $rc -eq 5 ]; then
    echo "SKIP: image $name: $(cat "$tmp/$name.err")"
    return
  fi
  [ $rc -eq 0 ] || { bad "image $name: neco encode: $(cat "$tmp/$name.err")"; return; }
  "$neco" decode "$tmp/$name.neco" "$tmp/$name.cli.png" --quiet --weights "$weights" ||
    { bad "image $name: neco decode"; return; }
  ff -i "$in" -vf "neco=$filter_args:psnr=1,metadata=print:file=$tmp/$name.meta" \
    "$tmp/$name.out.png" 2>"$tmp/$name.fferr" ||
    { bad "image $name: ffmpeg: $(head -c 400 "$tmp/$name.fferr")"; return; }
  local bytes bpp
  bytes=$(stat -c %s "$tmp/$name.neco")
  bpp=$(echo "$cli" | sed -n 's/.* \([0-9.]*\) bpp .*/\1/p')
  [ "$(meta "$tmp/$name.meta" neco.bytes)" = "$bytes" ] && ok ||
    bad "image $name: neco.bytes $(meta "$tmp/$name.meta" neco.bytes), neco encode wrote $bytes"
  [ -n "$bpp" ] && [ "$(meta "$tmp/$name.meta" neco.bpp)" = "$bpp" ] && ok ||
    bad "image $name: neco.bpp $(meta "$tmp/$name.meta" neco.bpp), neco encode says '$bpp'"
  [ -n "$(meta "$tmp/$name.meta" neco.psnr)" ] && ok || bad "image $name: no neco.psnr"
  [ "$("$ffprobe" -v error -show_entries stream=width,height -of csv=p=0 "$tmp/$name.out.png")" = \
    "$("$ffprobe" -v error -show_entries stream=width,height -of csv=p=0 "$in")" ] && ok ||
    bad "image $name: output size differs from the input's"
  [ "$(pixels_md5 "$tmp/$name.out.png" "$pixfmt")" = "$(pixels_md5 "$tmp/$name.cli.png" "$pixfmt")" ] &&
    ok || bad "image $name: pixels differ from neco decode's"
  echo "image $name: $(meta "$tmp/$name.meta" neco.bpp) bpp, PSNR $(meta "$tmp/$name.meta" neco.psnr) dB"
}

image_case raw-rgb24 "$png" rgb24 "--model raw" "model=raw"
image_case raw-rgb48 "$tmp/rgb48.png" rgb48le "--model raw" "model=raw"
image_case raw-gray "$tmp/gray.png" gray "--model raw" "model=raw"
image_case wave-rgb24-q3 "$png" rgb24 "--model img-wave --quality 3 --weights $weights" \
  "model=img-wave:quality=3:weights=$weights"
image_case wave-gray-q1 "$tmp/gray.png" gray "--model img-wave --quality 1 --weights $weights" \
  "model=img-wave:quality=1:weights=$weights"
# A budget that quality 3 just meets (its bytes plus one): rate control must pick 3 or above.
if [ -f "$tmp/wave-rgb24-q3.neco" ]; then
  budget=$(awk -v b="$(stat -c %s "$tmp/wave-rgb24-q3.neco")" 'BEGIN { printf "%.6f", (b + 1) * 8 / (451 * 300) }')
  image_case wave-rgb24-bpp "$png" rgb24 "--model img-wave --bpp $budget --weights $weights" \
    "model=img-wave:bpp=$budget:weights=$weights"
  [ "$(meta "$tmp/wave-rgb24-bpp.meta" neco.quality)" -ge 3 ] && ok ||
    bad "image wave-rgb24-bpp: quality $(meta "$tmp/wave-rgb24-bpp.meta" neco.quality) under a budget that 3 meets"
fi
# The raw model is lossless: the output is the input, pixel for pixel.
[ "$(pixels_md5 "$tmp/raw-rgb48.out.png" rgb48le)" = "$(pixels_md5 "$tmp/rgb48.png" rgb48le)" ] &&
  [ "$(meta "$tmp/raw-rgb48.meta" neco.psnr)" = inf ] && ok ||
  bad "image raw-rgb48: not lossless"
# A format neco does not code (yuv420p) is converted by FFmpeg's negotiation, not refused.
ff -i "$png" -vf format=yuv420p,neco=model=raw,metadata=print:file="$tmp/yuv.meta" -f null - &&
  [ "$(meta "$tmp/yuv.meta" neco.bytes)" = "$(stat -c %s "$tmp/raw-rgb24.neco")" ] && ok ||
  bad "image yuv420p input: not converted to rgb24 and coded"

# audio_case NAME FORMAT NECO_MODEL_ARGS FILTER_ARGS: FORMAT is the sample format the filter
# gets (FFmpeg's aformat converts the s16 WAV); the reference is `neco encode` of the WAV in that
# format.
audio_case() {
  local name=$1 fmt=$2 cli_args=$3 filter_args=$4 in=$tmp/drums.wav rc
  if [ "$fmt" != s16 ]; then
    in=$tmp/drums-$fmt.wav
    local codec=pcm_s32le
    [ "$fmt" = flt ] && codec=pcm_f32le
    [ -f "$in" ] || ff -i "$tmp/drums.wav" -c:a $codec "$in" || { bad "audio $name: make input"; return; }
  fi
  "$neco" encode "$in" "$tmp/$name.neco" $cli_args --quiet 2>"$tmp/$name.err"
  rc=$?
  if [ $rc -eq 5 ]; then
    echo "SKIP: audio $name: $(cat "$tmp/$name.err")"
    return
  fi
  [ $rc -eq 0 ] || { bad "audio $name: neco encode: $(cat "$tmp/$name.err")"; return; }
  "$neco" decode "$tmp/$name.neco" "$tmp/$name.cli.wav" --quiet --weights "$weights" ||
    { bad "audio $name: neco decode"; return; }
  ff -i "$in" -af "aformat=$fmt,aneco=$filter_args:psnr=1,ametadata=print:file=$tmp/$name.meta" \
    -c:a "$("$ffprobe" -v error -show_entries stream=codec_name -of csv=p=0 "$tmp/$name.cli.wav")" \
    "$tmp/$name.out.wav" 2>"$tmp/$name.fferr" ||
    { bad "audio $name: ffmpeg: $(head -c 400 "$tmp/$name.fferr")"; return; }
  local bytes sum frames
  bytes=$(stat -c %s "$tmp/$name.neco")
  # BITSTREAM.md 1.2: a stream is a 64-byte header, then its chunks.
  sum=$(($(meta_sum "$tmp/$name.meta" neco.bytes) + 64))
  [ "$sum" = "$bytes" ] && ok ||
    bad "audio $name: 64 + sum of neco.bytes = $sum, neco encode wrote $bytes"
  frames=$("$ffprobe" -v error -show_entries stream=duration_ts,sample_rate,channels -of csv=p=0 \
    "$tmp/$name.out.wav")
  [ "$frames" = "$("$ffprobe" -v error -show_entries stream=duration_ts,sample_rate,channels \
    -of csv=p=0 "$in")" ] && ok || bad "audio $name: rate/channels/length $frames differ from the input's"
  [ "$(pcm_md5 "$tmp/$name.out.wav")" = "$(pcm_md5 "$tmp/$name.cli.wav")" ] && ok ||
    bad "audio $name: samples differ from neco decode's"
  echo "audio $name: $(grep -c '^frame:' "$tmp/$name.meta") chunks, $(meta "$tmp/$name.meta" neco.kbps) kbps"
}

audio_case raw-s16 s16 "--model raw" "model=raw"
audio_case raw-s32 s32 "--model raw" "model=raw"
audio_case raw-flt flt "--model raw" "model=raw"
# The learned model, whose chunks are coded with context from their neighbours: the filter must
# still give `neco encode`'s bytes and `neco decode`'s samples (4 s = one whole chunk of 131072
# frames and a shorter last one).
audio_case wave-s16 s16 "--model aud-wave --weights $weights" "model=aud-wave:weights=$weights"
audio_case wave-flt flt "--model aud-wave --quality 1 --weights $weights" \
  "model=aud-wave:quality=1:weights=$weights"
# The default audio model through the same checks.
audio_case default-s16 s16 "--weights $weights" "weights=$weights"
# kbps: every chunk at most the budget, unless at the lowest level; the length unchanged.
if [ -f "$tmp/wave-s16.neco" ]; then
  if ff -i "$tmp/drums.wav" -af "aneco=model=aud-wave:kbps=150:weights=$weights,ametadata=print:file=$tmp/kbps.meta" \
    "$tmp/kbps.wav" 2>"$tmp/kbps.err"; then
    awk '/^neco.kbps=/ { k = substr($0, 11) } /^neco.quality=/ { q = substr($0, 14); n++
      if (k > 150 && q > 1) bad = 1 } END { exit bad || n != 2 }' "$tmp/kbps.meta" && ok ||
      bad "audio kbps=150: $(tr '\n' ' ' <"$tmp/kbps.meta")"
    [ "$("$ffprobe" -v error -show_entries stream=duration_ts -of csv=p=0 "$tmp/kbps.wav")" = 176400 ] && ok ||
      bad "audio kbps=150: length changed"
    echo "audio kbps=150: $(grep -h '^neco\.\(kbps\|quality\)' "$tmp/kbps.meta" | tr '\n' ' ')"
  else
    bad "audio kbps=150: $(head -c 400 "$tmp/kbps.err")"
  fi
fi
# raw is lossless: the output is the input.
[ "$(pcm_md5 "$tmp/raw-s16.out.wav")" = "$(pcm_md5 "$tmp/drums.wav")" ] && ok ||
  bad "audio raw-s16: not lossless"
# 176400 frames in raw chunks of 16384: 10 whole chunks and a last one of 12560 frames.
[ "$(grep -c '^frame:' "$tmp/raw-s16.meta")" = 11 ] && [ "$(meta "$tmp/raw-s16.meta" neco.bytes 10)" = \
  $((12560 * 4 + 8)) ] && ok || bad "audio raw-s16: not coded in whole chunks plus the remainder"

# ---- errors: an unknown model stops ffmpeg with a message naming it ----
if ff -i "$png" -vf neco=model=nonesuch -f null - 2>"$tmp/err1.txt"; then
  bad "vf neco accepted an unknown model"
else
  grep -q "unknown neco model 'nonesuch'" "$tmp/err1.txt" && ok || bad "vf error: $(cat "$tmp/err1.txt")"
fi
if ff -i "$tmp/drums.wav" -af aneco=model=nonesuch -f null - 2>"$tmp/err2.txt"; then
  bad "af aneco accepted an unknown model"
else
  grep -q "unknown neco model 'nonesuch'" "$tmp/err2.txt" && ok || bad "af error: $(cat "$tmp/err2.txt")"
fi

echo "== run the cases: $(took "$t_run"); whole test: $(took "$t_all")"
echo "ffmpeg filters: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
