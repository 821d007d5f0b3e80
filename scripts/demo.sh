#!/usr/bin/env bash
# The demo walkthrough. $1: the directory of the built binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$1"
echo "+ itvd check --playbooks playbooks --inventory examples/inventory.yaml"
"$BIN/itvd" check --playbooks playbooks --inventory examples/inventory.yaml --config examples/itvd.yaml
