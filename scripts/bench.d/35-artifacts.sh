#!/usr/bin/env bash
# Artifacts: SHA-256 of a large file through itv's OpenSSL path beside sha256sum(1) on the same file, then a
# download from the local HTTPS server through the production artifact source (stream, hash, fsync, rename)
# beside `curl -o FILE && sha256sum FILE`, in the same run. ARTIFACT_MB (default 512) sets the size.
# Target: hashing at least as fast as sha256sum (both are OpenSSL/coreutils SHA-NI or AVX2 code).
set -euo pipefail
cd "$(dirname "$0")/../.."
MB="${ARTIFACT_MB:-512}"
# BIN, $work and the feed server (gone at exit), itv-feedbench built when missing.
source scripts/bench/lib.sh
need_feedbench
mkdir -p "$work/files"
head -c "$((MB * 1024 * 1024))" /dev/urandom >"$work/files/tool-1.bin"
cat "$work/files/tool-1.bin" >/dev/null   # warm the page cache for both hashers
echo "target: itv hashing at least as fast as sha256sum on the same file ($MB MiB, page cache warm)"
for round in 1 2; do
    start=$(date +%s.%N)
    sum=$(sha256sum "$work/files/tool-1.bin" | cut -d' ' -f1)
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v mb="$MB" -v r="$round" \
        'BEGIN { printf "sha256sum (coreutils) round %d: %.0f MB/s, %.3f s wall\n", r, mb * 1.048576 / (e - s), e - s }'
    printf "round %d: " "$round"
    "$BIN/itv-feedbench" hash "$work/files/tool-1.bin"
done
echo "$sum  tool-1.bin" >"$work/files/SHA256SUMS"

start_feed_server
base="https://127.0.0.1:$https_port"
"$BIN/itv-feedbench" artifact "$base/files/tool-1.bin" "$base/files/SHA256SUMS" "$work/ca.pem"
start=$(date +%s.%N)
curl -s --cacert "$work/ca.pem" -o "$work/curl.bin" "$base/files/tool-1.bin"
sha256sum "$work/curl.bin" >/dev/null
sync "$work/curl.bin"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v mb="$MB" \
    'BEGIN { printf "curl -o + sha256sum + sync (same server): %.0f MB/s, %.3f s wall\n", mb * 1.048576 / (e - s), e - s }'
