#!/usr/bin/env bash
# Feed watcher: 300 feeds from a local server polled twice (full, then all 304) by itv's watcher, beside
# nvchecker (PyPI, in a venv this script creates under .build-bench/) polling the same 300 feeds twice.
# Both use plain http on 127.0.0.1, so TLS handshakes do not dominate either side.
# Targets (issue 5): itv full pass < 0.5 s and < 0.3 CPU-s; all-304 pass < 0.1 CPU-s.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT="${FEEDS:-300}"
# BIN, $work and the feed server (gone at exit), itv-feedbench built when missing.
source scripts/bench/lib.sh
need_feedbench

start_feed_server
base="http://127.0.0.1:$http_port"

echo "targets: a full pass under 0.5 s and 0.3 CPU-s, an all-304 pass under 0.1 CPU-s"
echo "itv: $COUNT feeds (Atom, github kind), watcher with production policy (2 per host, 16 at once)"
"$BIN/itv-feedbench" "$base" "$COUNT"
echo "itv over https (the server's own CA; TLS verified; connections reused across polls)"
"$BIN/itv-feedbench" "https://127.0.0.1:$https_port" "$COUNT" "$work/ca.pem"

venv=".build-bench/nvchecker-venv"
if [ ! -x "$venv/bin/nvchecker" ]; then
    python3 -m venv "$venv" >/dev/null
    "$venv/bin/pip" install --quiet nvchecker >/dev/null 2>&1 || { echo "nvchecker: pip install failed, no baseline"; exit 0; }
fi
conf="$work/nvchecker.toml"
{
    printf '[__config__]\noldver = "%s/old.json"\nnewver = "%s/new.json"\n\n' "$work" "$work"
    for i in $(seq 0 $((COUNT - 1))); do
        printf '[f%d]\nsource = "regex"\nurl = "%s/feed/f%d"\nregex = "<title>v([^<]+)</title>"\n\n' "$i" "$base" "$i"
    done
} >"$conf"
nv_version="$("$venv/bin/python" -c 'import nvchecker; print(nvchecker.__version__)' 2>/dev/null || echo '?')"
echo "nvchecker $nv_version: the same $COUNT feeds (regex source; no conditional GET)"
for pass in full second; do
    TIMEFORMAT="%R %U %S"
    t="$( { time "$venv/bin/nvchecker" -c "$conf" --logger json >"$work/nv.log" 2>&1; } 2>&1 )"
    read -r real user sys <<<"$t"
    found="$(grep -c '"version": "2.0.0"' "$work/nv.log" || true)"
    printf 'nvchecker %s pass: %.3f s wall, %.3f CPU-s (%s versions found)\n' "$pass" "$real" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$found"
done
