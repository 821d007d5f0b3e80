#!/usr/bin/env bash
# Runs every benchmark section in scripts/bench.d/ in order. Each prints its figures next to a
# baseline measured in the same run. $1: the directory of the release binaries.
set -euo pipefail
export ITV_BIN_DIR="$1"
cd "$(dirname "$0")/.."
for section in scripts/bench.d/*.sh; do
    [ -e "$section" ] || continue
    echo "== $(basename "$section" .sh)"
    bash "$section"
    echo
done
