#!/usr/bin/env bash
# The table hash (lib/hash/wordhash.h) against FNV-1a (lib/hash/fnv.h) on
# the keys profpipe's hash tables hash: sample keys of location ids,
# function names, short label values (bench/hash/hash_bench.c says how
# they are made). Both run in the same process, alternating per round, so
# the machine's load hits both alike; prints ns per key and the ratio
# wordhash / fnv1a (below 1: wordhash cheaper), median of ROUNDS runs.
#   bench/hash/run.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-5}
cmake --build "$build" --target hash_bench -j "$(nproc)" >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq 1 "$rounds"); do "$build/bench/hash/hash_bench" 50 >>"$out"; done
echo "median of $rounds runs (50 rounds of 20,000 keys each); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %14s %12s %8s\n' keys 'wordhash ns' 'fnv1a ns' ratio
for k in stacks names short; do
  awk -v k="$k" '$1 == k { print $3, $6, $9 }' "$out" | sort -k3,3g |
    awk -v k="$k" '{ l[NR] = $0 } END { split(l[int((NR + 1) / 2)], v, " "); printf "%-7s %14s %12s %8s\n", k, v[1], v[2], v[3] }'
done
