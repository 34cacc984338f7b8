#!/usr/bin/env bash
# The memory burst of issue 14, replayed: many small /ingest profiles from
# several concurrent clients into a pyroscope receiver whose pipeline
# exports to a Pyroscope endpoint that is down, both queues capped
# (pipeline queue 64MiB block, exporter queue 64MiB drop_oldest).
#
# Configs, alternating, ROUNDS rounds each:
#   limited: service.memory_limit {soft_limit: SOFT, hard_limit: HARD}
#   nolimit: the same binary without memory_limit (queues still charge
#            decoded trees, and glibc's free pages are still trimmed
#            after a drain)
#   before:  with PEER_BIN=path, another binary without memory_limit:
#            profpipe built before the limit (neither charge nor trim)
# Each round: start profpipe, read its idle RSS, run the burst
# (tests/e2e/memory/burst: REQUESTS posts of one profile from CLIENTS
# clients, none waiting after a refusal), read the peak RSS (VmHWM); then
# bring the Pyroscope endpoint up (a second profpipe: pyroscope receiver
# -> file exporter), wait until the exporter queue is empty, SETTLE_S
# seconds more, and read RSS after draining.
# Printed per config: the medians of idle, peak and drained RSS, the peak
# against HARD plus a fixed overhead (OVERHEAD: requests in flight and one
# check interval's growth), answers (200 / 503), and the machine's load.
#
# usage: bench/memory/run.sh [BUILD_DIR]
# env:   ROUNDS=5 REQUESTS=20000 CLIENTS=8 SOFT=48MiB HARD=64MiB OVERHEAD_MIB=16
#        LOCATIONS=300 SAMPLES=1000 (the profile's size) SETTLE_S=3 PEER_BIN=
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE_DIR/bench/lib.sh"
BUILD_DIR=$(cd "${1:-$SOURCE_DIR/build}" && pwd)
PROFPIPE=$BUILD_DIR/profpipe
PEER_BIN=${PEER_BIN:-}
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-8}
SOFT=${SOFT:-48MiB}
HARD=${HARD:-64MiB}
OVERHEAD_MIB=${OVERHEAD_MIB:-16}
LOCATIONS=${LOCATIONS:-300}
SAMPLES=${SAMPLES:-1000}
SETTLE_S=${SETTLE_S:-3}
[ -x "$PROFPIPE" ] || { echo "no $PROFPIPE: build first" >&2; exit 1; }
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD_DIR/gocache"

T=$(mktemp -d "${TMPDIR:-/tmp}/profpipe-bench-memory.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

(cd "$SOURCE_DIR/tests/e2e/ui/bigprof" && go build -o "$T/bigprof" .)
(cd "$SOURCE_DIR/tests/e2e/memory/burst" && go build -o "$T/burst" .)
"$T/bigprof" "$T/small.pb.gz" "$LOCATIONS" "$SAMPLES" 1 >/dev/null
size=$(wc -c <"$T/small.pb.gz")

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
drained() { [ "$(metric_at "$1" 'profpipe_exporter_queue_bytes{component_id="pyroscope"}')" = 0 ]; }
ready() { curl -sf "http://127.0.0.1:$1/healthz" >/dev/null; }
stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }

