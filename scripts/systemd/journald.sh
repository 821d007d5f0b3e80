#!/usr/bin/env bash
# A standalone systemd-journald for tests and demos on machines where systemd is not PID 1.
#   journald.sh start STATEFILE   starts one unless a journald already listens; records what to undo
#   journald.sh stop STATEFILE    stops the one it started (by PID) and removes what it created
# Read entries back with `journalctl -o json FIELD=value`.
set -euo pipefail
SOCKET=/run/systemd/journal/socket
JOURNALD=/lib/systemd/systemd-journald
cmd="${1:-}"; state="${2:-}"
if [[ -z "$cmd" || -z "$state" ]]; then
    echo "usage: $0 start|stop STATEFILE" >&2
    exit 64
fi

listening() {
    python3 - "$SOCKET" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
PY
}

case "$cmd" in
start)
    if listening; then
        echo "pid=" >"$state"
        exit 0
    fi
    created=()
    for dir in /run/systemd/journal /run/log/journal; do
        [[ -e "$dir" ]] || created+=("$dir")
    done
    "$JOURNALD" >/dev/null 2>&1 &
    pid=$!
    printf 'pid=%s\ncreated=%s\n' "$pid" "${created[*]}" >"$state"
    for _ in $(seq 200); do
        if listening; then exit 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.05
    done
    echo "journald.sh: $JOURNALD did not start listening on $SOCKET" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
    ;;
stop)
    [[ -f "$state" ]] || exit 0
    pid="$(sed -n 's/^pid=//p' "$state")"
    created="$(sed -n 's/^created=//p' "$state")"
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        for dir in $created; do rm -rf "$dir"; done
    fi
    rm -f "$state"
    ;;
*)
    echo "usage: $0 start|stop STATEFILE" >&2
    exit 64
    ;;
esac
