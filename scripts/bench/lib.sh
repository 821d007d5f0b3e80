# shellcheck shell=bash
# What the bench sections that use the local feed server share (sourced from the repository root, after
# `set -euo pipefail`): BIN (the release binaries), a work directory and the server, both gone at exit.

BIN="${ITV_BIN_DIR:-$(swift build -c release --show-bin-path)}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Builds the bench driver itv-feedbench when the release binaries lack it.
need_feedbench() {
    if [ ! -x "$BIN/itv-feedbench" ]; then
        swift build -c release --product itv-feedbench >/dev/null
    fi
}

# Starts scripts/feeds/test-server.py on $work (its files are served from there); sets https_port, http_port.
start_feed_server() {
    python3 scripts/feeds/test-server.py "$work" >"$work/ports" &
    server_pid=$!
    for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.1; done
    read -r https_port http_port <"$work/ports"
}
