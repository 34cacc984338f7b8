#!/usr/bin/env bash
# The profile_metrics exporter's cost per profile, against the file
# exporter on the same input in the same run: real Go profiles (profgen's
# cpu, heap, allocs, goroutine, block, mutex, and genprofiles.sh's deep, wide CPU
# profile) fed to each exporter's export() by pm_bench, one profile per
# batch, as the exporter's worker gets them. Counted: the process CPU
# time per profile (user + system: the file exporter's writes included),
# decoding included on both sides (both read the tree). The two alternate,
# ROUNDS times, and each keeps its best round, so other load on the
# machine hurts both alike. Prints both and the ratio profile_metrics/file.
#
# Usage: bench/profile_metrics/run.sh [SECONDS_EACH]   (BUILD_DIR: the
# cmake build directory, default ./build)
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
SECONDS_EACH=${1:-5}
ROUNDS=3
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD/gocache"

cmake --build "$BUILD" --target pm_bench -j2 >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pm-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
(cd "$SRC/tests/e2e/go/profgen" && go build -o "$TMP/profgen" .)
"$TMP/profgen" "$TMP/in" >/dev/null
rm -f "$TMP/in/threadcreate.pb.gz"
GOCACHE="$BUILD/gocache" "$SRC/bench/processors/genprofiles.sh" "$TMP/big" cpu >/dev/null
mv "$TMP/big/big.cpu.pb.gz" "$TMP/in/cpu-big.pb.gz"
FILES=("$TMP"/in/*.pb.gz)
echo "inputs: ${#FILES[@]} profiles, $(cat "${FILES[@]}" | wc -c) bytes gzip'd; best of $ROUNDS rounds of ${SECONDS_EACH}s each"

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
best() { # current candidate: the lower us_per_profile
  if [ -z "$1" ] || awk -v a="$(field us_per_profile "$2")" -v b="$(field us_per_profile "$1")" \
       'BEGIN {exit !(a < b)}'; then echo "$2"; else echo "$1"; fi
}
PM=""; FILE=""
for r in $(seq 1 "$ROUNDS"); do
  PM=$(best "$PM" "$("$BUILD/bench/profile_metrics/pm_bench" profile_metrics "$SECONDS_EACH" "$TMP/out$r" "${FILES[@]}")")
  FILE=$(best "$FILE" "$("$BUILD/bench/profile_metrics/pm_bench" file "$SECONDS_EACH" "$TMP/out$r" "${FILES[@]}")")
  rm -rf "$TMP/out$r"
done
echo "$PM"
echo "$FILE"
awk -v p="$(field us_per_profile "$PM")" -v f="$(field us_per_profile "$FILE")" \
  'BEGIN { printf "ratio profile_metrics/file: %.2fx CPU time per profile\n", p / f }'
