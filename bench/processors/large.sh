#!/usr/bin/env bash
# Issue 14's goal for large rewrites: relabel dropping a label (tmp_.*) +
# downsample(max_stack_depth 16, min_fraction 0.001) on the production-sized
# CPU (~250 KB, ~5,000 locations) and heap (~1 MB) profiles of
# genprofiles.sh, one file at a time, and the goroutine profile with
# 10,000 distinct span_id labels (no goal of its own: every sample is a
# stack of its own, the fold's and the label tables' worst case). Four sides, alternating within each
# round so the machine's load hits all alike:
#   profpipe  proc_bench: the processors through the host API, decode to
#             gzip'd encoding, with the daemon's glibc heap settings
#   defaults  the same with glibc's default heap settings (before them)
#   go        gobench: the same with Go's github.com/google/pprof/profile
#   peer      (only with PEER_PROC_BENCH=path) another build's proc_bench,
#             e.g. one before libdeflate and the heap settings
#   floor     proc_bench --floor: in-process gunzip + gzip -1 of the same
#             bytes, with the library profpipe uses (core/pprof/gz.c)
# Prints, per file, the median over ROUNDS rounds of the process CPU time
# (user + system) per profile of each side, profpipe's minor page faults
# per profile (with the settings, and with glibc's defaults), the ratios go/profpipe (goal >= 8) and profpipe/floor
# (goal <= 1.5), and the load average at each round.
#   bench/processors/large.sh [ROUNDS] [SECONDS_EACH]   (BUILD_DIR: default
#   ./build; PROFILES: a directory with big.cpu.pb.gz, big.heap.pb.gz and
#   spans.goroutine.pb.gz, made here when not given; FILES: which of them,
#   all three by default)
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$SRC/bench/lib.sh"
BUILD=${BUILD_DIR:-$SRC/build}
ROUNDS=${1:-5}
SECONDS_EACH=${2:-3}
MIN_FRACTION=0.001
MAX_DEPTH=16
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD/gocache"
cmake --build "$BUILD" --target proc_bench -j2 >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/proc-large.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
(cd "$SRC/bench/processors/gobench" && go build -o "$TMP/gobench" .)
if [ -z "${PROFILES:-}" ]; then
  PROFILES=$TMP/in
  "$SRC/bench/processors/genprofiles.sh" "$PROFILES" cpu heap spans >/dev/null
fi
PB=$BUILD/bench/processors/proc_bench
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
echo "min_fraction=$MIN_FRACTION max_stack_depth=$MAX_DEPTH; median of $ROUNDS rounds of ${SECONDS_EACH}s per side; CPU us per profile"
printf '%-22s %6s %9s %9s %9s %9s %7s %9s %14s  %s\n' file gz_KB profpipe defaults go floor go/pp pp/floor "minflt pp/dflt" "load per round"
for f in ${FILES:-big.cpu.pb.gz big.heap.pb.gz spans.goroutine.pb.gz}; do
  in=$PROFILES/$f
  : >"$TMP/pp"; : >"$TMP/df"; : >"$TMP/pe"; : >"$TMP/go"; : >"$TMP/fl"; loads=""
  for _ in $(seq 1 "$ROUNDS"); do
    loads="$loads $(cut -d' ' -f1 /proc/loadavg)"
    "$PB" "$SECONDS_EACH" "$MIN_FRACTION" "$MAX_DEPTH" "$in" >>"$TMP/pp"
    PROC_BENCH_GLIBC_DEFAULTS=1 "$PB" "$SECONDS_EACH" "$MIN_FRACTION" "$MAX_DEPTH" "$in" >>"$TMP/df"
    if [ -n "${PEER_PROC_BENCH:-}" ]; then
      "$PEER_PROC_BENCH" "$SECONDS_EACH" "$MIN_FRACTION" "$MAX_DEPTH" "$in" >>"$TMP/pe"
    fi
    "$TMP/gobench" "$SECONDS_EACH" "$MIN_FRACTION" "$MAX_DEPTH" "$in" >>"$TMP/go"
    "$PB" --floor "$SECONDS_EACH" "$MIN_FRACTION" "$MAX_DEPTH" "$in" >>"$TMP/fl"
  done
  pp=$(field cpu_us_per_profile <"$TMP/pp" | median)
  go=$(field cpu_us_per_profile <"$TMP/go" | median)
  fl=$(field cpu_us_per_profile <"$TMP/fl" | median)
  df=$(field cpu_us_per_profile <"$TMP/df" | median)
  if [ -n "${PEER_PROC_BENCH:-}" ]; then
    pe=$(field cpu_us_per_profile <"$TMP/pe" | median)
    echo "$f: peer $PEER_PROC_BENCH: $pe CPU us per profile," \
      "$(field minflt_per_profile <"$TMP/pe" | median) minor faults per profile;" \
      "peer/profpipe $(awk -v a="$pe" -v b="$(field cpu_us_per_profile <"$TMP/pp" | median)" 'BEGIN{printf "%.2f", a/b}')"
  fi
  flt=$(field minflt_per_profile <"$TMP/pp" | median)/$(field minflt_per_profile <"$TMP/df" | median)
  printf '%-22s %6d %9s %9s %9s %9s %7.2f %9.2f %14s %s\n' "$f" "$(( $(wc -c <"$in") / 1024 ))" \
    "$pp" "$df" "$go" "$fl" "$(awk -v a="$go" -v b="$pp" 'BEGIN{print a/b}')" \
    "$(awk -v a="$pp" -v b="$fl" 'BEGIN{print a/b}')" "$flt" "$loads"
done
