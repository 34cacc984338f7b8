#!/usr/bin/env bash
# Runs one fuzz harness, for ctest (CMakeLists.txt) and bench/fuzz/run.sh.
#   run.sh HARNESS TARGET_DIR replay FILE...
#       runs each saved input once (a regression case): fails if any crashes
#   run.sh HARNESS TARGET_DIR fuzz SECONDS SEED_DIR OUT_DIR
#       fuzzes for SECONDS from OUT_DIR/corpus (kept between runs), the
#       seeds and the saved reproducers; a crash is written to OUT_DIR and
#       fails the run. Prints "fuzz TARGET: N executions in S s".
# TARGET_DIR/options holds extra libFuzzer flags (e.g. -max_len) and
# TARGET_DIR/ubsan.supp UBSan suppressions for a known defect being fixed
# elsewhere; every other sanitizer report is fatal.
set -uo pipefail
harness=$1 dir=$2 mode=$3
shift 3
target=$(basename "$dir")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
ubsan=halt_on_error=1:print_stacktrace=1
[ -f "$dir/ubsan.supp" ] && ubsan="$ubsan:suppressions=$dir/ubsan.supp"
export UBSAN_OPTIONS=$ubsan
opts=()
[ -f "$dir/options" ] && read -r -a opts <"$dir/options"
# FUZZ_EXTRA_FLAGS: more libFuzzer flags from the caller (bench/fuzz/run.sh)
read -r -a more <<<"${FUZZ_EXTRA_FLAGS:-}"
opts+=("${more[@]}")

if [ "$mode" = replay ]; then
  exec "$harness" "${opts[@]}" -runs=1 "$@"
fi

seconds=$1 seeds=$2 out=$3
mkdir -p "$out/corpus"
inputs=("$out/corpus" "$seeds")
[ -d "$dir/regressions" ] && inputs+=("$dir/regressions")
log=$out/last.log
"$harness" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$out/" -rss_limit_mb=2048 -timeout=25 "${inputs[@]}" >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "fuzz $target: ${execs:-0} executions in $seconds s"
if [ $rc -ne 0 ]; then
  tail -60 "$log"
  echo "fuzz $target: FAILED (exit $rc); the input is in $out/ (crash-*, leak-*, timeout-*)."
  echo "Minimize it with: $harness -minimize_crash=1 -runs=10000 FILE; then save it under"
  echo "tests/fuzz/$target/regressions/ and add a unit test for the fix."
  exit 1
fi
