#!/usr/bin/env bash
# check-binaries.sh BINDIR VERSION: refuses itvd and itvctl for the package unless each one
#   - needs no libswift* (or other toolchain) library: the Swift runtime must be linked in,
#   - has no RPATH/RUNPATH (the toolchain's directory, or $ORIGIN, has no place on a server),
#   - is linked with relro and bindnow,
#   - prints "NAME VERSION" for --version, VERSION being debian/changelog's.
# Called by debian/rules after the build and again after the manual pages (whose plugin builds too).
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 BINDIR VERSION" >&2
    exit 64
fi
bin="$1"
version="$2"
failed=0
fail() {
    echo "check-binaries: $*" >&2
    failed=1
}
for exe in itvd itvctl; do
    file="$bin/$exe"
    if [[ ! -x "$file" ]]; then
        fail "$file is missing"
        continue
    fi
    dynamic="$(readelf -d "$file")"
    needed="$(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' <<<"$dynamic")"
    if grep -E '^(libswift|libFoundation|libdispatch|libBlocksRuntime|lib_Foundation|libXCTest)' <<<"$needed"; then
        fail "$exe needs toolchain libraries (above): build with --static-swift-stdlib"
    fi
    if grep -E '\((RPATH|RUNPATH)\)' <<<"$dynamic"; then
        fail "$exe has an RPATH/RUNPATH (above): build with --disable-local-rpath"
    fi
    if ! grep -q 'GNU_RELRO' < <(readelf -lW "$file"); then
        fail "$exe is not linked with relro"
    fi
    if ! grep -qE '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' <<<"$dynamic"; then
        fail "$exe is not linked with bindnow (-z now)"
    fi
    printed="$("$file" --version 2>&1 || true)"
    if [[ "$printed" != "$exe $version" ]]; then
        fail "$exe --version prints '$printed', debian/changelog says $version (update ITVRelease.version)"
    fi
    echo "check-binaries: $exe: $(tr '\n' ' ' <<<"$needed")"
done
if [[ $failed -ne 0 ]]; then
    exit 1
fi
