#!/usr/bin/env bash
# pprof_scrape with file_sd: targets come from Prometheus file_sd files
# (JSON and YAML, matched by a glob) and follow their changes:
# - a target added to a file is scraped within one interval (+ refresh);
# - one removed stops being scraped, its self-metrics go away;
# - a broken file keeps the previous targets, with a warning;
# - the delta baselines of removed targets are let go: the
#   scrape_delta_baseline_bytes gauge is back at 0 with no target left,
#   and so is the span of the mapping that held them
#   (scrape_delta_baseline_heap_bytes).
# temp files under our build dir: other suites clean /tmp
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

INTERVAL_MS=1000
REFRESH_MS=300
build_target
PA=$(free_port)
PB=$(free_port)
MP=$(free_port)
start_target ab -workload=false -addr "127.0.0.1:$PA,127.0.0.1:$PB"
mkdir -p "$T/sd"
# files are replaced whole (rename), as configuration tools do
put() { printf '%s\n' "$2" >"$T/sd/.tmp" && mv "$T/sd/.tmp" "$T/sd/$1"; }
put a.json "[{\"targets\": [\"127.0.0.1:$PA\"], \"labels\": {\"service_name\": \"sd-a\"}}]"

write_config "$T/c.yaml" "$MP" <<EOF
    file_sd:
      files: ["$T/sd/*.json", "$T/sd/*.yaml"]
      refresh_interval: ${REFRESH_MS}ms
    scrape_interval: ${INTERVAL_MS}ms
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
EOF
start_profpipe scrape "$T/c.yaml"
wait_for 20 files_at_least "$T/out/sd-a/goroutine" 2 ||
  { cat "$T/scrape.log"; fail "no profiles from the file_sd target"; }

# --- add B in a YAML file ---
t_add=$(date +%s%3N)
put b.yaml "- targets: ['127.0.0.1:$PB']
  labels: {service_name: sd-b, env: test}"
wait_for 10 files_at_least "$T/out/sd-b/goroutine" 1 || fail "B not scraped after being added"
first_b=$(target_requests "$PB" | awk 'NR == 1 {print $1}')
lag=$((first_b - t_add))
[ "$lag" -le $((INTERVAL_MS + REFRESH_MS + 500)) ] || fail "B first scraped ${lag} ms after being added"
grep -F '"env":"test"' "$T/out/index.jsonl" | grep -F '"service_name":"sd-b"' >/dev/null ||
  fail "B's file_sd labels missing"
pass "added target scraped after ${lag} ms (interval ${INTERVAL_MS} ms, refresh ${REFRESH_MS} ms)"

# memory is a cumulative type: a delta (a file) means a baseline is held
baseline_bytes() { metric 'profpipe_scrape_delta_baseline_bytes{component_id="pprof_scrape/e2e"}' "$MP"; }
wait_for 20 files_at_least "$T/out/sd-a/memory" 1 || fail "no memory delta from A"
wait_for 20 files_at_least "$T/out/sd-b/memory" 1 || fail "no memory delta from B"
held=$(baseline_bytes)
[ "${held:-0}" -gt 0 ] || fail "scrape_delta_baseline_bytes is '$held' with two baselines held"
span=$(metric 'profpipe_scrape_delta_baseline_heap_bytes{component_id="pprof_scrape/e2e"}' "$MP")
[ "${span:-0}" -ge "$held" ] ||
  fail "scrape_delta_baseline_heap_bytes is '$span', less than the $held bytes of baselines it holds"
pass "two targets' memory baselines: scrape_delta_baseline_bytes $held, in $span bytes of mapping"

# --- remove A ---
put a.json "[]"
wait_for 5 grep -qF "target removed: http://127.0.0.1:$PA" "$T/scrape.log" ||
  fail "A not removed"
t_rm=$(date +%s%3N)
# B scraped three times since: A's slot had two intervals to show up
b_since() { [ "$(target_requests "$PB" | awk -v t="$1" '$1 > t && $2 == "/debug/pprof/goroutine"' | wc -l)" -ge "$2" ]; }
wait_for 20 b_since "$t_rm" 3 || fail "B not scraped after A's removal"
late=$(target_requests "$PA" | awk -v t="$t_rm" '$1 > t' | wc -l)
[ "$late" = 0 ] || fail "A still scraped $late times after removal"
curl -sf "http://127.0.0.1:$MP/metrics" >"$T/metrics.txt"
! grep -qF "target=\"http://127.0.0.1:$PA\"" "$T/metrics.txt" || fail "A's metrics remain"
grep -qF "scrape_targets{component_id=\"pprof_scrape/e2e\"} 1" "$T/metrics.txt" ||
  fail "scrape_targets is not 1"
pass "removed target no longer scraped, its metrics gone"

# --- a broken file keeps what was there ---
n_b=$(target_requests "$PB" | wc -l)
put a.json '[{"targets": ["127.0.0.1:1"'
wait_for 5 grep -q "level=warn .*file_sd: .*a.json.*keeping the previous targets" "$T/scrape.log" ||
  fail "no warning for the broken file"
t_broken=$(date +%s%3N)
wait_for 20 b_since "$t_broken" 2 || fail "B not scraped after the broken file"
[ "$(target_requests "$PB" | wc -l)" -gt "$n_b" ] || fail "B not scraped after the broken file"
pass "broken file: warning, previous targets kept"

# --- no target left: no baseline held ---
put a.json "[]"
put b.yaml "[]"
wait_for 5 grep -qF "target removed: http://127.0.0.1:$PB" "$T/scrape.log" ||
  fail "B not removed"
# the log line comes just before the target is freed and the gauges set
gauge_is() { [ "$(metric "$1{component_id=\"pprof_scrape/e2e\"}" "$MP")" = "$2" ]; }
wait_for 5 gauge_is profpipe_scrape_targets 0 ||
  fail "scrape_targets is '$(metric 'profpipe_scrape_targets{' "$MP")', not 0"
wait_for 5 gauge_is profpipe_scrape_delta_baseline_bytes 0 ||
  fail "scrape_delta_baseline_bytes is '$(baseline_bytes)' with no target left"
wait_for 5 gauge_is profpipe_scrape_delta_baseline_heap_bytes 0 ||
  fail "scrape_delta_baseline_heap_bytes is '$(metric 'profpipe_scrape_delta_baseline_heap_bytes{' "$MP")' with no target left"
pass "every target removed: scrape_delta_baseline_bytes 0, scrape_delta_baseline_heap_bytes 0"

stop_profpipe "$PROFPIPE_PID"
