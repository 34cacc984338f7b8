#!/usr/bin/env bash
# service.memory_limit end to end, with the real binary on both sides:
#   A: pyroscope receiver -> pyroscope exporter pointing at B, which is
#      down at first, so every accepted profile waits in A's queue;
#   B: another profpipe, a pyroscope receiver -> file exporter (the count).
# A runs with soft/hard limits a few tens of MiB above its own idle RSS
# (measured in a first, unlimited run). A burst of 250 KB profiles from 4
# concurrent clients (tests/e2e/memory/burst, Go's net/http) then:
#   - gets 503s, each with a Retry-After, once past the soft limit;
#   - leaves A's peak RSS (VmHWM) under the hard limit plus a fixed
#     overhead, and /metrics counts the refusals (the pressure itself
#     comes and goes with the requests in flight);
# B comes up, A's queue drains, the pressure ends (RSS back under the
# soft limit: malloc_trim after the drain), and the same client's posts,
# retried on Retry-After, all get 200. Every profile answered 200 is in
# B's file exporter: nothing accepted was lost. Last, bad limits are
# config errors naming the option and its line.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"

MIB=$((1 << 20))
SOFT_ABOVE_IDLE=$((40 * MIB))
HARD_ABOVE_IDLE=$((96 * MIB))
# what RSS may pass the hard limit by: requests already being read when
# the limit is reached (4 clients x a 250 KB body, inflated and checked)
# and a check interval's growth
OVERHEAD=$((24 * MIB))
BURST=600
if [ "$SANITIZE" = 1 ]; then
  # ASan keeps freed blocks in a quarantine and its own caches: a small
  # quarantine, released to the kernel, lets RSS show what is alive
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:allocator_release_to_os_interval_ms=100"
fi

go_build "$T/bigprof" "$SOURCE_DIR/tests/e2e/ui/bigprof" || fail "cannot build bigprof"
go_build "$T/burst" "$SOURCE_DIR/tests/e2e/memory/burst" || fail "cannot build burst"
"$T/bigprof" "$T/cpu.pb.gz" 5000 20000 1 >/dev/null
size=$(wc -c <"$T/cpu.pb.gz")

metric_of() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
ready() { curl -sf "http://127.0.0.1:$1/healthz" >/dev/null; }
pa=$(free_port) ma=$(free_port) pb=$(free_port) mb=$(free_port)

config_a() { # memory_limit lines
  cat >"$T/a.yaml" <<YAML
receivers:
  pyroscope: {endpoint: "127.0.0.1:$pa"}
exporters:
  pyroscope:
    endpoint: "http://127.0.0.1:$pb"
    retry_on_failure: {initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 10m}
    sending_queue: {queue_size: 1GiB}
service:
  telemetry: {address: "127.0.0.1:$ma"}
  ui: {enabled: false}
$1
  pipelines:
    profiles/default: {receivers: [pyroscope], exporters: [pyroscope]}
YAML
}

# idle RSS of A without a limit
config_a ""
start_profpipe idle "$T/a.yaml"
wait_for 30 ready "$ma" || fail "A did not start: $(tail -3 "$T/idle.log")"
sleep 1
idle=$(($(awk '/^VmRSS:/ {print $2}' "/proc/$PROFPIPE_PID/status") * 1024))
stop_profpipe "$PROFPIPE_PID"
soft=$((SOFT_ABOVE_IDLE + idle)) hard=$((HARD_ABOVE_IDLE + idle))

config_a "  memory_limit: {soft_limit: $soft, hard_limit: $hard, check_interval: 100ms}"
start_profpipe a "$T/a.yaml"
A=$PROFPIPE_PID
wait_for 30 ready "$ma" || fail "A did not start: $(tail -3 "$T/a.log")"
[ "$(metric_of "$ma" profpipe_memory_soft_limit_bytes)" = "$soft" ] || fail "soft limit not in /metrics"
[ "$(metric_of "$ma" profpipe_memory_hard_limit_bytes)" = "$hard" ] || fail "hard limit not in /metrics"
[ "$(metric_of "$ma" profpipe_memory_pressure)" = 0 ] || fail "pressure at idle"

url="http://127.0.0.1:$pa/ingest?name=burst%7Benv%3Dtest%7D&format=pprof&spyName=gospy"
bg "$T/burst" -url "$url" -file "$T/cpu.pb.gz" -clients 4 -requests $BURST \
  -resume "$T/resume" -after 5 -deadline 180s >"$T/burst.out" 2>"$T/burst.err"
burst_done() { grep -q '^burst ' "$T/burst.out"; }
wait_for 300 burst_done || fail "the burst did not end: $(tail -3 "$T/burst.err")"
read -r ok refused bad other < <(sed -n 's/^burst ok=\([0-9]*\) refused=\([0-9]*\) bad_retry_after=\([0-9]*\) other=\([0-9]*\)$/\1 \2 \3 \4/p' "$T/burst.out")
peak=$(($(awk '/^VmHWM:/ {print $2}' "/proc/$A/status") * 1024))
[ "$refused" -gt 0 ] || fail "no 503 in a burst of $BURST x $size bytes past a soft limit of $soft"
[ "$ok" -gt 0 ] || fail "nothing accepted before the soft limit"
[ "$bad" = 0 ] || fail "$bad refusals without a Retry-After"
[ "$other" = 0 ] || fail "$other answers neither 200 nor 503: $(head -3 "$T/burst.err")"
[ "$peak" -le $((hard + OVERHEAD)) ] ||
  fail "peak RSS $peak > hard limit $hard + overhead $OVERHEAD (idle $idle)"
