#!/usr/bin/env bash
# Processor throughput: a stream of real Go profiles (profgen's every
# runtime profile type + genprofiles.sh's deep, wide CPU profile) through
# relabel + downsample(min_fraction, max_stack_depth), in profpipe (the
# processors run through the host API by proc_bench, decode to encode) and
# in Go with Debian's github.com/google/pprof/profile (gobench, the same
# rules and the same folding), in the same run, on the same files.
# Prints profiles/s and input MB/s of each and their ratio.
#
# Usage: bench/processors/run.sh [SECONDS_EACH]   (BUILD_DIR: cmake build
# directory, default ./build; it must have been configured)
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
SECONDS_EACH=${1:-5}
MIN_FRACTION=0.01
MAX_DEPTH=16
ROUNDS=2
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD/gocache"

cmake --build "$BUILD" --target proc_bench -j2 >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/proc-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
(cd "$SRC/tests/e2e/go/profgen" && go build -o "$TMP/profgen" .)
(cd "$SRC/bench/processors/gobench" && go build -o "$TMP/gobench" .)
"$TMP/profgen" "$TMP/in" >/dev/null
"$SRC/bench/processors/genprofiles.sh" "$TMP/big" cpu >/dev/null
mv "$TMP/big/big.cpu.pb.gz" "$TMP/in/big.cpu.pb.gz"
FILES=("$TMP"/in/*.pb.gz)
echo "inputs: ${#FILES[@]} profiles, $(cat "${FILES[@]}" | wc -c) bytes gzip'd;" \
     "min_fraction=$MIN_FRACTION max_stack_depth=$MAX_DEPTH, best of $ROUNDS rounds of ${SECONDS_EACH}s"

# alternate the two, ROUNDS times, and keep each side's best round: other
# load on the machine then hurts both sides alike
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
best() { # current candidate
  if [ -z "$1" ] || awk -v a="$(field profiles_per_s "$2")" -v b="$(field profiles_per_s "$1")" \
       'BEGIN {exit !(a > b)}'; then echo "$2"; else echo "$1"; fi
}
C=""; GO=""
for _ in $(seq 1 "$ROUNDS"); do
  C=$(best "$C" "$("$BUILD/bench/processors/proc_bench" "$SECONDS_EACH" "$MIN_FRACTION" "$MAX_DEPTH" "${FILES[@]}")")
  GO=$(best "$GO" "$("$TMP/gobench" "$SECONDS_EACH" "$MIN_FRACTION" "$MAX_DEPTH" "${FILES[@]}")")
done
echo "$C"
echo "$GO"
awk -v c="$(field profiles_per_s "$C")" -v g="$(field profiles_per_s "$GO")" \
  'BEGIN { printf "ratio profpipe/go: %.2fx profiles/s\n", c / g }'
