#!/usr/bin/env bash
# manpages.sh SWIFT SCRATCH DATE OUTDIR: writes OUTDIR/itvd.8 and OUTDIR/itvctl.1, generated from the
# argument parsers by swift-argument-parser's generate-manual plugin (mdoc).
#
# The plugin builds every product of the package itself (without --static-swift-stdlib) and runs each
# with --experimental-dump-help. It builds in SCRATCH, a scratch path of its own (debian/rules: the debug
# `.build` of `make test`, which it mostly reuses), so that it cannot replace the static binaries of the
# package build. --date makes the pages reproducible (debian/rules passes the changelog's date).
# The plugin takes one --section for all products, so it runs twice: section 8 for itvd, 1 for itvctl.
set -euo pipefail
if [[ $# -ne 4 ]]; then
    echo "usage: $0 SWIFT SCRATCH DATE OUTDIR" >&2
    exit 64
fi
swift="$1"
scratch="$2"
date="$3"
out="$4"
outputs="$scratch/plugins/GenerateManual/outputs"
mkdir -p "$out"
for pair in itvd:8 itvctl:1; do
    exe="${pair%%:*}"
    section="${pair##*:}"
    rm -rf "$outputs"
    "$swift" package --scratch-path "$scratch" plugin generate-manual \
        --configuration debug --date "$date" --section "$section"
    page="$(find "$outputs" -name "$exe.$section" -type f | head -n 1)"
    if [[ -z "$page" ]]; then
        echo "manpages: the plugin wrote no $exe.$section under $outputs" >&2
        exit 1
    fi
    install -m 0644 "$page" "$out/$exe.$section"
    echo "manpages: $out/$exe.$section"
done
