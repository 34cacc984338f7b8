#!/usr/bin/env bash
# The perf receiver's own cost next to `perf record`'s, on the same load in
# the same run: two busy CPUs (two spinning processes) and three samplers
# side by side, each system-wide at 99 Hz with callchains, for DURATION
# seconds (default 60):
#   A  profpipe: perf receiver → bench_discard exporter (bench/perf/
#      discard_exporter.c: gzip-encodes every profile, then drops it);
#   B  profpipe: perf receiver → file exporter (one file per profile);
#   P  perf record -F 99 -a -g (writes perf.data; symbolizes nothing).
#
# Counted, for each, in CPU seconds (user + system) and % of one core:
# - "receiver": A's reader thread (ring reading, process tracking,
#   symbolization, pprof building), from its /metrics counter
#   profpipe_perf_reader_cpu_seconds_total read just before the end;
# - "profpipe, no I/O": all of A's process (receiver + pipeline + pprof
#   encoding and gzip + HTTP server), from the rusage bash's `time` collects;
# - "profpipe + file": all of B's process, the same plus writing files: on a
#   machine with many short-lived processes (builds) file creation is most
#   of it, which is storage cost, not sampling cost;
# - "perf record": all of P's process (sampling + writing perf.data).
#
# usage: bench/perf/run.sh [BUILD_DIR]     (default: build)
# env:   DURATION=60  FREQ=99
# Target (issue 7): profpipe below perf record, and below 1% of one core;
# the verdict is printed for the receiver and for A's whole process.
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE_DIR/bench/lib.sh"
BUILD_DIR=${1:-$SOURCE_DIR/build}
PROFPIPE=$BUILD_DIR/profpipe
DISCARD=$BUILD_DIR/bench/perf/libbench_discard.so
DURATION=${DURATION:-60}
FREQ=${FREQ:-99}
[ -f "$DISCARD" ] || { echo "no $DISCARD: build first (cmake --build $BUILD_DIR)" >&2; exit 1; }
[ -x "$PROFPIPE" ] || { echo "no $PROFPIPE: build first" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf (Debian linux-perf) is needed" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/profpipe-bench-perf.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

port_a=$(free_port)
port_b=$(free_port)
[ "$port_a" != "$port_b" ] || port_b=$((port_a + 1))

cc -O1 -fno-omit-frame-pointer -o "$T/spin" "$SOURCE_DIR/tests/e2e/perf/split_workload.c"
config() { # file port plugins-line exporter-yaml exporter-id
  cat > "$1" <<CFG
receivers:
  perf:
    frequency: $FREQ
    interval: 15s
exporters:
$4
service:
$3
  telemetry:
    address: "127.0.0.1:$2"
  pipelines:
    profiles/default:
      receivers: [perf]
      exporters: [$5]
CFG
}
config "$T/a.yaml" "$port_a" "  plugins: [$DISCARD]" "  bench_discard: {}" bench_discard
config "$T/b.yaml" "$port_b" "" "  file:
    directory: $T/out" file
"$PROFPIPE" validate -c "$T/a.yaml" > /dev/null && "$PROFPIPE" validate -c "$T/b.yaml" > /dev/null

# the load: two CPUs busy for the whole measurement and a little more
for _ in 1 2; do "$T/spin" $((DURATION + 10)) > /dev/null & PIDS+=($!); done
sleep 1

# each sampler runs under bash's `time`: the rusage (user and system, in ms,
# all threads, waited-for descendants included) of its whole life
timed() { # out-file log-file command...
  local out=$1 log=$2; shift 2
  { TIMEFORMAT='%3U %3S'; time "$@" > "$log" 2>&1; } 2> "$out"
}
timed "$T/a.time" "$T/a.log" timeout -s TERM "$((DURATION + 1))" "$PROFPIPE" run -c "$T/a.yaml" &
a_time=$!
timed "$T/b.time" "$T/b.log" timeout -s TERM "$((DURATION + 1))" "$PROFPIPE" run -c "$T/b.yaml" &
b_time=$!
timed "$T/perf.time" "$T/perf.log" \
  perf record -q -F "$FREQ" -a -g -o "$T/perf.data" -- sleep "$DURATION" &
perf_time=$!
sleep "$DURATION.5" # past the flush at DURATION (interval 15s)
curl -sf "http://127.0.0.1:$port_a/metrics" > "$T/a.metrics" || { cat "$T/a.log" >&2; exit 1; }
curl -sf "http://127.0.0.1:$port_b/metrics" > "$T/b.metrics" || { cat "$T/b.log" >&2; exit 1; }
wait "$a_time" || true  # timeout's TERM: profpipe exits 0, timeout says 124
wait "$b_time" || true
wait "$perf_time" || { cat "$T/perf.log" >&2; exit 1; }

grep -q '"comm":"spin"' "$T/out/index.jsonl" || { echo "no profile of the load" >&2; exit 1; }
metric() { awk -v m="profpipe_$2" '$1 ~ "^"m"[{ ]" || $1 == m {s += $NF} END {print s + 0}' "$1"; }
cpu() { awk '{printf "%.3f", $1 + $2}' "$1"; }
awk -v rd="$(metric "$T/a.metrics" perf_reader_cpu_seconds_total)" \
    -v rdb="$(metric "$T/b.metrics" perf_reader_cpu_seconds_total)" \
    -v a="$(cpu "$T/a.time")" -v b="$(cpu "$T/b.time")" -v pf="$(cpu "$T/perf.time")" \
    -v d="$DURATION" -v f="$FREQ" \
    -v s="$(metric "$T/a.metrics" perf_samples_total)" \
    -v l="$(metric "$T/a.metrics" perf_lost_samples_total)" \
    -v na="$(metric "$T/a.metrics" bench_discard_profiles_total)" \
    -v bytes="$(metric "$T/a.metrics" bench_discard_bytes_total)" \
    -v nb="$(wc -l < "$T/out/index.jsonl")" '
function row(what, c) {
  printf "%-34s %7.3f s CPU  %6.3f%% of one core", what, c, 100 * c / d
  if (pf > 0) printf "  %5.2f x perf record", c / pf
  printf "\n"
}
function verdict(what, c) {
  printf "target (%s): below perf record: %s; below 1%% of one core: %s\n", what,
         c < pf ? "yes" : "NO", 100 * c / d < 1 ? "yes" : "NO"
}
BEGIN {
  printf "load: 2 busy CPUs; 3 samplers side by side, each system-wide at %d Hz with callchains, %ds\n", f, d
  printf "  A, when /metrics was read: %d samples kept, %d lost; %d profiles encoded (%.0f KiB gzip'\''d pprof) and dropped\n", s, l, na, bytes / 1024
  printf "  B, at exit: %d profiles written as files\n", nb
  row("A receiver (reader thread)", rd)
  row("A profpipe, no I/O (whole process)", a)
  row("B receiver (reader thread)", rdb)
  row("B profpipe + file exporter", b)
  row(sprintf("perf record -F %d -a -g", f), pf)
  verdict("receiver", rd)
  verdict("profpipe, no I/O", a)
}'
