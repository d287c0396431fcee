#!/usr/bin/env bash
# The neco CLI end to end: bit-exact round trips of PNG and audio files with --model raw,
# exit codes, one-line errors, no partial or clobbered outputs, and a truncation and bit-flip
# sweep over a small file (under ASan/UBSan in the sanitizer build).
# usage: cli_test.sh path/to/neco   (run from tests/)
set -u
neco=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
  fail=$((fail + 1))
  echo "FAIL: $*"
}

# expect CODE CMD...: runs CMD, checks its exit code; on a failure code also checks that stderr
# is exactly one line starting with "neco: ".
expect() {
  local want=$1
  shift
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    bad "exit $got (wanted $want): $* :: $(head -c 300 "$tmp/stderr")"
    return 1
  fi
  if [ "$want" -ne 0 ]; then
    if [ "$(wc -l <"$tmp/stderr")" -ne 1 ] || ! grep -q '^neco: ' "$tmp/stderr"; then
      bad "not a one-line error: $* :: $(cat "$tmp/stderr")"
      return 1
    fi
  fi
  ok
}

# ---- help, version, usage errors ----
expect 0 "$neco" --help && grep -q "exit codes" "$tmp/stdout" && grep -q "raw" "$tmp/stdout" || bad "--help"
expect 0 "$neco" --version && grep -q "^neco [0-9]" "$tmp/stdout" || bad "--version"
"$neco" >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "no arguments should exit 1"
expect 1 "$neco" frobnicate
expect 1 "$neco" encode onlyone
expect 1 "$neco" encode a b --bogus x
expect 1 "$neco" encode a b --quality zero
expect 0 "$neco" models && grep -q "^raw" "$tmp/stdout" || bad "models"

# ---- round trips ----
roundtrip_png() {
  local in=$1 name
  name=$(basename "$in" .png)
  expect 0 "$neco" encode "$in" "$tmp/$name.neco" --model raw --quiet || return
  expect 0 "$neco" decode "$tmp/$name.neco" "$tmp/$name.out.png" --quiet || return
  expect 0 "$neco" compare "$in" "$tmp/$name.out.png" || return
  grep -q "PSNR inf dB" "$tmp/stdout" || bad "$in: not bit-exact: $(cat "$tmp/stdout")"
}
roundtrip_audio() {
  local in=$1 ext=$2 name
  name=$(basename "$in")
  expect 0 "$neco" encode "$in" "$tmp/$name.neco" --model raw --quiet || return
  expect 0 "$neco" decode "$tmp/$name.neco" "$tmp/$name.out.$ext" --quiet || return
  expect 0 "$neco" compare "$in" "$tmp/$name.out.$ext" || return
  grep -q "PSNR inf dB" "$tmp/stdout" || bad "$in -> .$ext: not bit-exact: $(cat "$tmp/stdout")"
}

