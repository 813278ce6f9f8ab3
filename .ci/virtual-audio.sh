#!/usr/bin/env bash
# Virtual audio for headless CI: a PulseAudio daemon (no dbus, works as root) with
#   * output: null sink "transference_null" (default sink; real-time clock, discards audio), kept
#             at low latency by a silent `pacat` stream so new playback streams start at once
#   * input:  pipe source "transference_mic" (default source; s16le, 16000 Hz, mono) fed from a FIFO
#             by a small background writer that sends silence, or the clips queued with
#             .ci/feed-mic.sh, paced at real time.
# ALSA programs (cpal's ALSA host, aplay/arecord) reach it through the ALSA devices "default" and
# "pulse" (libasound2-plugins).
#
# Use it either way (idempotent; a second run only repairs what is missing):
#   source .ci/virtual-audio.sh                    # exports the variables into this shell
#   eval "$(.ci/virtual-audio.sh)"                 # executed: prints `export ...` lines on stdout
# Safe to source under `set -euo pipefail`: on success it returns 0 and leaves the shell options
# alone; on failure it prints "virtual-audio: ERROR ..." to stderr and returns non-zero.
# `.ci/virtual-audio.sh --stop` stops the daemon and the writer.
#
# Exported: XDG_RUNTIME_DIR (kept if already set, else /tmp/xdg-runtime-$UID), PULSE_SERVER,
# TRANSFERENCE_AUDIO_DIR, TRANSFERENCE_MIC_FIFO, TRANSFERENCE_MIC_SPOOL, TRANSFERENCE_MIC_RATE.
#
# Microphone semantics: PulseAudio's pipe source only reads its FIFO while a capture stream is
# running and blocks capture when nobody writes, so the writer always writes (silence by default).
# The pipe is shrunk to 4 KiB, so a capture that starts sees at most ~128 ms of stale silence.
# A queued clip starts at the next 20 ms boundary while a capture runs; queued while no capture
# runs, it waits (is not dropped) until a capture starts; `feed-mic.sh --clear` discards queued
# and playing clips and empties the pipe. A capture stopped mid-clip resumes the rest next time.
# ALSA reads its config once per process (cpal: when the first Host is created) and makes
# "default" PulseAudio only if the daemon answers then: run this before starting the program.
# A clip is raw s16le 16 kHz mono in $TRANSFERENCE_MIC_SPOOL/NAME.raw (write NAME.tmp, then
# rename); the writer renames it NAME.playing while sending it and deletes it when done.

_va_log() { printf 'virtual-audio: %s\n' "$*" >&2; }
_va_err() { printf 'virtual-audio: ERROR: %s\n' "$*" >&2; }

_va_setup_vars() {
    _va_uid="$(id -u)"
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-${_va_uid}}"
    export TRANSFERENCE_AUDIO_DIR="${TRANSFERENCE_AUDIO_DIR:-${XDG_RUNTIME_DIR}/transference-audio}"
    export TRANSFERENCE_MIC_FIFO="${TRANSFERENCE_AUDIO_DIR}/mic.fifo"
    export TRANSFERENCE_MIC_SPOOL="${TRANSFERENCE_AUDIO_DIR}/spool"
    export TRANSFERENCE_MIC_RATE=16000
    export PULSE_SERVER="unix:${XDG_RUNTIME_DIR}/pulse/native"
    _va_sink=transference_null
    _va_source=transference_mic
    _va_writer_pid="${TRANSFERENCE_AUDIO_DIR}/mic-writer.pid"
    _va_writer_py="${TRANSFERENCE_AUDIO_DIR}/mic-writer.py"
    _va_keepalive_pid="${TRANSFERENCE_AUDIO_DIR}/sink-keepalive.pid"
}

# pactl with a timeout, so a wedged daemon cannot hang the caller.
_va_pactl() { timeout 10 pactl "$@"; }

_va_python() {
    if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi
}

_va_install_missing() {
    local need=() c f
    command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
    command -v pactl >/dev/null 2>&1 || need+=(pulseaudio-utils)
    command -v sox >/dev/null 2>&1 || need+=(sox)
    command -v aplay >/dev/null 2>&1 || need+=(alsa-utils)
    command -v python3 >/dev/null 2>&1 || [ -x /usr/bin/python3 ] || need+=(python3)
    c=""
    for f in /usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so /usr/lib/alsa-lib/libasound_module_pcm_pulse.so; do
        if [ -e "$f" ]; then c="$f"; fi
    done
    [ -n "$c" ] || need+=(libasound2-plugins)
    [ "${#need[@]}" -eq 0 ] && return 0
    if [ "${VIRTUAL_AUDIO_NO_INSTALL:-}" = 1 ] || ! command -v apt-get >/dev/null 2>&1; then
        _va_err "missing packages: ${need[*]} (install them; VIRTUAL_AUDIO_NO_INSTALL=1 or no apt-get)"
        return 1
    fi
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    _va_log "installing ${need[*]}"
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
        _va_err "apt-get install ${need[*]} failed"
        return 1
    fi
}

