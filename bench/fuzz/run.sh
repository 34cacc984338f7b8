#!/usr/bin/env bash
# Fuzzes every target (or those named) for SECONDS each (default 60) and
# prints the executions reached per target. The corpus each run grows is
# kept in build-fuzz/bench-fuzz/<target>/corpus, so runs add up; crashes
# land in the same folder and fail the script.
#   bench/fuzz/run.sh [SECONDS] [TARGET...]
# FUZZ_MAX_RUNS=N also stops a target after N executions. Needs the fuzz
# build (tests/fuzz/README.md), which this script configures and builds
# if it is missing. Run it niced on a shared machine: nice -n 15 ...
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
build=${FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -x "$build/tests/fuzz/fuzz_seeds" ]; then
  CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROFPIPE_FUZZ=ON >/dev/null || exit 1
fi
cmake --build "$build" -j "$(nproc)" >/dev/null || exit 1
[ -d "$build/fuzz-corpus" ] || bash tests/fuzz/seeds.sh "$build/tests/fuzz/fuzz_seeds" "$build/fuzz-corpus" >/dev/null || exit 1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in tests/fuzz/*/fuzz.c; do targets+=("$(basename "$(dirname "$d")")"); done
fi
extra=()
[ -n "${FUZZ_MAX_RUNS:-}" ] && extra=(-runs="$FUZZ_MAX_RUNS")
failed=0
printf '%-22s %14s %10s %12s\n' target executions seconds exec/s
for t in "${targets[@]}"; do
  out=$build/bench-fuzz/$t
  mkdir -p "$out"
  start=$(date +%s)
  # run.sh reads extra libFuzzer flags from FUZZ_EXTRA_FLAGS
  line=$(FUZZ_EXTRA_FLAGS="${extra[*]:-}" bash tests/fuzz/run.sh "$build/tests/fuzz/fuzz_$t" \
           "tests/fuzz/$t" fuzz "$seconds" "$build/fuzz-corpus/$t" "$out" | sed -n 1p)
  rc=${PIPESTATUS[0]}
  took=$(( $(date +%s) - start ))
  execs=$(echo "$line" | sed -n 's/^fuzz [^:]*: \([0-9]*\) executions.*/\1/p')
  printf '%-22s %14s %10s %12s\n' "$t" "${execs:-0}" "$took" "$(( ${execs:-0} / (took > 0 ? took : 1) ))"
  if [ "$rc" -ne 0 ]; then
    echo "  $t FAILED: see $out/last.log and $out/crash-*"
    failed=1
  fi
done
exit $failed