queued=$(metric_of "$ma" 'profpipe_exporter_queue_bytes{component_id="pyroscope"}')
[ "${queued%.*}" -gt 0 ] || fail "A's exporter queue is empty while B is down"
refusals=$(metric_of "$ma" 'profpipe_memory_refusals_total{component_id="pyroscope"}')
[ "${refusals:-0}" -ge "$refused" ] || fail "refusals_total $refusals < $refused 503s"
code503=$(metric_of "$ma" 'profpipe_pyroscope_requests_total{component_id="pyroscope",code="503"}')
[ "${code503:-0}" = "$refused" ] || fail "the receiver counted ${code503:-0} 503s, the clients $refused"
pass "burst: $ok accepted, $refused refused with Retry-After; peak RSS $((peak / MIB)) MiB (idle $((idle / MIB)), soft $((soft / MIB)), hard $((hard / MIB)) + $((OVERHEAD / MIB)) MiB overhead)"

# B comes up: A's queue drains, its RSS goes back under the soft limit
mkdir -p "$T/out"
cat >"$T/b.yaml" <<YAML
receivers:
  pyroscope: {endpoint: "127.0.0.1:$pb", max_request_body_size: 256MiB, max_decompressed_size: 512MiB, memory_budget: 1GiB}
exporters:
  file: {directory: "$T/out"}
service:
  telemetry: {address: "127.0.0.1:$mb"}
  ui: {enabled: false}
  pipelines:
    profiles/default: {receivers: [pyroscope], exporters: [file]}
YAML
start_profpipe b "$T/b.yaml"
B=$PROFPIPE_PID
relieved() {
  [ "$(metric_of "$ma" 'profpipe_exporter_queue_bytes{component_id="pyroscope"}')" = 0 ] &&
    [ "$(metric_of "$ma" profpipe_memory_pressure)" = 0 ]
}
wait_for 180 relieved || fail "pressure did not end after the drain: rss $(metric_of "$ma" profpipe_memory_rss_bytes) soft $soft"
trims=$(metric_of "$ma" profpipe_memory_trims_total)
[ "${trims:-0}" -ge 1 ] || fail "no malloc_trim after the drain"
pass "drained: RSS $(($(metric_of "$ma" profpipe_memory_rss_bytes) / MIB)) MiB, under the soft limit again ($trims trims)"

touch "$T/resume"
after_done() { grep -q '^after ' "$T/burst.out"; }
wait_for 240 after_done || fail "the client's posts after the pressure did not end"
read -r aok retries failed < <(sed -n 's/^after ok=\([0-9]*\) retries=\([0-9]*\) failed=\([0-9]*\)$/\1 \2 \3/p' "$T/burst.out")
[ "$failed" = 0 ] && [ "$aok" = 20 ] || fail "after the pressure: ok=$aok failed=$failed: $(tail -3 "$T/burst.err")"
pass "after the pressure the same client's 20 posts got 200 ($retries retried on Retry-After)"

total=$((ok + aok))
count_out() { find "$T/out" -name '*.pb.gz' | wc -l; }
all_out() { [ "$(count_out)" = "$total" ]; }
wait_for 120 all_out || fail "B's file exporter holds $(count_out) profiles, A answered 200 to $total"
stop_profpipe "$A" 60
stop_profpipe "$B"
[ "$(count_out)" = "$total" ] || fail "$(count_out) files after stopping, $total accepted"
pass "nothing accepted was lost: $total answered 200, $total files at B's file exporter"

# bad limits: the option and its line
bad() { # expected-message memory_limit-lines
  cat >"$T/bad.yaml" <<YAML
receivers:
  pyroscope: {}
exporters:
  file: {directory: "$T/out"}
service:
  memory_limit:
$2
  pipelines:
    profiles/default: {receivers: [pyroscope], exporters: [file]}
YAML
  local rc=0
  "$PROFPIPE" validate -c "$T/bad.yaml" >"$T/bad.out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "validate exited $rc for: $2"
  grep -qF "$1" "$T/bad.out" || fail "expected '$1', got: $(cat "$T/bad.out")"
}
bad 'bad.yaml:8:17: service: memory_limit.soft_limit: soft_limit 200MiB (209715200 bytes) is above hard_limit 100MiB (104857600 bytes)' \
  $'    hard_limit: 100MiB\n    soft_limit: 200MiB'
bad 'bad.yaml:7:17: service: memory_limit.hard_limit: invalid size "512QB"' \
  $'    hard_limit: 512QB'
bad 'bad.yaml:8:17: service: memory_limit.soft_limit: percentage 150% is not in (0%, 100%]' \
  $'    hard_limit: 1GiB\n    soft_limit: 150%'
bad 'bad.yaml:7:17: service: memory_limit.hard_limit: percentage 0% is not in (0%, 100%]' \
  $'    hard_limit: 0%'
bad 'bad.yaml:7:5: service: memory_limit.soft_limt: unknown option (valid: hard_limit, soft_limit, check_interval)' \
  $'    soft_limt: 1GiB'
pass "bad memory_limit values are config errors naming the option and the line"
