#!/usr/bin/env bash
# Installs binaries into DESTDIR/PREFIX. $1: bin dir, $2: DESTDIR, $3: PREFIX.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$1"; DEST="$2"; PREFIX="$3"
install -d "$DEST$PREFIX/bin"
install -m 0755 "$BIN/itvd" "$BIN/itvctl" "$DEST$PREFIX/bin/"
