#!/usr/bin/env bash
# pprof_scrape's failures, each confined to its target or profile type:
# - a 200 with an HTML page, a truncated gzip, a pprof that inflates past
#   body_size_limit, and a body larger than body_size_limit on the wire
#   (aborted mid-transfer): a warning naming target, path and reason,
#   once (not every interval), no profile, errors_total by reason;
# - a refused connection and a target that never answers (timeout): the
#   target is down, one warning each, scrape_up 0;
# - meanwhile the healthy profile type of the healthy target keeps coming.
# temp files under our build dir: other suites clean /tmp
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

build_target
P=$(free_port)
SILENT=$(free_port)
REFUSED=$(free_port)
MP=$(free_port)
start_target plain -workload=false -addr "127.0.0.1:$P" -silent "127.0.0.1:$SILENT"

write_config "$T/c.yaml" "$MP" <<EOF
    targets:
      - address: 127.0.0.1:$P
        labels: {service_name: good}
      - 127.0.0.1:$SILENT
      - 127.0.0.1:$REFUSED
    scrape_interval: 1s
    scrape_timeout: 500ms
    body_size_limit: 1MiB
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.memory: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
      profile.custom:
        - {name: html, path: /bad/html}
        - {name: truncated, path: /bad/truncated}
        - {name: big, path: "/bad/big?mb=2"}
        - {name: huge, path: "/bad/big?mb=2&random=1"}
EOF
start_profpipe scrape "$T/c.yaml"
wait_for 30 files_at_least "$T/out/good/goroutine" 4 ||
  { cat "$T/scrape.log"; fail "no goroutine profiles from the good target"; }
errors() { # target reason -> the errors_total value
  grep -F "scrape_errors_total{component_id=\"pprof_scrape/e2e\",target=\"http://127.0.0.1:$1\",reason=\"$2\"}" \
    "$T/metrics.txt" | awk '{print $NF}'
}
REASONS=("$P invalid_profile" "$P body_size_limit" "$REFUSED connect" "$SILENT timeout")
# /metrics once every failing target and reason counted twice (no sleep)
errors_counted() {
  local tr v
  curl -sf "http://127.0.0.1:$MP/metrics" >"$T/metrics.txt" || return 1
  for tr in "${REASONS[@]}"; do
    set -- $tr
    v=$(errors "$1" "$2")
    [ "${v:-0}" -ge 2 ] || return 1
  done
}
wait_for 30 errors_counted || true
stop_profpipe "$PROFPIPE_PID"

base="http://127\.0\.0\.1:$P"
expect_once() { # what regex
  local n
  n=$(count_log warn "$2")
  [ "$n" = 1 ] || { grep -E "$2" "$T/scrape.log" >&2 || grep "level=warn" "$T/scrape.log" >&2 || true; fail "$1: $n warnings, want 1"; }
}
expect_once html "scrape $base/bad/html failed: not a pprof: invalid protobuf at byte 0 \(body starts .*<!DOCTYPE html>"
expect_once truncated "scrape $base/bad/truncated failed: not a pprof: gzip"
expect_once big "scrape $base/bad/big\?mb=2 failed: body inflates to 2097152 bytes, more than body_size_limit \(1048576 bytes\)"
expect_once huge "scrape $base/bad/big\?mb=2&random=1 failed: body larger than body_size_limit \(1048576 bytes\): aborted"
expect_once refused "target http://127\.0\.0\.1:$REFUSED down: /[^:]*: .*([Cc]onnect|refused)"
expect_once timeout "target http://127\.0\.0\.1:$SILENT down: /[^:]*: .*[Tt]imed out"
pass "bad bodies and unreachable targets: one warning each, naming target, path and reason"

for name in html truncated big huge; do
  [ ! -d "$T/out/good/$name" ] || fail "a $name profile was emitted"
done
n_good=$(find "$T/out/good/goroutine" -name '*.pb.gz' | wc -l)
[ "$(find "$T/out" -name '*.pb.gz' | wc -l)" = "$n_good" ] || fail "profiles from a failing target"
pass "only the good target's goroutine profiles came out ($n_good)"

for tr in "${REASONS[@]}"; do
  set -- $tr
  v=$(errors "$1" "$2")
  [ "${v:-0}" -ge 2 ] || fail "errors_total for $1 reason $2 is '${v:-}', want >= 2"
done
grep -qF "scrape_up{component_id=\"pprof_scrape/e2e\",target=\"http://127.0.0.1:$SILENT\"} 0" \
  "$T/metrics.txt" || fail "the silent target is not down in /metrics"
pass "errors_total by reason and scrape_up in /metrics"
