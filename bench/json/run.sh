#!/usr/bin/env bash
# The pyroscope receiver's JSON reader next to jansson 2.14 on hostile and
# realistic documents: tree memory as a multiple of the input, and MB/s.
# Needs libjansson-dev (apt-get install libjansson-dev) before building.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
cmake -S . -B "$BUILD" >/dev/null
cmake --build "$BUILD" --target json_bench -j2 >/dev/null 2>&1 ||
  { echo "json_bench not built: is libjansson-dev installed?" >&2; exit 1; }
"$BUILD/bench/json/json_bench"
