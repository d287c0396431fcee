#!/usr/bin/env bash
# Makes the fixtures of tests/test_avinput.c with Debian 12's ffmpeg (5.1.9), from the CC0 photo
# samples/chelsea.png. Run from this folder; the files are committed, so tests never need ffmpeg.
set -euo pipefail
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
src=../../../samples/chelsea.png
ff -i "$src" -vf scale=64:48 -pix_fmt rgb24 ref.png                       # the reference picture
ff -i ref.png -pix_fmt gray16be ref16.png                                # its 16-bit gray twin
ff -i ref.png -q:v 2 -pix_fmt yuvj420p ref.jpg                           # JPEG, 4:2:0
ff -i ref.png -c:v libwebp -lossless 1 ref.webp                          # lossless WebP (ARGB)
ff -i ref16.png -pix_fmt gray16le ref16.tif                              # 16-bit gray TIFF
ff -i ref.png -vf "split[a][b];[a]palettegen[p];[b][p]paletteuse" ref.gif  # palette, opaque
# five frames of video (MPEG-4 part 2): the picture fading in from black, so frames differ
ff -loop 1 -i ref.png -vf "fade=t=in:s=0:n=4,format=yuv420p" -frames:v 5 \
   -c:v mpeg4 -q:v 2 clip.mp4
# half a second of a 440 Hz tone: MP3 (LAME, gapless header), Opus, AAC in MP4, 24-bit PCM in
# Matroska, and an MP3 with the picture as cover art
ff -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=0.5" -c:a libmp3lame -b:a 64k tone.mp3
ff -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=0.5" -ac 2 -c:a libopus -b:a 48k tone.opus
ff -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=0.5" -c:a aac -b:a 64k tone.m4a
ff -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=0.1" -c:a pcm_s24le tone24.mka
ff -i tone.mp3 -i ref.jpg -map 0:a -map 1:v -c copy -disposition:v attached_pic \
   -id3v2_version 3 cover.mp3
printf 'not a media file\n' >not-media.txt
