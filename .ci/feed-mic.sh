#!/usr/bin/env bash
# Queue audio clips for the virtual microphone set up by .ci/virtual-audio.sh.
#
#   .ci/feed-mic.sh [--wait] [--clear] [CLIP.wav ...]
#
# Each CLIP (any format/rate/channels sox reads) is converted to s16le 16 kHz mono and queued;
# the microphone writer plays queued clips in order at real time, silence otherwise.
# A clip plays while a capture stream is running; queued while none runs, it waits for the next.
#   --clear  discard queued clips and the one playing (do this before queueing to start fresh)
#   --wait   return only after the clips given here have been fully sent (timeout:
#            FEED_MIC_TIMEOUT seconds, default 60, then the queue is cleared and it fails;
#            a clip cannot finish while nothing captures)
# Returns at once otherwise. Uses TRANSFERENCE_AUDIO_DIR / XDG_RUNTIME_DIR like virtual-audio.sh.
set -euo pipefail

dir="${TRANSFERENCE_AUDIO_DIR:-${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}/transference-audio}"
spool="$dir/spool"
pidfile="$dir/mic-writer.pid"
rate="${TRANSFERENCE_MIC_RATE:-16000}"

die() { printf 'feed-mic: ERROR: %s\n' "$*" >&2; exit 1; }

writer_pid() {
    local pid st cmd
    pid="$(cat "$pidfile" 2>/dev/null)" || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    st="$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [ "$st" != Z ] || return 1
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    case "$cmd" in *mic-writer.py*) echo "$pid" ;; *) return 1 ;; esac
}

wait_for=0
clear=0
clips=()
for a in "$@"; do
    case "$a" in
        --wait) wait_for=1 ;;
        --clear) clear=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) die "unknown option $a" ;;
        *) clips+=("$a") ;;
    esac
done

pid="$(writer_pid)" || die "microphone writer not running (source .ci/virtual-audio.sh first; dir $dir)"

clear_queue() {
    rm -f "$spool"/*.raw
    : >"$spool/.clear-request"
    kill -USR1 "$pid"
    # The writer drops the playing clip, empties the pipe, then deletes the request file.
    for _ in $(seq 1 100); do
        [ -e "$spool/.clear-request" ] || return 0
        sleep 0.02
    done
    die "microphone writer did not acknowledge --clear"
}

[ "$clear" = 1 ] && clear_queue

queued=()
n=0
for clip in "${clips[@]}"; do
    [ -r "$clip" ] || die "cannot read $clip"
    n=$((n + 1))
    base="$spool/$(date +%s%N)-$$-$n"
    sox -q "$clip" -t raw -e signed-integer -b 16 -c 1 -L "$base.tmp" rate -v "$rate" \
        || { rm -f "$base.tmp"; die "sox could not convert $clip"; }
    mv "$base.tmp" "$base.raw"
    queued+=("$base")
done

if [ "$wait_for" = 1 ] && [ "${#queued[@]}" -gt 0 ]; then
    deadline=$(( $(date +%s) + ${FEED_MIC_TIMEOUT:-60} ))
    for base in "${queued[@]}"; do
        while [ -e "$base.raw" ] || [ -e "$base.playing" ]; do
            if [ "$(date +%s)" -ge "$deadline" ]; then
                clear_queue  # leave no stale clip for the next capture
                die "timed out waiting for $base to play (is anything capturing?); queue cleared"
            fi
            sleep 0.05
        done
    done
fi
