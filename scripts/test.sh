#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole suite under ctest:
# first the fuzz harnesses (build-fuzz/: each saved reproducer once, then
# each target for FUZZ_SECONDS, 20 s), then the suite once as built and
# once under AddressSanitizer + UndefinedBehaviorSanitizer. Each pass ends
# with ctest's summary line; the last one is the suite's.
# `--under-load` runs it with two CPU hogs (stress-ng --cpu 2) beside it
# for the whole run: every timing bound must hold on a busy machine.
# Other arguments go to ctest (`scripts/test.sh -R perf`).
set -uo pipefail
cd "$(dirname "$0")/.."
under_load=0
args=()
for a in "$@"; do
  if [ "$a" = --under-load ]; then under_load=1; else args+=("$a"); fi
done
set -- "${args[@]+"${args[@]}"}"
scripts/setup.sh test asan || exit 1
# node test programs (a real Pyroscope SDK) install their npm packages here
for pkg in tests/e2e/*/node/package.json; do
  [ -f "$pkg" ] || continue
  (cd "$(dirname "$pkg")" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || exit 1
done

if [ $under_load = 1 ]; then
  stress-ng --cpu 2 --quiet &
  hogs=$!
  trap 'kill $hogs 2>/dev/null; wait $hogs 2>/dev/null' EXIT
  echo "== under load: stress-ng --cpu 2 (pid $hogs)"
fi

status=0
echo "== fuzz harnesses: reproducers and short runs (build-fuzz/)"
(cd build-fuzz && ctest --output-on-failure "$@") || status=1
echo "== test suite (build/)"
(cd build && ctest --output-on-failure "$@") || status=1
echo "== test suite under ASan+UBSan (build-asan/)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure "$@") || status=1
exit $status
