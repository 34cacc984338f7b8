#!/usr/bin/env bash
# Issue 14's label-only pipeline, end to end in the daemon: Pyroscope SDK
# uploads (/ingest, format=pprof, gzip'd, as the SDKs post them) into a
# pyroscope receiver -> relabel on series labels -> kafka exporter (to
# librdkafka's mock cluster, tests/e2e/kafka/kafka_mock, in a process of
# its own), none of which needs the profile decoded. Does a 1 MB profile
# cost the daemon within 2x of a 5 KB one? EXPORTER=file puts the file
# exporter in kafka's place (it decodes each profile for the sample types
# of its index line, so that pipeline is not label-only).
#
# Two profiles are generated at run time with tests/e2e/ui/bigprof (Go's
# github.com/google/pprof/profile writes them, so the bytes are what Go's
# tools write): SMALL (~5 KB gzip'd) and LARGE (~1 MB gzip'd).
# One daemon serves every round. Each round posts SMALL_N times the small
# profile, then LARGE_N times the large one (bench/ingest/post: CLIENTS
# keep-alive clients, every answer must be 200), each batch waited until
# the pipeline holds nothing (profpipe_ledger_in_flight_profiles = 0);
# the daemon's CPU time (utime + stime of /proc/PID/stat) before and after
# the batch, divided by the posts, is its cost per profile. Printed per
# round with the load average; then the medians of ROUNDS rounds and
# their ratio (large / small; the goal is <= 2).
#
# Peer, in the same rounds: bench/ingest/relay, the least a daemon can
# do with an upload and still own it before its 200 (Go's net/http reads
# the body whole into a pooled buffer sized from Content-Length, writes
# it to one TCP connection to a sink process, answers; nothing is
# inflated or checked), posted the same bodies by the same client. Its
# large-minus-small cost is what moving the large body's extra bytes in
# and out of a process costs at least; printed as a multiple of
# profpipe's whole small profile, which a ratio of 2 allows it once. The
# relay is posted RELAY_SCALE times as many bodies: it costs a tenth to a
# fiftieth as much, and CPU time comes in 10 ms ticks.
#
# Reference: the CPU time of a plain in-process gunzip of the large body
# (CPython's zlib module), to tell whether any path that inflates the body
# could meet the goal. The daemon's streaming pass inflates with ISA-L
# (lib/gzstream), which takes about 0.56 of zlib's CPU (bench/gzip/run.sh).
#
# usage: bench/ingest/run.sh [BUILD_DIR]
# env:   ROUNDS=5 CLIENTS=4 SMALL_N=2000 LARGE_N=30 EXPORTER=kafka|file
#        RELAY_SCALE=10
#        SMALL="150 300" LARGE="21000 42000" (bigprof LOCATIONS SAMPLES)
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE_DIR/bench/lib.sh"
BUILD_DIR=$(cd "${1:-$SOURCE_DIR/build}" && pwd)
PROFPIPE=$BUILD_DIR/profpipe
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-4}
SMALL_N=${SMALL_N:-2000}
LARGE_N=${LARGE_N:-30}
EXPORTER=${EXPORTER:-kafka}
RELAY_SCALE=${RELAY_SCALE:-10}
SMALL=${SMALL:-150 300}
LARGE=${LARGE:-21000 42000}
KAFKA_MOCK=$BUILD_DIR/tests/e2e/kafka/kafka_mock
[ -x "$PROFPIPE" ] || { echo "no $PROFPIPE: build first" >&2; exit 1; }
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD_DIR/gocache"

T=$(mktemp -d "${TMPDIR:-/tmp}/profpipe-bench-ingest.XXXXXX")
PID='' MOCK='' RELAY='' SINK=''
cleanup() {
  for p in $RELAY $SINK; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -z "$PID" ] || { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [ -z "$MOCK" ] || { kill -TERM "$MOCK" 2>/dev/null || true; wait "$MOCK" 2>/dev/null || true; }
  rm -rf "$T"
}
trap cleanup EXIT

