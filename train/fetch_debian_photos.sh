#!/bin/sh
# Fetch extra training photos from Debian packages (no installation: apt-get download +
# dpkg -x) into train/data/debian/<package>/ (git-ignored).  Sources and licences:
# ../shared/data/README.md.  Use them with
#   python3 train/prepare_data.py --extra train/data/debian/python3-skimage/usr/lib/python3/dist-packages/skimage/data \
#                                 --extra train/data/debian/lomiri-wallpapers-16.04 ...
#
#   sh train/fetch_debian_photos.sh [PACKAGE ...]
# Default packages: python3-skimage (CC0 / public-domain test photos, lossless) and
# lomiri-wallpapers-16.04 (CC-BY / CC-BY-SA / CC0 per file, JPEG: prepare_data.py downscales).
set -eu
DIR=$(cd "$(dirname "$0")" && pwd)/data/debian
[ $# -gt 0 ] || set -- python3-skimage lomiri-wallpapers-16.04
mkdir -p "$DIR"
for pkg in "$@"; do
    if [ -d "$DIR/$pkg" ]; then echo "have $pkg"; continue; fi
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "$pkg")
    dpkg -x "$tmp"/*.deb "$DIR/$pkg"
    rm -rf "$tmp"
    echo "unpacked $pkg: $(find "$DIR/$pkg" -iname '*.jpg' -o -iname '*.png' -o -iname '*.jpeg' | wc -l) images"
done
