#!/usr/bin/env bash
# The state store: durable commits per second with group commit at 1, 16 and 64 concurrent writers, next
# to one transaction per commit (the baseline) measured in the same run, on a real file in a scratch dir.
set -euo pipefail
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$ITV_BIN_DIR/itv-bench-store" "$scratch" "${ITV_BENCH_STORE_COMMITS:-960}"
