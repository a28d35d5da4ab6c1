#!/usr/bin/env bash
# Synthetic DASH test media for the player end-to-end test.
#
#   scripts/player/make-media.sh DIR
#
# Writes DIR/manifest.mpd plus fMP4 init/media segments: a 150 s clip (longer than the test plays) of
# ffmpeg's `testsrc2` pattern (25 fps, a burnt-in running clock) with a
# `sine` tone, as three H.264 video renditions (216p ~300 kb/s, 360p
# ~800 kb/s, 540p ~1500 kb/s, constant bitrate so the nominal bandwidths in the
# manifest are what is on the wire) and one AAC-LC stereo audio track at
# 64 kb/s, in 2 s segments (SegmentTemplate with $Number$, no timeline).
# The same segments are also listed as HLS (DIR/master.m3u8, fMP4), for
# trying hls.js against the same media.
#
# Fast (ultrafast preset, small pictures: ~15 s on two cores) and idempotent:
# it does nothing when DIR/manifest.mpd is newer than this script. Never
# commit its output: generate it into a temporary directory or target/.
# Installs Debian's ffmpeg when it is missing (as root, like test.sh does for
# its tools).
set -euo pipefail

DIR=${1:?usage: make-media.sh DIR}
DURATION=${MEDIA_DURATION:-150}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

if [[ -f "$DIR/manifest.mpd" && "$DIR/manifest.mpd" -nt "$SELF" && -z "${MEDIA_FORCE:-}" ]]; then
  echo "make-media: $DIR/manifest.mpd is up to date"
  exit 0
fi

if ! command -v ffmpeg >/dev/null 2>&1; then
  echo "make-media: installing Debian's ffmpeg" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "make-media: ffmpeg is missing and this is not root: apt-get install ffmpeg" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq ffmpeg >/dev/null
fi

mkdir -p "$DIR"
# Remove a previous (older) generation so renamed segments do not linger.
rm -f "$DIR"/manifest.mpd "$DIR"/*.m3u8 "$DIR"/init-*.m4s "$DIR"/chunk-*.m4s

# Renditions: height, width, bitrate. CBR-ish: -b:v = -maxrate, bufsize one
# second, so the MPD's @bandwidth (ffmpeg writes -b:v) matches the segments.
HEIGHTS=(216 360 540)
WIDTHS=(384 640 960)
RATES=(300k 800k 1500k)

args=(-hide_banner -loglevel error -y
  -f lavfi -i "testsrc2=size=960x540:rate=25:duration=$DURATION"
  -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=$DURATION")

n=${#HEIGHTS[@]}
split="[0:v]split=$n"
for ((i = 0; i < n; i++)); do split+="[v$i]"; done
filters="$split"
for ((i = 0; i < n; i++)); do
  filters+=";[v$i]scale=${WIDTHS[$i]}:${HEIGHTS[$i]},setsar=1[o$i]"
done
args+=(-filter_complex "$filters")

for ((i = 0; i < n; i++)); do
  args+=(-map "[o$i]")
done
args+=(-map 1:a)

args+=(-c:v libx264 -preset ultrafast -tune zerolatency -profile:v main -pix_fmt yuv420p
  -g 50 -keyint_min 50 -sc_threshold 0 -bf 0)
for ((i = 0; i < n; i++)); do
  r=${RATES[$i]}
  args+=(-b:v:$i "$r" -maxrate:v:$i "$r" -minrate:v:$i "$r" -bufsize:v:$i "$r")
done
args+=(-c:a aac -b:a 64k -ac 2 -ar 48000)

args+=(-f dash -seg_duration 2 -use_template 1 -use_timeline 0 -hls_playlist 1
  -adaptation_sets "id=0,streams=v id=1,streams=a"
  -init_seg_name 'init-$RepresentationID$.m4s'
  -media_seg_name 'chunk-$RepresentationID$-$Number%05d$.m4s'
  "$DIR/manifest.mpd")

start=$(date +%s)
ffmpeg "${args[@]}"
echo "make-media: wrote $DIR/manifest.mpd ($(du -sh "$DIR" | cut -f1), $(($(date +%s) - start)) s)"
