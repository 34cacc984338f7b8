#!/usr/bin/env bash
# pprof_scrape across a target restart: the Go service is killed (-9)
# and started again on the same port. Its cumulative counters start from
# zero, so the first scrape of the new process must become a new delta
# baseline: no negative value anywhere, the target logged down then up,
# and the deltas after the restart add up exactly to what the new
# process' allocator counted from that baseline on.
# temp files under our build dir: other suites clean /tmp
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

build_target
P=$(free_port)
MP=$(free_port)
start_target first -addr "127.0.0.1:$P"

write_config "$T/c.yaml" "$MP" <<EOF
    targets:
      - address: 127.0.0.1:$P
        labels: {service_name: rs}
    scrape_interval: 1s
    scrape_timeout: 1s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.goroutine: {enabled: false}
EOF
start_profpipe scrape "$T/c.yaml"
wait_for 20 files_at_least "$T/out/rs/memory" 3 ||
  { cat "$T/scrape.log"; fail "no memory profiles before the restart"; }

kill -KILL "$TARGET_PID"
wait "$TARGET_PID" 2>/dev/null || true
# profpipe saw it gone (no fixed sleep)
wait_for 20 grep -q "level=warn .*target http://127\.0\.0\.1:$P down: " "$T/scrape.log" ||
  fail "the killed target was not reported down"
restart_ns=$(date +%s%N)
start_target second -addr "127.0.0.1:$P"
before=$(find "$T/out/rs/memory" -name '*.pb.gz' | wc -l)
wait_for 20 files_at_least "$T/out/rs/memory" $((before + 3)) ||
  fail "no memory profiles after the restart"
stop_profpipe "$PROFPIPE_PID"

[ "$(count_log warn "target http://127\.0\.0\.1:$P down: ")" = 1 ] || fail "want one 'down' warning"
[ "$(count_log info "target http://127\.0\.0\.1:$P up again")" = 1 ] || fail "want one 'up again'"
count_log info "/debug/pprof/allocs: counters went back \(process restarted\?\): new delta baseline" |
  grep -qx 1 || fail "memory baseline not reset exactly once"
assert_no_negative
pass "restart: down, up again, new baselines, no negative values"

# Deltas after the restart: from the new process' first (baseline) scrape
# on; file names start with the profile's from-time in ns.
curl -sf "http://127.0.0.1:$P/stats" >"$T/stats.json"
snap() { grep -o "\"$1\":[0-9]*" "$T/stats.json" | sed -n "$2p" | cut -d: -f2; }
got=0 m=0
for f in "$T"/out/rs/memory/*.pb.gz; do
  from=$(basename "$f" | cut -d- -f1)
  [ "$from" -gt "$restart_ns" ] || continue
  got=$((got + $(raw_sum "$f" 2 main.growOnce leaf 'bytes:[4096]')))
  m=$((m + 1))
done
want=$(( $(snap alloc_bytes $((m + 1))) - $(snap alloc_bytes 1) ))
[ "$got" = "$want" ] || fail "after the restart, $m deltas sum to $got bytes, allocator counted $want"
pass "after the restart: $m deltas sum to the new process' $want bytes"