shopt -s nullglob
pngs=0
for f in ../samples/*.png data/png/*.png data/cli/*.png; do
  case "$(basename "$f")" in
    apng* | bad_* | huge* | not_* | truncated*) continue ;; # fixtures that must be refused
  esac
  roundtrip_png "$f"
  pngs=$((pngs + 1))
done
[ "$pngs" -ge 1 ] && ok || bad "no PNG inputs found"

audios=0
for f in ../samples/*.wav ../samples/*.flac data/audio/*.wav data/audio/*.flac data/audio/*.ogg; do
  case "$(basename "$f")" in
    not_* | truncated* | unknown_*) continue ;; # fixtures that must be refused
  esac
  roundtrip_audio "$f" wav
  audios=$((audios + 1))
done
[ "$audios" -ge 1 ] && ok || bad "no audio inputs found"

# FLAC output of a 16-bit input is bit-exact too.
for f in ../samples/*.flac; do
  roundtrip_audio "$f" flac
done

# ---- info ----
first=$(ls "$tmp"/*.neco | head -n1)
expect 0 "$neco" info "$first" && grep -q "^model: *raw" "$tmp/stdout" &&
  grep -q "^check: *ok" "$tmp/stdout" || bad "info"

# ---- a small file (3x5 RGB, 117 bytes coded) for the error sweeps ----
small_src=data/cli/tiny-3x5.png
small=$tmp/small.neco
expect 0 "$neco" encode "$small_src" "$small" --model raw --quiet
size=$(stat -c %s "$small")
[ "$size" -eq 117 ] && ok || bad "tiny-3x5.png coded to $size bytes, expected 117"

# ---- input errors ----
expect 2 "$neco" encode "$tmp/missing.png" "$tmp/x.neco"
printf 'this is not an image' >"$tmp/junk.png"
expect 2 "$neco" encode "$tmp/junk.png" "$tmp/x.neco"
expect 2 "$neco" encode "$small" "$tmp/x.neco" # already a neco file
expect 2 "$neco" decode "$tmp/missing.neco" "$tmp/x.png"
expect 3 "$neco" decode "$tmp/junk.png" "$tmp/x.png"
[ -e "$tmp/x.neco" ] || [ -e "$tmp/x.png" ] && bad "an output was left behind by a failed run" || ok
expect 1 "$neco" decode "$small" "$tmp/x.wav" # an image decodes to .png
expect 1 "$neco" encode "$small_src" "$small_src"
expect 4 "$neco" encode "$small_src" "$tmp/no/such/dir/x.neco" --model raw
expect 5 "$neco" encode "$small_src" "$tmp/x.neco" --model no-such-model
expect 1 "$neco" encode "$small_src" "$tmp/x.neco" --model raw --quality 2
# cuda: exit 5 with the reason (not built, no device or driver) unless a GPU is there
if "$neco" encode "$small_src" "$tmp/x.neco" --backend cuda 2>"$tmp/stderr"; then
  ok; rm -f "$tmp/x.neco"
else
  expect 5 "$neco" encode "$small_src" "$tmp/x.neco" --backend cuda &&
    { grep -q "^neco: backend 'cuda'" "$tmp/stderr" && ok || bad "cuda refusal without its reason: $(cat "$tmp/stderr")"; }
fi
expect 1 "$neco" encode "$small_src" "$tmp/x.neco" --backend tpu
expect 6 "$neco" decode "$small" "$tmp/x.png" --max-pixels 1
[ -e "$tmp/x.neco" ] || [ -e "$tmp/x.png" ] && bad "an output was left behind by a failed run" || ok

# ---- truncation at every byte offset: exit 3, no output, an existing output untouched ----
printf 'keep me' >"$tmp/keep.png"
trunc_ok=1
for ((n = 0; n < size; n++)); do
  head -c "$n" "$small" >"$tmp/cut.neco"
  "$neco" decode "$tmp/cut.neco" "$tmp/keep.png" --quiet 2>"$tmp/stderr"
  rc=$?
  if [ $rc -ne 3 ] || [ "$(wc -l <"$tmp/stderr")" -ne 1 ]; then
    bad "truncated at $n: exit $rc: $(cat "$tmp/stderr")"
    trunc_ok=0
    break
  fi
done
[ $trunc_ok -eq 1 ] && ok
[ "$(cat "$tmp/keep.png")" = "keep me" ] && ok || bad "a failed decode clobbered the output"
leftovers=("$tmp"/.*.tmp-*)
[ ${#leftovers[@]} -eq 0 ] && ok || bad "temporary files left behind: ${leftovers[*]}"

# ---- every single bit flipped: exit 3 ----
flip_ok=1
for ((byte = 0; byte < size; byte++)); do
  orig=$(od -An -tu1 -j "$byte" -N1 "$small" | tr -d ' ')
  for bit in 0 1 2 3 4 5 6 7; do
    cp "$small" "$tmp/flip.neco"
    printf "$(printf '\\%03o' $((orig ^ (1 << bit))))" |
      dd of="$tmp/flip.neco" bs=1 seek="$byte" conv=notrunc status=none
    "$neco" decode "$tmp/flip.neco" "$tmp/flip.png" --quiet 2>"$tmp/stderr"
    rc=$?
    if [ $rc -ne 3 ] || [ "$(wc -l <"$tmp/stderr")" -ne 1 ]; then
      bad "bit $bit of byte $byte flipped: exit $rc: $(cat "$tmp/stderr")"
      flip_ok=0
      break 2
    fi
  done
done
[ $flip_ok -eq 1 ] && ok
[ -e "$tmp/flip.png" ] && bad "a failed decode left an output" || ok

# ---- --conceal: a corrupt tile is filled, with a one-line warning and exit 0 ----
cp "$small" "$tmp/conceal.neco"
printf '\377' | dd of="$tmp/conceal.neco" bs=1 seek=80 conv=notrunc status=none
expect 3 "$neco" decode "$tmp/conceal.neco" "$tmp/conceal.png"
"$neco" decode "$tmp/conceal.neco" "$tmp/conceal.png" --conceal --quiet 2>"$tmp/stderr"
rc=$?
[ $rc -eq 0 ] && grep -q "warning: concealed 1 of 1 tiles" "$tmp/stderr" && [ -s "$tmp/conceal.png" ] &&
  ok || bad "--conceal: exit $rc: $(cat "$tmp/stderr")"

# ---- decode -: the stream from stdin, audio decoded chunk by chunk as it arrives ----
# (issue 7: chunked coding). Through a pipe, the output is byte-identical to decoding the file.
stream_src=../samples/drums_120bpm_44k_stereo.flac # 4 s: 11 raw chunks, 2 aud-wave chunks
u32_at() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
for model in raw aud-wave; do
  s=$tmp/stream-$model.neco
  expect 0 "$neco" encode "$stream_src" "$s" --model $model --quiet || continue
  expect 0 "$neco" info "$s" && grep -Eq "^chunks: *([2-9]|1[0-9]) of" "$tmp/stdout" ||
    bad "$model: not a multi-chunk stream: $(grep chunks "$tmp/stdout")"
  for ext in wav flac; do
    expect 0 "$neco" decode "$s" "$tmp/file-$model.$ext" --quiet
    expect 0 "$neco" decode - "$tmp/pipe-$model.$ext" --quiet < <(cat "$s")
    cmp -s "$tmp/file-$model.$ext" "$tmp/pipe-$model.$ext" && ok ||
      bad "$model: decode - .$ext differs from decoding the file"
  done
done
# An image from stdin is read whole, then decoded as the file is.
expect 0 "$neco" decode - "$tmp/pipe-small.png" --quiet < <(cat "$small")
expect 0 "$neco" decode "$small" "$tmp/file-small.png" --quiet
cmp -s "$tmp/file-small.png" "$tmp/pipe-small.png" && ok || bad "decode - of an image differs"

# Failures through the pipe: exit 3, one line naming the chunk, no output, no temporary file.
s=$tmp/stream-raw.neco
size=$(stat -c %s "$s")
len0=$(u32_at "$s" 64)
len1=$(u32_at "$s" $((64 + 8 + len0)))
boundary=$((64 + 8 + len0 + 8 + len1)) # just after chunk 1
expect 3 "$neco" decode - "$tmp/sfail.wav" < <(head -c $((size - 1000)) "$s") &&
  grep -q "truncated file: chunk 10 claims" "$tmp/stderr" || bad "cut stream: $(cat "$tmp/stderr")"
expect 3 "$neco" decode - "$tmp/sfail.wav" < <(head -c $boundary "$s") &&
  grep -q "chunk 2 of 11 is missing" "$tmp/stderr" || bad "cut at a chunk: $(cat "$tmp/stderr")"
expect 3 "$neco" decode - "$tmp/sfail.wav" < <(head -c 40 "$s")
expect 3 "$neco" decode - "$tmp/sfail.wav" </dev/null
expect 3 "$neco" decode - "$tmp/sfail.wav" < <(cat "$s" "$s")
cp "$s" "$tmp/flipped.neco"
printf '\377' |
  dd of="$tmp/flipped.neco" bs=1 seek=$((64 + 8 + len0 + 100)) conv=notrunc status=none
expect 3 "$neco" decode - "$tmp/sfail.wav" < <(cat "$tmp/flipped.neco") &&
  grep -q "CRC mismatch in chunk 1" "$tmp/stderr" || bad "CRC: $(cat "$tmp/stderr")"
expect 1 "$neco" decode - "$tmp/sfail.png" < <(cat "$s") # audio decodes to .wav, ...
expect 5 "$neco" decode - "$tmp/sfail.wav" --weights "$tmp" < <(cat "$tmp/stream-aud-wave.neco")
leftovers=("$tmp"/sfail.* "$tmp"/.sfail.*)
[ ${#leftovers[@]} -eq 0 ] && ok || bad "a failed decode - left files: ${leftovers[*]}"

# --conceal: a stream cut at a chunk boundary decodes up to the cut, then silence, as the cut
# file does.
head -c $boundary "$s" >"$tmp/cut.neco"
"$neco" decode - "$tmp/conceal-pipe.wav" --conceal --quiet < <(cat "$tmp/cut.neco") 2>"$tmp/stderr"
rc=$?
[ $rc -eq 0 ] && grep -q "warning: concealed 9 of 11 chunks" "$tmp/stderr" && ok ||
  bad "--conceal cut stream: exit $rc: $(cat "$tmp/stderr")"
expect 0 "$neco" decode "$tmp/cut.neco" "$tmp/conceal-file.wav" --conceal --quiet
cmp -s "$tmp/conceal-pipe.wav" "$tmp/conceal-file.wav" && ok ||
  bad "--conceal: pipe and file differ"
silent=$((176400 * 4 - 2 * len0)) # the bytes of chunks 2..10 (16-bit stereo)
whole=$(stat -c %s "$tmp/file-raw.wav")
cmp -s -n $((whole - silent)) "$tmp/conceal-pipe.wav" "$tmp/file-raw.wav" && ok ||
  bad "--conceal: the chunks before the cut differ"
[ "$(tail -c $silent "$tmp/conceal-pipe.wav" | tr -d '\0' | wc -c)" -eq 0 ] && ok ||
  bad "--conceal: the chunks after the cut are not silence"

# Decoding starts before the stream ends: fed the header and chunk 0, then nothing, the
# decoder has already written chunk 0's samples to its temporary output.
mkfifo "$tmp/fifo"
"$neco" decode - "$tmp/live.wav" --quiet <"$tmp/fifo" 2>"$tmp/live.err" &
pid=$!
exec 3>"$tmp/fifo"
head -c $((64 + 8 + len0 + 4)) "$s" >&3 # and the next chunk's length field
live=0
for ((k = 0; k < 300; k++)); do
  part=("$tmp"/.live.wav.tmp-*)
  if [ ${#part[@]} -eq 1 ] && [ "$(stat -c %s "${part[0]}")" -gt "$len0" ]; then
    live=1
    break
  fi
  sleep 0.1
done
[ $live -eq 1 ] && [ ! -e "$tmp/live.wav" ] && ok ||
  bad "decode - wrote nothing before the stream ended"
tail -c +$((64 + 8 + len0 + 5)) "$s" >&3
exec 3>&-
wait $pid
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/live.wav" "$tmp/file-raw.wav" && ok ||
  bad "decode - from a fifo: exit $rc: $(cat "$tmp/live.err")"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