round() { # config-name binary memory_limit-line
  local name=$1 bin=$2 pa ma pb mb a b idle peak after
  pa=$(free_port) ma=$(free_port) pb=$(free_port) mb=$(free_port)
  cat >"$T/a.yaml" <<YAML
receivers:
  pyroscope: {endpoint: "127.0.0.1:$pa"}
exporters:
  pyroscope:
    endpoint: "http://127.0.0.1:$pb"
    retry_on_failure: {initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 30m}
    sending_queue: {queue_size: 64MiB, full_policy: drop_oldest}
service:
  telemetry: {address: "127.0.0.1:$ma", log_level: error}
$3
  pipelines:
    profiles/default:
      receivers: [pyroscope]
      exporters: [pyroscope]
      queue_size: 64MiB
      full_policy: block
YAML
  "$bin" run -c "$T/a.yaml" 2>"$T/a.log" &
  a=$!
  PIDS+=("$a")
  wait_until 30 ready "$ma" || { tail -3 "$T/a.log" >&2; exit 1; }
  sleep 1
  idle=$(kib "$a" VmRSS)
  "$T/burst" -url "http://127.0.0.1:$pa/ingest?name=burst%7Benv%3Dbench%7D&format=pprof" \
    -file "$T/small.pb.gz" -clients "$CLIENTS" -requests "$REQUESTS" >"$T/burst.out" 2>"$T/burst.err"
  peak=$(kib "$a" VmHWM)
  rm -rf "$T/out" && mkdir -p "$T/out"
  cat >"$T/b.yaml" <<YAML
receivers:
  pyroscope: {endpoint: "127.0.0.1:$pb", memory_budget: 1GiB}
exporters:
  file: {directory: "$T/out"}
service:
  telemetry: {address: "127.0.0.1:$mb", log_level: error}
  ui: {enabled: false}
  pipelines:
    profiles/default: {receivers: [pyroscope], exporters: [file]}
YAML
  "$PROFPIPE" run -c "$T/b.yaml" 2>"$T/b.log" &
  b=$!
  PIDS+=("$b")
  wait_until 600 drained "$ma" || { echo "$name: the queue did not drain" >&2; exit 1; }
  sleep "$SETTLE_S"
  after=$(kib "$a" VmRSS)
  stop "$a"
  stop "$b"
  read -r ok refused < <(sed -n 's/^burst ok=\([0-9]*\) refused=\([0-9]*\) .*/\1 \2/p' "$T/burst.out")
  echo "$idle $peak $after $ok $refused" >>"$T/$name"
  awk -v n="$name" -v i="$idle" -v p="$peak" -v a="$after" -v ok="$ok" -v rf="$refused" \
    -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
    printf "  %-8s idle %6.1f MiB  peak %7.1f MiB  after drain %6.1f MiB  200: %5d  503: %5d  load %s\n",
      n, i/1024, p/1024, a/1024, ok, rf, l }'
}

column_median() { # file column
  awk -v c="$2" '{print $c}' "$1" | median
}

echo "burst: $REQUESTS posts of $size bytes from $CLIENTS clients; limited: soft $SOFT, hard $HARD"
limit="  memory_limit: {soft_limit: $SOFT, hard_limit: $HARD}"
configs="limited nolimit"
[ -z "$PEER_BIN" ] || configs="$configs before"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r"
  round limited "$PROFPIPE" "$limit"
  round nolimit "$PROFPIPE" ""
  [ -z "$PEER_BIN" ] || round before "$PEER_BIN" ""
done

case $HARD in
  *GiB) hard_kib=$((${HARD%GiB} * 1024 * 1024)) ;;
  *MiB) hard_kib=$((${HARD%MiB} * 1024)) ;;
  *) echo "HARD in MiB or GiB for the report" >&2; exit 1 ;;
esac
echo "medians of $ROUNDS rounds:"
for name in $configs; do
  awk -v n="$name" -v i="$(column_median "$T/$name" 1)" -v p="$(column_median "$T/$name" 2)" \
    -v a="$(column_median "$T/$name" 3)" -v ok="$(column_median "$T/$name" 4)" -v rf="$(column_median "$T/$name" 5)" 'BEGIN {
    printf "  %-8s idle %6.1f MiB  peak %7.1f MiB  after drain %6.1f MiB  200: %d  503: %d\n",
      n, i/1024, p/1024, a/1024, ok, rf }'
done
lp=$(column_median "$T/limited" 2) la=$(column_median "$T/limited" 3) li=$(column_median "$T/limited" 1)
awk -v lp="$lp" -v la="$la" -v li="$li" -v h="$hard_kib" -v o="$OVERHEAD_MIB" 'BEGIN {
  printf "limited: peak %.1f MiB vs hard limit %.0f MiB + %d MiB overhead: %s; after drain %.1f MiB above idle\n",
    lp/1024, h/1024, o, (lp <= h + o*1024) ? "within" : "PAST", (la-li)/1024 }'
for peer in ${configs#limited }; do
  awk -v n="$peer" -v lp="$lp" -v la="$la" -v pp="$(column_median "$T/$peer" 2)" -v pa="$(column_median "$T/$peer" 3)" \
    -v pi="$(column_median "$T/$peer" 1)" 'BEGIN {
    printf "ratio limited/%s: peak %.2f  after drain %.2f  (%s after drain %.1f MiB above idle)\n",
      n, lp/pp, la/pa, n, (pa-pi)/1024 }'
done