(cd "$SOURCE_DIR/tests/e2e/ui/bigprof" && go build -o "$T/bigprof" .)
(cd "$SOURCE_DIR/bench/ingest/post" && go build -o "$T/post" .)
(cd "$SOURCE_DIR/bench/ingest/relay" && go build -o "$T/relay" .)
# shellcheck disable=SC2086 # LOCATIONS SAMPLES
"$T/bigprof" "$T/small.pb.gz" $SMALL 1 >/dev/null
# shellcheck disable=SC2086
"$T/bigprof" "$T/large.pb.gz" $LARGE 2 >/dev/null

idle() { [ "$(metric_at "$MPORT" 'profpipe_ledger_in_flight_profiles{pipeline="profiles/default"}')" = 0 ]; }
ready() { curl -sf "http://127.0.0.1:$MPORT/healthz" >/dev/null; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

PPORT=$(free_port) MPORT=$(free_port)
mkdir -p "$T/out"
case $EXPORTER in
  kafka)
    [ -x "$KAFKA_MOCK" ] || { echo "no $KAFKA_MOCK: build the tests" >&2; exit 1; }
    "$KAFKA_MOCK" -b 1 -t profiles:1 </dev/null >"$T/mock.out" 2>"$T/mock.err" &
    MOCK=$!
    wait_until 10 grep -q '^ready' "$T/mock.out" || { cat "$T/mock.err" >&2; exit 1; }
    exporter="  kafka: {brokers: [$(awk '$1 == "bootstrap" {print $2}' "$T/mock.out")], topic: profiles, max_message_bytes: 4MiB}" ;;
  file) exporter="  file: {directory: \"$T/out\", max_total_size: 256MiB}" ;;
  *) echo "EXPORTER is kafka or file" >&2; exit 2 ;;
esac
cat >"$T/p.yaml" <<YAML
receivers:
  pyroscope: {endpoint: "127.0.0.1:$PPORT"}
processors:
  relabel:
    rules:
      - {source_labels: [service_name], regex: "(.*)", target_label: team, replacement: "team-\${1}"}
      - {action: labeldrop, regex: "env"}
exporters:
$exporter
service:
  telemetry: {address: "127.0.0.1:$MPORT", log_level: warn}
  ui: {enabled: false}
  pipelines:
    profiles/default: {receivers: [pyroscope], processors: [relabel], exporters: [$EXPORTER]}
YAML
"$PROFPIPE" run -c "$T/p.yaml" 2>"$T/p.log" &
PID=$!
wait_until 30 ready || { tail -5 "$T/p.log" >&2; exit 1; }

SPORT=$(free_port) RPORT=$(free_port)
"$T/relay" -sink "127.0.0.1:$SPORT" 2>"$T/sink.err" &
SINK=$!
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SPORT" || { cat "$T/sink.err" >&2; exit 1; }
"$T/relay" -listen "127.0.0.1:$RPORT" -to "127.0.0.1:$SPORT" 2>"$T/relay.err" &
RELAY=$!
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RPORT" || { cat "$T/relay.err" >&2; exit 1; }

QUERY="ingest?name=shop%7Benv%3Dbench%2Cregion%3Deu%7D&format=pprof&spyName=gospy&sampleRate=100"
URL="http://127.0.0.1:$PPORT/$QUERY" RURL="http://127.0.0.1:$RPORT/$QUERY"
batch() { # name pid url file posts -> appends "ms_per_profile load" to $T/name
  local t0 t1
  t0=$(ticks "$2")
  "$T/post" -url "$3" -file "$4" -n "$5" -c "$CLIENTS" >"$T/post.out" ||
    { cat "$T/post.out" >&2; tail -5 "$T/p.log" >&2; exit 1; }
  # the relay has written a body before it answers; profpipe is waited for
  [ "$2" != "$PID" ] || wait_until 120 idle || { echo "the pipeline did not drain" >&2; exit 1; }
  t1=$(ticks "$2")
  awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$5" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN {printf "%.4f %s\n", d * 1000 / hz / n, l}' >"$T/$1.last"
  cat "$T/$1.last" >>"$T/$1"
}

