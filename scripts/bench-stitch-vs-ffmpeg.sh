#!/usr/bin/env bash
# Benchmarks `callvault join` against ffmpeg on the same legs, as whole
# processes (wall time and peak RSS from /usr/bin/time), and prints a table
# with the ratios. The targets come from issue 4:
#   lossless: 20 legs × 10 min at 8 kHz / 32 kbps MP3, callvault ≥ 3× faster
#             than `ffmpeg -f concat -safe 0 -i LIST -c copy OUT`, peak RSS ≤ 16 MB;
#   re-encode: mixed 8 / 16 / 44.1 kHz legs, callvault no slower than ffmpeg's
#             decode + libmp3lame re-encode to the same rate and bitrate, RSS ≤ 64 MB.
#
# Usage: scripts/bench-stitch-vs-ffmpeg.sh [RUNS]        (default RUNS=5;
#        RUNS=0 only generates the legs)
# Env:   BENCH_DIR (default target/bench-stitch): legs and outputs; legs are
#        generated once and reused.  CALLVAULT: a prebuilt binary (skips the build).
set -euo pipefail

RUNS="${1:-5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${BENCH_DIR:-$ROOT/target/bench-stitch}"
export DEBIAN_FRONTEND=noninteractive

need_apt=()
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
[ -x /usr/bin/time ] || need_apt+=(time)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "installing ${need_apt[*]}" >&2
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -z "${CALLVAULT:-}" ] && [ "$RUNS" != 0 ]; then
    (cd "$ROOT" && cargo build --release --locked -p callvault --bin callvault)
    CALLVAULT="$ROOT/target/release/callvault"
fi

mkdir -p "$DIR/lossless" "$DIR/mixed" "$DIR/out"

# Speech-like material: a tone plus pink noise, different per leg, so the
# encoder has real work (pure digital silence would be unrealistically cheap).
gen() { # out rate bitrate seconds tone_hz
    [ -s "$1" ] && return 0
    ffmpeg -v error -y \
        -f lavfi -i "sine=frequency=$5:sample_rate=$2:duration=$4" \
        -f lavfi -i "anoisesrc=color=pink:amplitude=0.08:sample_rate=$2:duration=$4:seed=$5" \
        -filter_complex "[0][1]amix=inputs=2:normalize=0,volume=0.5" \
        -ac 1 -ar "$2" -c:a libmp3lame -b:a "$3" "$1.tmp.mp3"
    mv "$1.tmp.mp3" "$1"
}

echo "generating legs in $DIR (once)" >&2
lossless=()
for i in $(seq -w 1 20); do
    f="$DIR/lossless/leg$i.mp3"
    gen "$f" 8000 32k 600 $((200 + 10#$i * 37))
    lossless+=("$f")
done
mixed=()
rates=(8000 16000 44100 8000 16000 44100)
kbps=(32k 48k 64k 32k 48k 64k)
for i in 0 1 2 3 4 5; do
    f="$DIR/mixed/leg$i-${rates[$i]}.mp3"
    gen "$f" "${rates[$i]}" "${kbps[$i]}" 600 $((300 + i * 53))
    mixed+=("$f")
done

concat_list() { # out files...
    local out="$1"
    shift
    : >"$out"
    for f in "$@"; do printf "file '%s'\n" "$f" >>"$out"; done
}
concat_list "$DIR/lossless.txt" "${lossless[@]}"
concat_list "$DIR/mixed.txt" "${mixed[@]}"
[ "$RUNS" = 0 ] && exit 0

# measure NAME cmd... : runs the command RUNS times (after one warm-up run),
# prints "median_wall_s median_peak_rss_kb".
measure() {
    local name="$1"
    shift
    local walls=() rss=()
    "$@" >/dev/null 2>&1 # warm-up (page cache)
    for _ in $(seq 1 "$RUNS"); do
        /usr/bin/time -f '%e %M' -o "$DIR/time.$name" "$@" >/dev/null 2>&1
        read -r w m <"$DIR/time.$name"
        walls+=("$w")
        rss+=("$m")
    done
    local mw mr
    mw=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    mr=$(printf '%s\n' "${rss[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$mw $mr"
}

duration() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }

echo "measuring ($RUNS runs each, median)" >&2
read -r cv_l_w cv_l_m < <(measure cv_lossless "$CALLVAULT" join "${lossless[@]}" -o "$DIR/out/cv-lossless.mp3")
read -r ff_l_w ff_l_m < <(measure ff_lossless ffmpeg -v error -y -f concat -safe 0 -i "$DIR/lossless.txt" -c copy "$DIR/out/ff-lossless.mp3")
# Same target for both: callvault re-encodes to the highest input rate capped
# at 16 kHz, mono, 48 kbps CBR (LAME), so ffmpeg gets -ar 16000 -ac 1 -b:a 48k.
read -r cv_r_w cv_r_m < <(measure cv_reencode "$CALLVAULT" join --format mp3 "${mixed[@]}" -o "$DIR/out/cv-reencode.mp3")
read -r ff_r_w ff_r_m < <(measure ff_reencode ffmpeg -v error -y -f concat -safe 0 -i "$DIR/mixed.txt" -ac 1 -ar 16000 -c:a libmp3lame -b:a 48k "$DIR/out/ff-reencode.mp3")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "inf" }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs, median"
printf '%-10s | %-9s | %10s | %10s | %12s | %12s\n' case tool wall_s rss_MB ffmpeg/ours output_s
printf '%-10s | %-9s | %10s | %10s | %12s | %12s\n' lossless callvault "$cv_l_w" "$(mb "$cv_l_m")" "$(ratio "$cv_l_w" "$ff_l_w")x" "$(duration "$DIR/out/cv-lossless.mp3")"
printf '%-10s | %-9s | %10s | %10s | %12s | %12s\n' lossless ffmpeg "$ff_l_w" "$(mb "$ff_l_m")" "1.00x" "$(duration "$DIR/out/ff-lossless.mp3")"
printf '%-10s | %-9s | %10s | %10s | %12s | %12s\n' reencode callvault "$cv_r_w" "$(mb "$cv_r_m")" "$(ratio "$cv_r_w" "$ff_r_w")x" "$(duration "$DIR/out/cv-reencode.mp3")"
printf '%-10s | %-9s | %10s | %10s | %12s | %12s\n' reencode ffmpeg "$ff_r_w" "$(mb "$ff_r_m")" "1.00x" "$(duration "$DIR/out/ff-reencode.mp3")"
echo
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "MISSED"; fi; }
echo "lossless ≥3× faster than ffmpeg: $(verdict "$ff_l_w >= 3 * $cv_l_w")  (ratio $(ratio "$cv_l_w" "$ff_l_w"))"
echo "lossless peak RSS ≤ 16 MB:       $(verdict "$cv_l_m <= 16384")  ($(mb "$cv_l_m") MB)"
echo "re-encode no slower than ffmpeg: $(verdict "$ff_r_w >= $cv_r_w")  (ratio $(ratio "$cv_r_w" "$ff_r_w"))"
echo "re-encode peak RSS ≤ 64 MB:      $(verdict "$cv_r_m <= 65536")  ($(mb "$cv_r_m") MB)"
