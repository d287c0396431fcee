#!/usr/bin/env bash
# Builds an FFmpeg 5.1 with neco's filters (vf "neco", af "aneco") linked against an installed
# libneco. FFmpeg cannot load filters at run time, so this is how out-of-tree filters ship:
# the sources (vf_neco.c, af_neco.c), a patch that registers them (neco-ffmpeg-5.1.patch:
# libavfilter/allfilters.c, libavfilter/Makefile and configure's --enable-libneco, found with
# pkg-config), and this script.
#
#   apps/ffmpeg/build-ffmpeg.sh [options]
#     --neco-prefix DIR  where neco is installed (cmake --install BUILD --prefix DIR); its
#                        lib/pkgconfig/neco.pc is put first on PKG_CONFIG_PATH and its lib/ is
#                        the binaries' run path. Default: whatever pkg-config finds.
#     --workdir DIR      where the FFmpeg source is fetched and built (default ./ffmpeg-neco)
#     --source PATH      use this FFmpeg source (an unpacked tree or a .tar.xz/.tar.gz/.tar.bz2)
#                        instead of fetching Debian's
#     --suite NAME       Debian suite to fetch the source from (default bookworm: FFmpeg 5.1)
#     --full             configure FFmpeg's default component set instead of the minimal one
#     --jobs N           make -jN (default 2)
#
# Fetching: Debian's source package of ffmpeg, through a private apt configuration (its own
# sources.list with a deb-src line, its own lists and cache under WORKDIR/apt); the system's
# apt configuration is not touched. The upstream tarball in it (ffmpeg_X.orig.tar.xz) is used
# as it is, without Debian's patches. Needs http access to deb.debian.org.
#
# The result: WORKDIR/ffmpeg-X/ffmpeg and ffprobe (run them from there, or `make install`).
# The minimal build holds what neco's CI test needs plus the usual image/audio formats:
# PNG, WAV (s16/s24/s32/f32), raw video, the neco, aneco, metadata, format, scale and aresample
# filters, the file and pipe protocols, the image2, wav, null and md5 muxers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
neco_prefix=
workdir=$PWD/ffmpeg-neco
source=
suite=bookworm
full=0
jobs=2
while [ $# -gt 0 ]; do
    case $1 in
    --neco-prefix) neco_prefix=$(cd "$2" && pwd); shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --full) full=1; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "build-ffmpeg.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

if [ -n "$neco_prefix" ]; then
    for d in "$neco_prefix"/lib*/pkgconfig; do
        export PKG_CONFIG_PATH="$d${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    done
fi
if ! pkg-config --exists neco; then
    echo "build-ffmpeg.sh: pkg-config does not find neco (install it, or give --neco-prefix)" >&2
    exit 1
fi
neco_libdir=$(cd "$(pkg-config --variable=libdir neco)" && pwd)

