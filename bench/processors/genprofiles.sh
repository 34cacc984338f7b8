#!/usr/bin/env bash
# Writes production-sized profiles for the benchmarks into OUT_DIR (made at
# bench time, never checked in), from a Go program biggen generates with
# FUNCS functions (bench/processors/biggen/main.go says how):
#   big.cpu.pb.gz    CPU profile, CPU_SECONDS of CPU at CPU_HZ samples/s
#   big.heap.pb.gz   heap profile of HEAP_ALLOCS allocations, every one
#                    recorded (runtime.MemProfileRate = 1)
#   spans.goroutine.pb.gz  goroutine profile with SPANS distinct span_id
#                    label values
# Usage: bench/processors/genprofiles.sh OUT_DIR [cpu] [heap] [spans]
# (all three when none is named). Prints what each file holds (profstat).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$1; shift
KINDS=${*:-cpu heap spans}
FUNCS=${FUNCS:-350}
CPU_SECONDS=${CPU_SECONDS:-25}
CPU_HZ=${CPU_HZ:-250}
HEAP_ALLOCS=${HEAP_ALLOCS:-20000}
SPANS=${SPANS:-10000}
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=${GOCACHE:-$OUT/.gocache}
mkdir -p "$OUT"
GEN=$(mktemp -d "${TMPDIR:-/tmp}/biggen.XXXXXX")
trap 'rm -rf "$GEN"' EXIT
(cd "$SRC/bench/processors/biggen" && go build -o "$GEN/biggen" .)
mkdir "$GEN/prog"
"$GEN/biggen" "$GEN/prog" "$FUNCS"
(cd "$GEN/prog" && go build -o "$GEN/bigprof" .)
(cd "$SRC/bench/processors/profstat" && go build -o "$GEN/profstat" .)
for k in $KINDS; do
  case $k in
    cpu) "$GEN/bigprof" cpu "$OUT/big.cpu.pb.gz" "$CPU_SECONDS" "$CPU_HZ" 2>/dev/null ;;
    heap) "$GEN/bigprof" heap "$OUT/big.heap.pb.gz" "$HEAP_ALLOCS" ;;
    spans) "$GEN/bigprof" spans "$OUT/spans.goroutine.pb.gz" "$SPANS" ;;
    *) echo "genprofiles: unknown kind $k" >&2; exit 2 ;;
  esac
done
"$GEN/profstat" "$OUT"/*.pb.gz
