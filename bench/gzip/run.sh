#!/usr/bin/env bash
# Whole-buffer gunzip and gzip, zlib against libdeflate (what
# core/pprof/gz.c uses), in one process (gz_bench), on the same
# production-sized profiles (bench/processors/genprofiles.sh: the big CPU
# and heap profiles, made here unless PROFILES names a directory holding
# them). Each round runs the four operations on each file one after the
# other, so the machine's load hits all alike; prints the median over
# ROUNDS rounds of CPU microseconds per operation, the ratio zlib/libdeflate
# (above 1: libdeflate faster) and the load average at each round. Then
# the streaming side: gunzip through one 64 KiB buffer, zlib against
# lib/gzstream (ISA-L, what the streaming readers use), the same way.
#   bench/gzip/run.sh [BUILD_DIR] [ROUNDS] [MS_EACH]
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$SRC/bench/lib.sh"
BUILD=${1:-$SRC/build}
ROUNDS=${2:-7}
MS_EACH=${3:-300}
cmake --build "$BUILD" --target gz_bench -j2 >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gz-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [ -z "${PROFILES:-}" ]; then
  PROFILES=$TMP/in
  "$SRC/bench/processors/genprofiles.sh" "$PROFILES" cpu heap >/dev/null
fi
"$BUILD/bench/gzip/gz_bench" "$ROUNDS" "$MS_EACH" "$PROFILES"/big.cpu.pb.gz "$PROFILES"/big.heap.pb.gz >"$TMP/out"
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
echo "median of $ROUNDS rounds (each operation repeated for ${MS_EACH} ms of CPU per round), CPU us per operation"
printf '%-22s %10s %12s %13s %13s %15s %8s %8s  %s\n' file plain_KB zlib_gunzip libdeflate zlib_gzip_-1 libdeflate_-1 gunzip_x gzip_x "gz KB zlib/libdeflate; load per round"
for f in big.cpu.pb.gz big.heap.pb.gz; do
  grep " file [^ ]*/$f " "$TMP/out" >"$TMP/$f.lines"
  m() { field "$1" <"$TMP/$f.lines" | median; }
  zg=$(m zlib_gunzip_us); dg=$(m deflate_gunzip_us); zz=$(m zlib_gzip_us); dz=$(m deflate_gzip_us)
  printf '%-22s %10d %12s %13s %13s %15s %8.2f %8.2f  %s/%s; %s\n' "$f" "$(( $(m plain_bytes) / 1024 ))" \
    "$zg" "$dg" "$zz" "$dz" "$(awk -v a="$zg" -v b="$dg" 'BEGIN{print a/b}')" \
    "$(awk -v a="$zz" -v b="$dz" 'BEGIN{print a/b}')" "$(( $(m gz_bytes_zlib) / 1024 ))" \
    "$(( $(m gz_bytes_deflate) / 1024 ))" "$(field load <"$TMP/$f.lines" | paste -sd' ')"
done
echo "through one 64 KiB buffer (the streaming readers), CPU us per operation"
printf '%-22s %10s %12s %13s %8s  %s\n' file plain_KB zlib_stream gzstream stream_x "load per round"
for f in big.cpu.pb.gz big.heap.pb.gz; do
  m() { field "$1" <"$TMP/$f.lines" | median; }
  zs=$(m zlib_stream_us); gs=$(m gzstream_us)
  printf '%-22s %10d %12s %13s %8.2f  %s\n' "$f" "$(( $(m plain_bytes) / 1024 ))" "$zs" "$gs" \
    "$(awk -v a="$zs" -v b="$gs" 'BEGIN{print a/b}')" "$(field load <"$TMP/$f.lines" | paste -sd' ')"
done