# ---- 1. the source ------------------------------------------------------------------------
t0=$(now)
if [ -z "$source" ]; then
    apt_dir=$workdir/apt
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    cat >"$apt_dir/sources.list" <<EOF
deb-src [signed-by=$keyring] http://deb.debian.org/debian $suite main
EOF
    if [ "$suite" = bookworm ] || [ "$suite" = bullseye ]; then
        echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian-security $suite-security main" \
            >>"$apt_dir/sources.list"
    fi
    apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
              -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
              -o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)")
    apt-get -q "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 ||
        { cat "$apt_dir/update.log" >&2; exit 1; }
    version=$(apt-cache "${apt_opts[@]}" showsrc ffmpeg | awk '/^Version:/ { print $2 }' |
              sort -V | tail -n 1)
    [ -n "$version" ] || { echo "build-ffmpeg.sh: no ffmpeg source in $suite" >&2; exit 1; }
    upstream=${version#*:}
    upstream=${upstream%-*}
    tarball=$(ls "$workdir"/ffmpeg_"$upstream".orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1 || true)
    if [ -z "$tarball" ]; then
        # apt checks the files against the signed Sources index (hashes) while downloading.
        (cd "$workdir" && apt-get -q "${apt_opts[@]}" source --download-only "ffmpeg=$version") \
            >"$apt_dir/source.log" 2>&1 || { cat "$apt_dir/source.log" >&2; exit 1; }
        tarball=$(ls "$workdir"/ffmpeg_"$upstream".orig.tar.* | grep -v '\.asc$' | head -n 1)
    fi
    echo "== FFmpeg source: Debian $suite ffmpeg $version ($(basename "$tarball"))"
    source=$tarball
fi
if [ -d "$source" ]; then
    src=$(cd "$source" && pwd)
else
    name=$({ tar tf "$source" 2>/dev/null || true; } | head -n 1)
    name=${name%%/*}
    src=$workdir/$name
    if [ ! -f "$src/.neco-patched" ]; then
        rm -rf "$src"
        tar xf "$source" -C "$workdir"
    fi
fi
[ -x "$src/configure" ] && [ -f "$src/libavfilter/allfilters.c" ] ||
    { echo "build-ffmpeg.sh: $src is not an FFmpeg source tree" >&2; exit 1; }
echo "== fetch and unpack: $(took "$t0")"

# ---- 2. the filters and the patch ---------------------------------------------------------
cp "$here/vf_neco.c" "$here/af_neco.c" "$src/libavfilter/"
if [ ! -f "$src/.neco-patched" ]; then
    # --fuzz=0: the patch must apply exactly (same context lines), not approximately.
    patch -d "$src" -p1 --forward --fuzz=0 --no-backup-if-mismatch <"$here/neco-ffmpeg-5.1.patch"
    touch "$src/.neco-patched"
fi

# ---- 3. configure ---------------------------------------------------------------------------
config=(--enable-libneco --disable-doc --disable-ffplay --disable-debug
        --extra-ldflags="-Wl,-rpath,$neco_libdir")
if [ "$full" = 1 ] && ! command -v nasm >/dev/null; then
    config+=(--disable-x86asm)
fi
if [ "$full" = 0 ]; then
    # No nasm needed: plain C (--disable-x86asm --disable-inline-asm). Both, not only the
    # first: FFmpeg 5.1.9 with inline asm but without x86asm scales rgb24 to gray to garbage
    # (scale=203:117,format=gray; measured here, not with -cpuflags 0). Nothing autodetected, so
    # the result does not depend on which -dev packages happen to be installed.
    config+=(--disable-everything --disable-autodetect --disable-x86asm --disable-inline-asm
             --disable-network
             --enable-zlib --enable-pthreads
             --enable-filter=neco,aneco,metadata,ametadata,format,aformat,scale,aresample,null,anull,atrim,trim
             --enable-decoder=png,rawvideo,pcm_s16le,pcm_s24le,pcm_s32le,pcm_f32le
             --enable-encoder=png,rawvideo,wrapped_avframe,pcm_s16le,pcm_s24le,pcm_s32le,pcm_f32le
             --enable-demuxer=image2,png_pipe,wav
             --enable-muxer=image2,wav,null,md5,framemd5
             --enable-parser=png
             --enable-protocol=file,pipe)
fi
t0=$(now)
stamp="${config[*]}"
if [ ! -f "$src/ffbuild/config.mak" ] || [ "$(cat "$src/.neco-config" 2>/dev/null)" != "$stamp" ]; then
    (cd "$src" && ./configure "${config[@]}") >"$workdir/configure.log" 2>&1 ||
        { tail -n 30 "$workdir/configure.log" >&2; tail -n 30 "$src/ffbuild/config.log" >&2; exit 1; }
    echo "$stamp" >"$src/.neco-config"
fi
grep -q '^CONFIG_NECO_FILTER=yes' "$src/ffbuild/config.mak" &&
    grep -q '^CONFIG_ANECO_FILTER=yes' "$src/ffbuild/config.mak" ||
    { echo "build-ffmpeg.sh: configure did not enable the neco filters" >&2; exit 1; }
echo "== configure: $(took "$t0")"

# ---- 4. build -------------------------------------------------------------------------------
t0=$(now)
make -C "$src" -j"$jobs" ffmpeg ffprobe >"$workdir/make.log" 2>&1 ||
    { tail -n 40 "$workdir/make.log" >&2; exit 1; }
echo "== build (make -j$jobs): $(took "$t0")"
"$src/ffmpeg" -hide_banner -h filter=neco >/dev/null
echo "== done: $src/ffmpeg (filters neco and aneco; libneco from $neco_libdir)"
