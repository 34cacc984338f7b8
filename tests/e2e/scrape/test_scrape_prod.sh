#!/usr/bin/env bash
# pprof_scrape against two Go services shaped like production ones: pprof
# behind an X-Pprof-Token check and a rate limiter.
# - A gets the right token (the job's http_headers): profiles flow.
# - B gets a wrong one (its own http_headers): 401, target down, logged
#   once with the status and the target, scrape_up 0; A is unaffected.
# - A then answers 429 with Retry-After: 3 to three requests: each of
#   those profile types waits at least 3 s, then succeeds; nothing stops.
# - then a 503 whose Retry-After is an HTTP date: honoured the same way.
# temp files under our build dir: other suites clean /tmp
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

RETRY_AFTER=3
build_target
PA=$(free_port)
PB=$(free_port)
MP=$(free_port)
start_target a -mode prod -token s3cret -workload=false -addr "127.0.0.1:$PA"
start_target b -mode prod -token s3cret -workload=false -addr "127.0.0.1:$PB"

write_config "$T/c.yaml" "$MP" <<EOF
    targets:
      - address: 127.0.0.1:$PA
        labels: {service_name: svc-a}
      - address: http://127.0.0.1:$PB
        labels: {service_name: svc-b}
        http_headers: {X-Pprof-Token: wrong}
    http_headers: {X-Pprof-Token: s3cret}
    scrape_interval: 2s
    scrape_timeout: 2s
EOF
start_profpipe scrape "$T/c.yaml"
wait_for 30 files_at_least "$T/out/svc-a/goroutine" 2 ||
  { cat "$T/scrape.log"; fail "no goroutine profiles from A"; }
# B retried (and failing) for a few intervals; waited on, not slept
b_401_at_least() { [ "$(target_requests "$PB" | awk '$3 == 401' | wc -l)" -ge "$1" ]; }
wait_for 40 b_401_at_least 10 || fail "B was not retried every interval"

# --- wrong token ---
n401=$(count_log warn "target http://127\.0\.0\.1:$PB down: /debug/pprof/[a-z]+: HTTP 401")
[ "$n401" = 1 ] || { grep "$PB" "$T/scrape.log"; fail "want one warning for B's 401, got $n401"; }
[ "$(target_requests "$PB" | awk '$3 == 401' | wc -l)" -ge 10 ] || fail "B was not retried every interval"
up_b=$(metric "scrape_up{component_id=\"pprof_scrape/e2e\",target=\"http://127.0.0.1:$PB\"}" "$MP")
up_a=$(metric "scrape_up{component_id=\"pprof_scrape/e2e\",target=\"http://127.0.0.1:$PA\"}" "$MP")
[ "$up_b" = 0 ] && [ "$up_a" = 1 ] || fail "scrape_up: A=$up_a B=$up_b, want 1 and 0"
e401=$(metric "target=\"http://127.0.0.1:$PB\",reason=\"http_401\"" "$MP")
[ "${e401:-0}" -ge 5 ] || fail "errors_total{reason=http_401} for B is '$e401'"
[ ! -d "$T/out/svc-b" ] || fail "profiles from B despite 401"
for name in process_cpu memory goroutine block mutex; do
  files_at_least "$T/out/svc-a/$name" 1 || [ "$name" != goroutine ] ||
    fail "A has no $name profiles"
done
pass "wrong token: B down, one warning with HTTP 401, scrape_up 0; A keeps working"

# --- 429 with Retry-After ---
curl -sf "http://127.0.0.1:$PA/control/reject?n=3&retry_after=$RETRY_AFTER" ||
  fail "cannot reach A's control endpoint"
before=$(find "$T/out/svc-a" -name '*.pb.gz' | wc -l)
# until each of the three rejected profile types was requested again
# (the checks below then say whether that waited for Retry-After)
rejected_retried() {
  target_requests "$PA" >"$T/a.req"
  awk '$3 == 429 { t[$2] = 1; n++; next } ($2 in t) { d[$2] = 1 }
    END { for (p in t) if (!(p in d)) exit 1; exit n != 3 }' "$T/a.req"
}
wait_for 40 rejected_retried || true
target_requests "$PA" >"$T/a.req"
n429=$(awk '$3 == 429' "$T/a.req" | wc -l)
[ "$n429" = 3 ] || fail "A answered $n429 requests with 429, want 3"
awk -v ra=$((RETRY_AFTER * 1000)) '
  $3 == 429 { t429[$2] = $1; next }
  ($2 in t429) && !($2 in after) { after[$2] = $1; ok[$2] = ($3 == 200) }
  END {
    for (p in t429) {
      if (!(p in after)) { print "no request for " p " after its 429"; bad = 1; continue }
      gap = after[p] - t429[p]
      if (gap < ra - 100) { print p ": next request after " gap " ms"; bad = 1 }
      if (!ok[p]) { print p ": next request did not succeed"; bad = 1 }
    }
    exit bad
  }' "$T/a.req" || fail "Retry-After not honoured"
[ "$(count_log warn "127\.0\.0\.1:$PA/debug/pprof/[a-z]+ failed: HTTP 429")" -ge 1 ] ||
  fail "no warning for the 429"
after=$(find "$T/out/svc-a" -name '*.pb.gz' | wc -l)
[ "$after" -gt "$before" ] || fail "no profiles from A after the 429s"
kill -0 "$PROFPIPE_PID" || fail "profpipe died"
pass "429: each rejected type waited >= ${RETRY_AFTER}s, then succeeded; $((after - before)) new profiles"


# --- 503 with Retry-After as an HTTP date 5 s ahead (second resolution:
# >= 4 s), longer than the 2 s interval ---
t503=$(date +%s%3N)
curl -sf "http://127.0.0.1:$PA/control/reject?n=1&retry_after=5&status=503&as_date=1" ||
  fail "cannot reach A's control endpoint"
retried_503() {
  target_requests "$PA" | awk -v t="$t503" '$1 > t' >"$T/a503.req"
  awk '$3 == 503 { p = $2; next } p != "" && $2 == p { found = 1 } END { exit !found }' "$T/a503.req"
}
wait_for 40 retried_503 || { cat "$T/a503.req"; fail "the 503'd type was not requested again"; }
awk '$3 == 503 && !p { p = $2; t = $1; next }
  p != "" && $2 == p { gap = $1 - t; ok = $3 == 200; exit }
  END { if (gap < 3900 || !ok) { print p ": next request after " gap " ms, status ok=" ok; exit 1 } }' \
  "$T/a503.req" || fail "Retry-After (HTTP date) of the 503 not honoured"
[ "$(count_log warn "127\.0\.0\.1:$PA/debug/pprof/[a-z]+ failed: HTTP 503")" -ge 1 ] ||
  fail "no warning for the 503"
e503=$(metric "target=\"http://127.0.0.1:$PA\",reason=\"http_503\"" "$MP")
[ "${e503:-0}" = 1 ] || fail "errors_total{reason=http_503} for A is '${e503:-}', want 1"
pass "503 with an HTTP-date Retry-After: that type waited >= 4 s (interval 2 s), then succeeded; errors_total http_503 = 1"

stop_profpipe "$PROFPIPE_PID"
assert_no_negative
