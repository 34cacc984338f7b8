#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole suite under ctest:
# first the fuzz harnesses (build-fuzz/: each saved reproducer once, then
# each target for FUZZ_SECONDS, 20 s), then the suite once as built and
# once under AddressSanitizer + UndefinedBehaviorSanitizer. Each pass ends
# with ctest's summary line; the last one is the suite's.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test asan || exit 1
# node test programs (a real Pyroscope SDK) install their npm packages here
for pkg in tests/e2e/*/node/package.json; do
  [ -f "$pkg" ] || continue
  (cd "$(dirname "$pkg")" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || exit 1
done

status=0
echo "== fuzz harnesses: reproducers and short runs (build-fuzz/)"
(cd build-fuzz && ctest --output-on-failure "$@") || status=1
echo "== test suite (build/)"
(cd build && ctest --output-on-failure "$@") || status=1
echo "== test suite under ASan+UBSan (build-asan/)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure "$@") || status=1
exit $status
