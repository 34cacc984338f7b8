#!/usr/bin/env bash
# Idle memory of profpipe on its default config (config/profpipe.yaml: two
# file receivers, the pyroscope receiver listening, the file exporter, the
# telemetry server), started from a scratch folder, read from
# /proc/PID/status and /proc/PID/smaps_rollup after SETTLE_S seconds:
#   VmRSS    resident pages, shared library pages included
#   RssAnon  the process's own memory (heap, stacks)
#   Pss      RSS with each shared page divided among the processes mapping it
# Peer: a Go net/http server answering /metrics (bench/footprint/goidle),
# measured the same way in the same run. Usage: bench/footprint/run.sh [BUILD_DIR]
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "${1:-$SOURCE_DIR/build}" && pwd) # absolute: the run starts in a scratch folder
SETTLE_S=${SETTLE_S:-5}
T=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

kib() { awk -v k="$2" '$1 == k":" {print $2}' "$1"; }
measure() { # name pid
  sleep "$SETTLE_S"
  kill -0 "$2" || { echo "$1 exited" >&2; exit 1; }
  local rss anon pss
  rss=$(kib "/proc/$2/status" VmRSS) anon=$(kib "/proc/$2/status" RssAnon)
  pss=$(kib "/proc/$2/smaps_rollup" Pss)
  awk -v n="$1" -v r="$rss" -v a="$anon" -v p="$pss" 'BEGIN {
    printf "%-10s VmRSS %6.1f MiB  RssAnon %5.1f MiB  Pss %5.1f MiB\n", n, r/1024, a/1024, p/1024 }'
  echo "$rss $anon $pss" >"$T/$1"
}

mkdir -p "$T/run" && cd "$T/run"
ln -s "$SOURCE_DIR/config" config
PROFPIPE_PYROSCOPE_ADDRESS=127.0.0.1:0 PROFPIPE_TELEMETRY_ADDRESS=127.0.0.1:0 \
  "$BUILD_DIR/profpipe" run -c config/profpipe.yaml 2>"$T/profpipe.log" &
pids+=($!)
measure profpipe $!

(cd "$SOURCE_DIR/bench/footprint/goidle" &&
  GO111MODULE=off GOCACHE="$BUILD_DIR/gocache" go build -o "$T/goidle" .)
"$T/goidle" 127.0.0.1:0 &
pids+=($!)
measure go-http $!

read -r r1 a1 p1 <"$T/profpipe"
read -r r2 a2 p2 <"$T/go-http"
awk -v r1="$r1" -v a1="$a1" -v p1="$p1" -v r2="$r2" -v a2="$a2" -v p2="$p2" 'BEGIN {
  printf "ratio profpipe/go-http: VmRSS %.2f  RssAnon %.2f  Pss %.2f\n", r1/r2, a1/a2, p1/p2 }'
