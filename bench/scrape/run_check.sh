#!/usr/bin/env bash
# What pprof_scrape does with one 200 body, now against how it did it
# before, in one process (bench/scrape/check/scrape_check_bench.c says
# what each way does): the streaming check and the adopted body for
# pass-through types, one inflate instead of two for delta types. The
# bodies are real: the heap, allocs and goroutine profiles of the Go
# target bench/scrape/run.sh scrapes (tests/e2e/scrape/go/target, with
# its workload on, so the profiles have stacks), fetched once.
# Prints microseconds per body each way and the ratio now / before
# (below 1: cheaper now), medians of ROUNDS rounds, with the load.
#   bench/scrape/run_check.sh [BUILD_DIR] [ROUNDS] [ITERATIONS]
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "${1:-$SOURCE_DIR/build}" && pwd)
ROUNDS=${2:-5}
ITERS=${3:-200}
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD_DIR/gocache"
cmake --build "$BUILD_DIR" --target scrape_check_bench >/dev/null
T=$(mktemp -d "${TMPDIR:-/tmp}/profpipe-bench-check.XXXXXX")
TPID=
cleanup() {
  [ -z "$TPID" ] || kill -TERM "$TPID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
(cd "$SOURCE_DIR/tests/e2e/scrape/go/target" && go build -o "$T/target" .)
for _ in $(seq 1 50); do
  port=$((11000 + RANDOM % 18000))
  ss -Htan | awk -v p="$port" '{n = split($4, a, ":"); if (a[n] == p) f = 1} END {exit f}' && break
done
"$T/target" -addr "127.0.0.1:$port" >"$T/target.log" 2>&1 &
TPID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/stats" >/dev/null && break; sleep 0.1; done
sleep 3 # the workload makes stacks
for p in heap allocs goroutine; do
  curl -sf "http://127.0.0.1:$port/debug/pprof/$p" -o "$T/$p.pb.gz"
done
kill -TERM "$TPID"
echo "load $(cut -d' ' -f1-3 /proc/loadavg); medians of $ROUNDS rounds of $ITERS bodies each way"
printf '%-16s %8s %-12s %9s %9s %6s\n' body bytes path 'now µs' 'before µs' ratio
"$BUILD_DIR/bench/scrape/scrape_check_bench" "$ROUNDS" "$ITERS" "$T/heap.pb.gz" "$T/allocs.pb.gz" "$T/goroutine.pb.gz"
