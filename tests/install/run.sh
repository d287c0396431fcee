#!/usr/bin/env bash
# Installs neco from BUILD into a temporary prefix, then builds a consumer against it with
# CMake's find_package(neco), with pkg-config (shared) and with pkg-config --static (static),
# and runs each.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/neco/neco.h"
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n1)
# CMake package, shared library.
cmake -S "$here" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cmake/consumer"
# pkg-config: shared library, then the static one with its private dependencies.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -o "$tmp/shared" "$here/consumer.c" $(pkg-config --cflags --libs neco)
LD_LIBRARY_PATH="$libdir" "$tmp/shared"
private=$(pkg-config --static --libs-only-l neco | sed 's/-lneco\b//')
cc -std=c11 -o "$tmp/static" "$here/consumer.c" $(pkg-config --cflags neco) "$libdir/libneco.a" $private
"$tmp/static"
