# Helpers for the listener security tests; sourced after lib.sh and
# pyro_lib.sh. A profpipe runs the pyroscope receiver (basic auth) and
# telemetry (bearer token) with limits small enough for attacks to reach
# them; a good client keeps pushing profiles and scraping /metrics from
# 127.0.0.1 during each attack, which comes from other loopback addresses
# (127.0.0.2 ...), as another host would.

ATTACK="$BUILD_DIR/tests/e2e/security/attack"
[ -x "$ATTACK" ] || fail "attack client not built: $ATTACK"
# RSS peak bound (VmHWM); the sanitizers' shadow memory and quarantine
# need more, so there the bound only catches runaway growth
RSS_BOUND_KIB=$((128 * 1024))
[ "$SANITIZE" = 1 ] && RSS_BOUND_KIB=$((1024 * 1024))
GOOD_LATENCY_BOUND_MS=10000 # generous: a busy 2-core machine
TOKEN=metrics-token

# sec_config RECEIVER_PORT TELEMETRY_PORT [extra receiver yaml] [extra telemetry yaml]
sec_config() {
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
    basic_auth: {username: sdk, password: pw}
    max_connections: 64
    max_connections_per_ip: 16
    read_timeout: 10s
    request_timeout: 5s
    max_header_size: 64KiB
    max_request_body_size: 4MiB
    max_decompressed_size: 8MiB
    memory_budget: 16MiB
    workers: 8
${3:-}
exporters:
  file:
    directory: $T/out
service:
  telemetry:
    address: 127.0.0.1:$2
    bearer_token: $TOKEN
    max_connections: 32
    max_connections_per_ip: 8
    read_timeout: 10s
    request_timeout: 5s
${4:-}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [file]
YAML
}

# sec_start NAME [extra receiver yaml] [extra telemetry yaml]: starts
# profpipe; sets RPORT, MPORT, PROFPIPE_PID.
sec_start() {
  local name=$1; shift
  MPORT=$(unused_port) || fail "no free port"
  USED_PORTS+=("$MPORT")
  sec_write() { sec_config "$1" "$MPORT" "${SEC_EXTRA_R:-}" "${SEC_EXTRA_T:-}"; }
  SEC_EXTRA_R=${1:-} SEC_EXTRA_T=${2:-} start_listening "$name" sec_write
  RPORT=$LISTEN_PORT
  local scheme=http
  [[ "${2:-}" != *tls:* ]] || scheme=https # (-k: the TLS test checks the certificate itself)
  tel_answers() { # any HTTP answer (an allowlist may refuse this client)
    [ "$(curl -ks -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$scheme://127.0.0.1:$MPORT/healthz")" != 000 ]
  }
  wait_for 20 tel_answers ||
    fail "telemetry not up on $MPORT: $(tail -3 "$T/$name.log")"
}

GOOD_PROFILE=""
good_profile() {
  go_profiles_into "$T/in"
  GOOD_PROFILE="$T/in/cpu.pb.gz"
}

# good_client: until $T/stop exists (or 120 s), one authenticated /ingest
# and one /metrics scrape every 0.3 s; each line of $T/good.log is
# "ingest|metrics HTTP_CODE SECONDS".
good_client() {
  local end=$(( $(date +%s) + 120 )) now
  while [ ! -e "$T/stop" ] && [ "$(date +%s)" -lt "$end" ]; do
    now=$(date +%s)
    curl -sS -o /dev/null -w 'ingest %{http_code} %{time_total}\n' --max-time 30 -u sdk:pw \
      -H 'Content-Type: application/octet-stream' --data-binary @"$GOOD_PROFILE" \
      "http://127.0.0.1:$RPORT/ingest?name=good%7Bi%3D$now%7D&format=pprof" >>"$T/good.log" 2>/dev/null ||
      echo "ingest 000 30" >>"$T/good.log"
    curl -sS -o /dev/null -w 'metrics %{http_code} %{time_total}\n' --max-time 30 \
      -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MPORT/metrics" >>"$T/good.log" 2>/dev/null ||
      echo "metrics 000 30" >>"$T/good.log"
    sleep 0.3
  done
}

start_good_client() { rm -f "$T/stop" "$T/good.log"; touch "$T/good.log"; good_client & GOOD_PID=$!; PIDS+=("$GOOD_PID"); }

# stop_good_client WHAT: stops it and checks that during WHAT both routes
# kept answering 200 within the bound (a 503 with Retry-After is a retry,
# as the SDKs do it, so it is allowed but counted); prints the latencies.
stop_good_client() {
  touch "$T/stop"
  wait "$GOOD_PID" 2>/dev/null || true
  local kind ok bad max
  for kind in ingest metrics; do
    ok=$(awk -v k=$kind '$1 == k && $2 == 200' "$T/good.log" | wc -l)
    bad=$(awk -v k=$kind '$1 == k && $2 != 200 && $2 != 503' "$T/good.log" | wc -l)
    max=$(awk -v k=$kind '$1 == k && $2 == 200 { if ($3 > m) m = $3 } END { printf "%d", m * 1000 }' "$T/good.log")
    [ "$ok" -ge 2 ] || fail "$1: only $ok good $kind requests answered 200: $(grep "^$kind" "$T/good.log" | sed -n 1,5p | tr '\n' ' ')"
    [ "$bad" = 0 ] || fail "$1: $bad good $kind requests failed: $(awk -v k=$kind '$1 == k && $2 != 200' "$T/good.log" | sed -n 1,5p | tr '\n' ' ')"
    [ "$max" -le "$GOOD_LATENCY_BOUND_MS" ] || fail "$1: a good $kind took ${max}ms (bound ${GOOD_LATENCY_BOUND_MS}ms)"
    echo "  $1: good $kind: $ok answered 200, slowest ${max}ms, 503s: $(awk -v k=$kind '$1 == k && $2 == 503' "$T/good.log" | wc -l)"
  done
  GOOD_ACCEPTED=$(( ${GOOD_ACCEPTED:-0} + $(awk '$1 == "ingest" && $2 == 200' "$T/good.log" | wc -l) ))
}

# check_rss WHAT: the peak RSS of profpipe so far is under the bound.
check_rss() {
  local hwm
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$PROFPIPE_PID/status")
  [ "$hwm" -le "$RSS_BOUND_KIB" ] || fail "$1: profpipe's RSS peaked at ${hwm} KiB (bound ${RSS_BOUND_KIB} KiB)"
  echo "  $1: RSS peak ${hwm} KiB (bound ${RSS_BOUND_KIB} KiB)"
}

# check_nothing_lost: after SIGTERM, every /ingest answered 200 is in the
# file exporter's index, as a profile of service "good".
check_nothing_lost() {
  stop_profpipe "$PROFPIPE_PID" 60
  local written
  written=$(grep -c '"service_name":"good"' "$T/out/index.jsonl" 2>/dev/null || true)
  [ "${written:-0}" = "${GOOD_ACCEPTED:-0}" ] ||
    fail "${GOOD_ACCEPTED:-0} good profiles accepted, ${written:-0} written"
  pass "all ${GOOD_ACCEPTED:-0} accepted profiles written"
}

# attack_field OUTPUT KEY: the value of KEY= in attack's output.
attack_field() { sed -n "s/^$2=//p" <<<"$1"; }
