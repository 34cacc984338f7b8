#!/usr/bin/env bash
# The startup warning for a listener that binds beyond loopback with
# neither auth nor TLS: the pyroscope receiver and the telemetry server on
# 0.0.0.0 without credentials each get one WARN line naming the listener
# and its address; with basic_auth / bearer_token on 0.0.0.0, or without
# credentials on 127.0.0.1, there is none. The ports come from free_port;
# every request goes over loopback (127.0.0.1 reaches 0.0.0.0), a handful
# in all.
source "$SOURCE_DIR/tests/e2e/lib.sh"

# run_case NAME HOST RECEIVER_EXTRA_YAML TELEMETRY_EXTRA_YAML: starts
# profpipe, waits until both listeners answer on 127.0.0.1 and the start
# is logged as done, then stops it; sets RPORT and MPORT.
run_case() {
  local name=$1 host=$2
  RPORT=$(free_port) || fail "no free port"
  MPORT=$(free_port) || fail "no free port"
  [ "$RPORT" != "$MPORT" ] || MPORT=$(free_port) || fail "no free port"
  cat >"$T/$name.yaml" <<YAML
receivers:
  pyroscope:
    endpoint: $host:$RPORT
$3
exporters:
  file: {directory: $T/out-$name}
service:
  telemetry:
    address: $host:$MPORT
$4
  pipelines: {p: {receivers: [pyroscope], exporters: [file]}}
YAML
  start_profpipe "$name" "$T/$name.yaml"
  # any HTTP answer: the listener is up (401 when credentials are required)
  answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1$2")" != 000 ]; }
  wait_for 30 answers "$MPORT" /healthz || fail "$name: telemetry not up: $(tail -3 "$T/$name.log")"
  wait_for 30 answers "$RPORT" /ingest || fail "$name: receiver not up: $(tail -3 "$T/$name.log")"
  # the warnings come before this line, which ends the start
  started() { grep -q 'msg="profpipe .* running' "$T/$name.log"; }
  wait_for 30 started || fail "$name: start not logged: $(tail -3 "$T/$name.log")"
  stop_profpipe "$PROFPIPE_PID"
}

# warning_lines LOG: the exposure warnings of a log
warning_lines() { grep 'level=warn' "$1" | grep 'beyond loopback, with neither auth nor TLS' || true; }

# 1. both on 0.0.0.0, no auth, no TLS: one warning each, naming it
run_case open 0.0.0.0 "" ""
w=$(warning_lines "$T/open.log")
[ "$(grep -c . <<<"$w")" = 2 ] || fail "want 2 exposure warnings, got: ${w:-none}; log: $(cat "$T/open.log")"
grep -q "component=receiver/pyroscope msg=\"pyroscope listening on 0.0.0.0:$RPORT, beyond loopback" <<<"$w" ||
  fail "no warning naming the receiver and 0.0.0.0:$RPORT: $w"
grep -q "msg=\"telemetry listening on 0.0.0.0:$MPORT, beyond loopback" <<<"$w" ||
  fail "no warning naming telemetry and 0.0.0.0:$MPORT: $w"
grep -q 'set basic_auth or bearer_token, tls, allowed_networks' <<<"$w" || fail "the warning names no remedy: $w"
pass "0.0.0.0 without auth or TLS: a warning for each listener, naming it and its address"

# 2. both on 0.0.0.0 with credentials: basic auth on the receiver, a
# bearer token on telemetry
run_case auth 0.0.0.0 "    basic_auth: {username: sdk, password: pw}" "    bearer_token: metrics-token"
w=$(warning_lines "$T/auth.log")
[ -z "$w" ] || fail "warned with auth on both listeners: $w"
c=$(grep -c "listening on 0.0.0.0:$RPORT" "$T/auth.log" || true)
[ "$c" = 1 ] || fail "the receiver's listening line is missing: $(cat "$T/auth.log")"
pass "0.0.0.0 with basic_auth / bearer_token: no warning"

# 3. the other credentials the other way round: bearer token on the
# receiver, basic auth on telemetry
run_case auth2 0.0.0.0 "    bearer_token: push-token" "    basic_auth: {username: prom, password: scrape}"
w=$(warning_lines "$T/auth2.log")
[ -z "$w" ] || fail "warned with auth on both listeners: $w"
pass "0.0.0.0 with bearer_token / basic_auth: no warning"

# 4. loopback without credentials: no warning
run_case loop 127.0.0.1 "" ""
w=$(warning_lines "$T/loop.log")
[ -z "$w" ] || fail "warned on loopback: $w"
grep -q "telemetry on http://127.0.0.1:$MPORT/metrics" "$T/loop.log" || fail "telemetry's start line is missing: $(cat "$T/loop.log")"
pass "127.0.0.1 without auth or TLS: no warning"
