#!/usr/bin/env bash
# The file exporter's cost per profile when profiles share a name (issue:
# "4.4 ms per profile after 3,000 duplicates"), as a ratio to the same
# writes with distinct names, measured in the same run.
#   bench/file/run.sh [BUILD_DIR] [N] [ROUNDS]
# Each round writes N profiles (default 3000) of 1 KiB three ways into a
# fresh folder under /tmp (bench/file/file_bench.c says how) and takes the
# mean time per write of the last 500; the script prints each way's median
# over ROUNDS (default 5) rounds, in microseconds, its ratio to distinct
# names, and the load average.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
build=${1:-build}
n=${2:-3000}
rounds=${3:-5}
last=$((n < 500 ? n : 500))
cmake --build "$build" --target file_bench -j "$(nproc)" >/dev/null
work=$(mktemp -d /tmp/profpipe-bench-file.XXXXXX)
trap 'rm -rf "$work"' EXIT
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/r"
  "$build/bench/file/file_bench" "$work/r" "$n" "$last" >>"$work/results"
done
median_of() { awk -v k="$1" '$1 == k { print $2 }' "$work/results" | median; }
d=$(median_of distinct)
printf 'N=%s writes of 1 KiB, mean of the last %s, median of %s rounds; load %s\n' \
  "$n" "$last" "$rounds" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %12s %10s\n' names 'us/write' 'x distinct'
for k in distinct same same-probe; do
  v=$(median_of "$k")
  printf '%-12s %12s %10s\n' "$k" "$v" "$(awk -v a="$v" -v b="$d" 'BEGIN { printf "%.2f", a / b }')"
done