_va_daemon_up() { _va_pactl info >/dev/null 2>&1; }

# Live (not zombie) process? This container's PID 1 does not reap orphans, so a killed daemon stays
# a zombie: kill -0 succeeds and PulseAudio's own pid-file check says "Daemon already running".
_va_pid_live() {
    local st
    [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
    st="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# Called when no daemon answers: clear a stale pid file, or stop our own wedged daemon.
_va_clear_stale_daemon() {
    local pidfile="${XDG_RUNTIME_DIR}/pulse/pid" pid cmd
    [ -f "$pidfile" ] || return 0
    pid="$(tr -dc '0-9' <"$pidfile" 2>/dev/null || true)"
    if _va_pid_live "$pid"; then
        cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
        case "$cmd" in
            *"${TRANSFERENCE_AUDIO_DIR}/daemon.pa"*)
                _va_log "our pulseaudio (pid $pid) does not answer; stopping it"
                kill "$pid" 2>/dev/null || true
                for _ in $(seq 1 30); do _va_pid_live "$pid" || break; sleep 0.1; done
                if _va_pid_live "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
                sleep 0.2 ;;
            *)
                _va_err "another pulseaudio (pid $pid: $cmd) holds ${XDG_RUNTIME_DIR}/pulse but does not answer"
                return 1 ;;
        esac
    fi
    rm -f "$pidfile"
}

_va_start_daemon() {
    local pa_conf="${TRANSFERENCE_AUDIO_DIR}/daemon.pa"
    _va_clear_stale_daemon || return 1
    # Only the native protocol; sink and source are added below with pactl (same path as repair).
    # auth-anonymous: clients need no cookie (tests may run with another $HOME).
    cat >"$pa_conf" <<'EOF'
.fail
load-module module-native-protocol-unix auth-anonymous=1
EOF
    # A FIFO left behind by a killed daemon makes module-pipe-source fail (it mkfifo()s the path).
    rm -f "$TRANSFERENCE_MIC_FIFO"
    _va_log "starting pulseaudio (log: ${TRANSFERENCE_AUDIO_DIR}/pulseaudio.log)"
    # Root: PulseAudio only warns ("not intended to be run as root"); --system is not needed.
    # -n -F: ignore /etc/pulse/default.pa (no hardware, no dbus, no X11 modules).
    if ! pulseaudio --daemonize=yes --use-pid-file=yes --system=false --exit-idle-time=-1 \
            -n -F "$pa_conf" --log-level=info \
            --log-target="file:${TRANSFERENCE_AUDIO_DIR}/pulseaudio.log" </dev/null >/dev/null 2>&1; then
        _va_err "pulseaudio failed to start; last log lines:"
        tail -n 20 "${TRANSFERENCE_AUDIO_DIR}/pulseaudio.log" >&2 2>/dev/null || true
        return 1
    fi
    for _ in $(seq 1 50); do
        _va_daemon_up && return 0
        sleep 0.1
    done
    _va_err "pulseaudio started but does not answer on ${PULSE_SERVER}"
    tail -n 20 "${TRANSFERENCE_AUDIO_DIR}/pulseaudio.log" >&2 2>/dev/null || true
    return 1
}

_va_has() { # _va_has sinks|sources NAME
    local list
    list="$(_va_pactl list short "$1" 2>/dev/null)" || return 1
    printf '%s\n' "$list" | awk -v n="$2" '$2 == n { found = 1 } END { exit !found }'
}

_va_ensure_devices() {
    _va_reloaded_source=0
    _va_reloaded_sink=0
    if ! _va_has sinks "$_va_sink"; then
        _va_reloaded_sink=1
        _va_pactl load-module module-null-sink sink_name="$_va_sink" rate=48000 channels=2 \
            sink_properties=device.description=Transference_null_output >/dev/null \
            || { _va_err "could not load module-null-sink"; return 1; }
    fi
    if ! _va_has sources "$_va_source"; then
        rm -f "$TRANSFERENCE_MIC_FIFO"
        _va_pactl load-module module-pipe-source source_name="$_va_source" \
            file="$TRANSFERENCE_MIC_FIFO" format=s16le rate="$TRANSFERENCE_MIC_RATE" channels=1 \
            source_properties=device.description=Transference_virtual_microphone >/dev/null \
            || { _va_err "could not load module-pipe-source"; return 1; }
        _va_reloaded_source=1
    fi
    _va_pactl set-default-sink "$_va_sink" || { _va_err "set-default-sink failed"; return 1; }
    _va_pactl set-default-source "$_va_source" || { _va_err "set-default-source failed"; return 1; }
    [ -p "$TRANSFERENCE_MIC_FIFO" ] || { _va_err "$TRANSFERENCE_MIC_FIFO is not a FIFO"; return 1; }
}

