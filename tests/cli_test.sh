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
expect 5 "$neco" encode "$small_src" "$tmp/x.neco" --backend cuda
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

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