small_size=$(wc -c <"$T/small.pb.gz") large_size=$(wc -c <"$T/large.pb.gz")
plain() { python3 -c 'import sys, zlib; print(len(zlib.decompress(open(sys.argv[1], "rb").read(), 31)))' "$1"; }
echo "small: $small_size bytes gzip'd ($(plain "$T/small.pb.gz") plain), $SMALL_N posts a round"
echo "large: $large_size bytes gzip'd ($(plain "$T/large.pb.gz") plain), $LARGE_N posts a round"
echo "pipeline: pyroscope /ingest -> relabel (series labels) -> $EXPORTER; $CLIENTS keep-alive clients"

# warm-up: the exporter's folders, the allocator's arenas
"$T/post" -url "$URL" -file "$T/small.pb.gz" -n 200 -c "$CLIENTS" >/dev/null
"$T/post" -url "$URL" -file "$T/large.pb.gz" -n 5 -c "$CLIENTS" >/dev/null
"$T/post" -url "$RURL" -file "$T/small.pb.gz" -n 200 -c "$CLIENTS" >/dev/null
"$T/post" -url "$RURL" -file "$T/large.pb.gz" -n 5 -c "$CLIENTS" >/dev/null
wait_until 120 idle
for r in $(seq 1 "$ROUNDS"); do
  batch small "$PID" "$URL" "$T/small.pb.gz" "$SMALL_N"
  batch large "$PID" "$URL" "$T/large.pb.gz" "$LARGE_N"
  batch relay_small "$RELAY" "$RURL" "$T/small.pb.gz" $((SMALL_N * RELAY_SCALE))
  batch relay_large "$RELAY" "$RURL" "$T/large.pb.gz" $((LARGE_N * RELAY_SCALE))
  read -r s_ms s_load <"$T/small.last"
  read -r l_ms l_load <"$T/large.last"
  read -r rs_ms rs_load <"$T/relay_small.last"
  read -r rl_ms rl_load <"$T/relay_large.last"
  printf 'round %d: small %s ms/profile (load %s)  large %s ms/profile (load %s)\n' \
    "$r" "$s_ms" "$s_load" "$l_ms" "$l_load"
  printf '         relay: small %s ms/profile (load %s)  large %s ms/profile (load %s)\n' \
    "$rs_ms" "$rs_load" "$rl_ms" "$rl_load"
done

loads() { awk '{print $2}' "$1" | sort -n | awk '{v[NR]=$1} END {printf "%s-%s", v[1], v[NR]}'; }
ms=$(awk '{print $1}' "$T/small" | median) ml=$(awk '{print $1}' "$T/large" | median)
rs=$(awk '{print $1}' "$T/relay_small" | median) rl=$(awk '{print $1}' "$T/relay_large" | median)
gz=$(python3 - "$T/large.pb.gz" <<'PY'
import sys, time, zlib
data = open(sys.argv[1], "rb").read()
runs = []
for _ in range(7):
    t = time.process_time()
    for _ in range(10):
        zlib.decompress(data, 31)
    runs.append((time.process_time() - t) / 10 * 1000)
print("%.4f" % sorted(runs)[3])
PY
)
echo "medians of $ROUNDS rounds:"
printf '  small (%d B): %.4f ms CPU per profile (load %s)\n' "$small_size" "$ms" "$(loads "$T/small")"
printf '  large (%d B): %.4f ms CPU per profile (load %s)\n' "$large_size" "$ml" "$(loads "$T/large")"
awk -v s="$ms" -v l="$ml" 'BEGIN {printf "ratio large/small: %.1f (goal <= 2: %s)\n", l / s, (l <= 2 * s) ? "met" : "NOT met"}'
awk -v g="$gz" -v s="$ms" -v l="$ml" 'BEGIN {
  printf "reference: in-process gunzip of the large body alone: %.4f ms (%.1fx the small profile'"'"'s whole cost; %.0f%% of the large one'"'"'s)\n", g, g / s, 100 * g / l }'
printf 'peer: the relay (bytes moved, nothing checked): small %.4f ms, large %.4f ms, ratio %.1f\n' \
  "$rs" "$rl" "$(awk -v s="$rs" -v l="$rl" 'BEGIN {printf "%.1f", l / s}')"
awk -v s="$ms" -v rs="$rs" -v rl="$rl" 'BEGIN {
  printf "moving the large body instead of the small one costs the relay %.4f ms: %.1fx profpipe'"'"'s whole small profile (a ratio of 2 allows 1x)\n", rl - rs, (rl - rs) / s }'
