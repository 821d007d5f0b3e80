#!/usr/bin/env bash
# Stops exactly what `make demo` started: the daemon, the feed server and the webhook receiver by their
# recorded PIDs, the fleet
# by its own PID list.
set -uo pipefail
cd "$(dirname "$0")/.."
DEMO_DIR="${DEMO_DIR:-.demo}"
[ -d "$DEMO_DIR/pids" ] || { echo "demo-stop: no demo is running in $DEMO_DIR"; exit 0; }
for f in "$DEMO_DIR"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$f"
done
[ -e "$DEMO_DIR/fleet/pids" ] && bash scripts/fleet.sh stop "$DEMO_DIR/fleet" >/dev/null
rmdir "$DEMO_DIR/pids" 2>/dev/null
echo "demo-stop: stopped the demo in $DEMO_DIR"