# An idle null sink renders up to 2 s ahead (its latency grows to the 2 s maximum when no stream
# asks for less), so a new stream (aplay, cpal) would first stall ~1-2 s, and cpal then reported
# snd_pcm_avail_delay EIO errors on drop. A permanent silent low-latency stream keeps the sink's
# latency at a few ms: playback starts at once.
_va_keepalive_alive() {
    local pid cmd
    pid="$(cat "$_va_keepalive_pid" 2>/dev/null)" || return 1
    _va_pid_live "$pid" || return 1
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    case "$cmd" in *pacat*transference-keepalive*) _va_keepalive_running_pid="$pid" ;; *) return 1 ;; esac
}

_va_stop_keepalive() {
    if _va_keepalive_alive; then
        kill "$_va_keepalive_running_pid" 2>/dev/null || true
    fi
    rm -f "$_va_keepalive_pid"
}

_va_sink_latency_usec() {
    local list
    list="$(_va_pactl list sinks 2>/dev/null)" || return 1
    printf '%s\n' "$list" | awk -v n="$_va_sink" '
        $1 == "Name:" { cur = ($2 == n) }
        cur && $1 == "Latency:" { print $2; found = 1; exit }
        END { exit !found }'
}

_va_ensure_keepalive() {
    local lat
    if [ "${_va_reloaded_sink:-0}" = 1 ]; then
        _va_stop_keepalive
    fi
    if ! _va_keepalive_alive; then
        command -v pacat >/dev/null 2>&1 || { _va_err "pacat (pulseaudio-utils) not found"; return 1; }
        rm -f "$_va_keepalive_pid"
        # shellcheck disable=SC2016  # $$ and $1.. expand in the inner sh
        setsid -f sh -c 'echo $$ >"$1" && exec pacat --playback --raw --format=s16le --rate=48000 \
                --channels=2 --latency-msec=40 --device="$2" --client-name=transference-keepalive \
                --stream-name=transference-keepalive /dev/zero' \
            sh "$_va_keepalive_pid" "$_va_sink" </dev/null >>"${TRANSFERENCE_AUDIO_DIR}/sink-keepalive.log" 2>&1
    fi
    # Wait until the sink's pre-rendered backlog (up to 2 s) has played out.
    for _ in $(seq 1 60); do
        lat="$(_va_sink_latency_usec)" || lat=""
        if _va_keepalive_alive && [ -n "$lat" ] && [ "$lat" -lt 200000 ]; then
            return 0
        fi
        sleep 0.05
    done
    _va_err "null sink keep-alive stream not working (sink latency ${lat:-?} us); log:"
    tail -n 20 "${TRANSFERENCE_AUDIO_DIR}/sink-keepalive.log" >&2 2>/dev/null || true
    return 1
}

_va_writer_alive() {
    local pid st
    [ -f "$_va_writer_pid" ] || return 1
    pid="$(cat "$_va_writer_pid" 2>/dev/null)" || return 1
    _va_pid_live "$pid" || return 1
    st="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    case "$st" in *mic-writer.py*) ;; *) return 1 ;; esac
    _va_writer_running_pid="$pid"
}

_va_stop_writer() {
    if _va_writer_alive; then
        kill "$_va_writer_running_pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$_va_writer_pid"
}

_va_write_writer_py() {
    cat >"$_va_writer_py" <<'EOF'
# Feeds the PulseAudio pipe source: silence, or queued clips (spool/*.raw, s16le mono), paced at
# real time in 20 ms chunks. Writes stall while no capture stream runs (the pipe source does not
# read then), so nothing is consumed or skipped while nobody listens.
# SIGUSR1 (feed-mic.sh --clear): drop the playing clip and drain what sits in the pipe, then
# delete spool/.clear-request as the acknowledgement.
import fcntl, os, select, signal, sys, time

fifo, spool, rate, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
CHUNK_S = 0.02
CHUNK = int(rate * CHUNK_S) * 2  # <= PIPE_BUF, so each non-blocking write is all or nothing
SILENCE = bytes(CHUNK)

# Neither open blocks: PulseAudio holds the FIFO open read-write.
fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
drain_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # only used to empty the pipe on --clear
try:
    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 4096)  # the minimum: at most ~128 ms of stale audio
