#!/usr/bin/env bash
# Stops exactly what `make demo` started (by the PIDs it recorded).
set -euo pipefail
cd "$(dirname "$0")/.."
state=.demo
[ -d "$state" ] || { echo "demo-stop: no demo is running"; exit 0; }
for f in "$state"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
done
rm -rf "$state"