except (OSError, AttributeError):
    pass
ino = os.fstat(fd).st_ino
with open(pidfile + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(pidfile + ".tmp", pidfile)

clear = False
def on_usr1(*_):
    global clear
    clear = True
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGHUP, signal.SIG_IGN)

def unlink(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass

def fifo_replaced():
    try:
        return os.stat(fifo).st_ino != ino
    except FileNotFoundError:
        return True

def write_chunk(chunk):
    """Write one chunk; False if a clear request came first. Exits if the FIFO was replaced."""
    last = time.monotonic()
    while not clear:
        try:
            os.write(fd, chunk)
            return True
        except BlockingIOError:
            select.select([], [fd], [], 0.05)
        except BrokenPipeError:
            sys.exit(0)
        now = time.monotonic()
        if now - last > 1.0:
            last = now
            if fifo_replaced():
                sys.exit(0)  # the pipe source was reloaded; a new writer takes over
    return False

cur, cur_path, pos = None, None, 0
next_t = time.monotonic()
last_check = next_t
while True:
    if clear:
        clear = False
        if cur_path:
            unlink(cur_path)
        cur, cur_path = None, None
        try:
            while os.read(drain_fd, 65536):
                pass
        except BlockingIOError:
            pass
        unlink(os.path.join(spool, ".clear-request"))
    if cur is None:
        try:
            names = sorted(n for n in os.listdir(spool) if n.endswith(".raw"))
        except FileNotFoundError:
            names = []
        for n in names:
            p = os.path.join(spool, n)
            playing = p[:-4] + ".playing"
            try:
                os.rename(p, playing)
                with open(playing, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if len(data) < 2:
                unlink(playing)
                continue
            cur, cur_path, pos = data, playing, 0
            break
    if cur is not None:
        chunk = cur[pos:pos + CHUNK]
        if len(chunk) < CHUNK:
            chunk += bytes(CHUNK - len(chunk))
    else:
        chunk = SILENCE
    if not write_chunk(chunk):
        continue
    if cur is not None:
        pos += CHUNK
        if pos >= len(cur):
            unlink(cur_path)
            cur, cur_path = None, None
    now = time.monotonic()
    next_t += CHUNK_S
    if next_t < now - 0.1:
        next_t = now  # we were stalled (nobody capturing): resume at real time, no burst
    elif next_t > now:
        time.sleep(next_t - now)
    if now - last_check > 1.0:
        last_check = now
        if fifo_replaced():
            sys.exit(0)
EOF
}

_va_ensure_writer() {
    local py
    if [ "${_va_reloaded_source:-0}" = 1 ]; then
        _va_stop_writer
    fi
    _va_writer_alive && return 0
    py="$(_va_python)" || { _va_err "python3 not found"; return 1; }
    mkdir -p "$TRANSFERENCE_MIC_SPOOL"
    rm -f "$_va_writer_pid"
    _va_write_writer_py
    # setsid -f: forked into its own session, so it is no job of the caller's shell (a bare `wait`
    # there does not hang on it) and outlives it; stdout/stderr go to a log, not to $(...) pipes.
    setsid -f "$py" "$_va_writer_py" "$TRANSFERENCE_MIC_FIFO" "$TRANSFERENCE_MIC_SPOOL" \
        "$TRANSFERENCE_MIC_RATE" "$_va_writer_pid" \
        </dev/null >>"${TRANSFERENCE_AUDIO_DIR}/mic-writer.log" 2>&1
    for _ in $(seq 1 50); do
        _va_writer_alive && return 0
        sleep 0.1
    done
    _va_err "microphone writer did not start; log:"
    tail -n 20 "${TRANSFERENCE_AUDIO_DIR}/mic-writer.log" >&2 2>/dev/null || true
    return 1
}

# ALSA "default" must be PulseAudio. Debian's libasound2-plugins ships
# /etc/alsa/conf.d/99-pulse.conf, which does that whenever a server answers at ALSA config load
# time; only when that is missing do we write a config (never overwriting an existing one).
_va_alsa_default_is_pulse() {
    local hints
    command -v aplay >/dev/null 2>&1 || return 2
    hints="$(aplay -L 2>/dev/null)" || return 1
    printf '%s\n' "$hints" | awk '/^default$/ { d = 1; next } d { if ($0 ~ /PulseAudio/) ok = 1; d = 0 } END { exit !ok }'
}

_va_ensure_alsa() {
    local rc=0 conf
    _va_alsa_default_is_pulse || rc=$?
    [ "$rc" -eq 0 ] && return 0
    if [ "$rc" -eq 2 ]; then
        _va_log "aplay not installed; cannot check that ALSA 'default' is PulseAudio"
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && [ ! -e /etc/asound.conf ]; then
        conf=/etc/asound.conf
    elif [ ! -e "${HOME:-/nonexistent}/.asoundrc" ]; then
        conf="${HOME:-/root}/.asoundrc"
    else
        _va_err "ALSA 'default' is not PulseAudio and /etc/asound.conf / ~/.asoundrc already exist"
        return 1
    fi
    _va_log "ALSA 'default' is not PulseAudio; writing $conf"
    cat >"$conf" <<'EOF'
# Written by .ci/virtual-audio.sh: route ALSA's default device to PulseAudio.
pcm.!default {
    type pulse
    hint { show on description "Playback/recording through the PulseAudio sound server" }
}
ctl.!default { type pulse }
pcm.pulse { type pulse hint { show on description "PulseAudio Sound Server" } }
ctl.pulse { type pulse }
EOF
    _va_alsa_default_is_pulse || { _va_err "ALSA 'default' still not PulseAudio after writing $conf"; return 1; }
}

_va_print_exports() {
    local v
    for v in XDG_RUNTIME_DIR PULSE_SERVER TRANSFERENCE_AUDIO_DIR TRANSFERENCE_MIC_FIFO \
             TRANSFERENCE_MIC_SPOOL TRANSFERENCE_MIC_RATE; do
        printf 'export %s=%q\n' "$v" "${!v}"
    done
}

_va_main() {
    _va_setup_vars
    _va_install_missing || return 1
    if ! { mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"; }; then
        _va_err "cannot create $XDG_RUNTIME_DIR"
        return 1
    fi
    mkdir -p "$TRANSFERENCE_AUDIO_DIR" "$TRANSFERENCE_MIC_SPOOL" \
        || { _va_err "cannot create $TRANSFERENCE_AUDIO_DIR"; return 1; }
    if ! _va_daemon_up; then
        _va_stop_writer
        _va_stop_keepalive
        _va_start_daemon || return 1
    fi
    _va_ensure_devices || return 1
    _va_ensure_keepalive || return 1
    _va_ensure_writer || return 1
    _va_ensure_alsa || return 1
    _va_log "ready: default sink $_va_sink (null), default source $_va_source (FIFO $TRANSFERENCE_MIC_FIFO, s16le ${TRANSFERENCE_MIC_RATE} Hz mono); ALSA devices 'default' and 'pulse'"
}

_va_stop() {
    _va_setup_vars
    _va_stop_writer
    _va_stop_keepalive
    if _va_daemon_up; then
        pulseaudio -k >/dev/null 2>&1 || _va_pactl exit >/dev/null 2>&1 || true
    fi
    _va_log "stopped"
}

_va_cleanup_names() {
    unset -f _va_log _va_err _va_setup_vars _va_pactl _va_python _va_install_missing _va_daemon_up \
        _va_pid_live _va_clear_stale_daemon _va_start_daemon _va_has _va_keepalive_alive \
        _va_stop_keepalive _va_sink_latency_usec _va_ensure_keepalive _va_ensure_devices _va_writer_alive _va_stop_writer \
        _va_write_writer_py _va_ensure_writer _va_alsa_default_is_pulse _va_ensure_alsa \
        _va_print_exports _va_main _va_stop _va_cleanup_names
    unset _va_uid _va_sink _va_source _va_writer_pid _va_writer_py _va_reloaded_source \
        _va_writer_running_pid _va_keepalive_pid _va_keepalive_running_pid _va_reloaded_sink
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: run inside `if` so a caller's `set -e` cannot abort half-way; report and return.
    if _va_main; then
        _va_print_exports >&2
        _va_cleanup_names
        return 0
    else
        _va_rc=$?
        _va_err "virtual audio setup failed (rc=$_va_rc)"
        _va_cleanup_names
        eval "unset _va_rc; return $_va_rc"
    fi
else
    if [ "${1:-}" = "--stop" ]; then
        _va_stop
        exit 0
    fi
    if _va_main; then
        _va_print_exports
        exit 0
    else
        _va_rc=$?
        _va_err "virtual audio setup failed (rc=$_va_rc)"
        exit "$_va_rc"
    fi
fi
