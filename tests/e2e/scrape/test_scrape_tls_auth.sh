#!/usr/bin/env bash
# pprof_scrape's transport settings against real Go servers:
# - HTTPS with a self-signed certificate issued for "pprof.test" only:
#   tls_config {ca_file, server_name} verifies it while connecting to
#   127.0.0.1; a bearer token read from bearer_token_file is accepted;
# - the same server without the CA: the TLS failure is logged once with
#   curl's reason, nothing is emitted;
# - with insecure_skip_verify but a wrong bearer token: 401, down; with
#   the right one inline: profiles (as with an inline basic_auth password);
# - plain HTTP with basic_auth (password from password_file);
# - mutual TLS: a server requiring a client certificate accepts the
#   tls_config cert_file/key_file pair and refuses a target without it;
# - two targets at the same URL keep separate self-metrics.
# temp files under our build dir: other suites clean /tmp
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

build_target
PT=$(free_port)
PB=$(free_port)
PM=$(free_port)
MP=$(free_port)
"$T/target" -mode prod -workload=false -tls-name pprof.test -tls-ca "$T/ca.pem" -bearer b3arer \
  -addr "127.0.0.1:$PT" >"$T/tls.log" 2>&1 &
PIDS+=($!)
wait_for 20 curl -sfk "https://127.0.0.1:$PT/stats" || fail "TLS target did not start"
"$T/target" -workload=false -tls-name pprof.test -tls-ca "$T/ca-m.pem" \
  -tls-client-cert "$T/client.pem" -addr "127.0.0.1:$PM" >"$T/mtls.log" 2>&1 &
PIDS+=($!)
wait_for 20 test -s "$T/client.pem.key" || fail "mTLS target did not start"
start_target basic -mode prod -workload=false -basic alice:wonder -addr "127.0.0.1:$PB"
printf 'b3arer\n' >"$T/token"
printf 'wonder\n' >"$T/password"

write_config "$T/c.yaml" "$MP" <<EOF2
    targets:
      - address: https://127.0.0.1:$PT
        labels: {service_name: tls-ok}
        bearer_token_file: $T/token
        tls_config: {ca_file: $T/ca.pem, server_name: pprof.test}
      - address: https://127.0.0.1:$PT/
        labels: {service_name: tls-no-ca}
        bearer_token_file: $T/token
      - address: https://127.0.0.1:$PT
        labels: {service_name: tls-bad-token}
        bearer_token: wrong
        tls_config: {insecure_skip_verify: true}
      - address: https://127.0.0.1:$PM
        labels: {service_name: mtls-ok}
        tls_config: {ca_file: $T/ca-m.pem, server_name: pprof.test,
                     cert_file: $T/client.pem, key_file: $T/client.pem.key}
      - address: https://127.0.0.1:$PM
        labels: {service_name: mtls-no-cert}
        tls_config: {ca_file: $T/ca-m.pem, server_name: pprof.test}
      - address: 127.0.0.1:$PB
        labels: {service_name: basic-ok}
        basic_auth: {username: alice, password_file: $T/password}
      - address: http://127.0.0.1:$PB/
        labels: {service_name: basic-inline}
        basic_auth: {username: alice, password: wonder}
      - address: https://127.0.0.1:$PT/
        labels: {service_name: bearer-inline}
        bearer_token: b3arer
        tls_config: {insecure_skip_verify: true}
    scrape_interval: 1s
    scrape_timeout: 1s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
EOF2
start_profpipe scrape "$T/c.yaml"
wait_for 20 files_at_least "$T/out/tls-ok/goroutine" 2 ||
  { cat "$T/scrape.log"; fail "nothing over TLS with the CA and server_name"; }
wait_for 10 files_at_least "$T/out/basic-ok/goroutine" 2 || fail "nothing with basic auth"
# waited on: a memory delta (after its baseline), both refusals logged,
# both targets at https://127.0.0.1:$PT in /metrics
# with server_name, the log names the target by that name (it is the URL
# libcurl is given; the address is reached through CURLOPT_CONNECT_TO)
MTLS_REFUSED="target https://pprof\.test:$PM down: /debug/pprof/[a-z]+: .*(certificate|SSL|handshake)"
tls_settled() {
  files_at_least "$T/out/tls-ok/memory" 1 || return 1
  files_at_least "$T/out/mtls-ok/goroutine" 2 || return 1
  files_at_least "$T/out/basic-inline/goroutine" 2 || return 1
  files_at_least "$T/out/bearer-inline/goroutine" 2 || return 1
  [ "$(count_log warn "$MTLS_REFUSED")" -ge 1 ] || return 1
  [ "$(count_log warn "https://127\.0\.0\.1:$PT.*(certificate|SSL)")" -ge 1 ] || return 1
  [ "$(count_log warn "target https://127\.0\.0\.1:$PT down: .*HTTP 401")" -ge 1 ] || return 1
  curl -sf "http://127.0.0.1:$MP/metrics" >"$T/metrics.txt" || return 1
  [ "$(grep -c "^profpipe_scrape_up{component_id=\"pprof_scrape/e2e\",target=\"https://127.0.0.1:$PT\"" "$T/metrics.txt")" -ge 3 ]
}
wait_for 20 tls_settled || true
[ -s "$T/metrics.txt" ] || { grep "level=warn" "$T/scrape.log" >&2; fail "no /metrics"; }
stop_profpipe "$PROFPIPE_PID"

# two targets at the same URL (other labels) keep separate self-metrics
n_up=$(grep -c "^profpipe_scrape_up{component_id=\"pprof_scrape/e2e\",target=\"https://127.0.0.1:$PT\"" "$T/metrics.txt" || true)
[ "$n_up" = 3 ] || fail "want three scrape_up series (no-ca, bad-token, bearer-inline) for https://127.0.0.1:$PT, got $n_up"
grep -q "target=\"https://127.0.0.1:$PT\",series=\".*service_name=tls-bad-token" "$T/metrics.txt" ||
  fail "no series label telling the targets at the same URL apart"

[ ! -d "$T/out/tls-no-ca" ] || fail "profiles from the target whose certificate cannot be verified"
[ ! -d "$T/out/tls-bad-token" ] || fail "profiles despite a wrong bearer token"
# a failure is warned once, not at every scrape: another warning for the
# same profile comes only after its failure changed (on a busy machine a
# timeout can fall between two certificate failures, and is warned too)
grep "level=warn " "$T/scrape.log" | grep -E "scrape https://127\.0\.0\.1:$PT/debug/pprof/goroutine failed: " |
  sed -E 's/.*failed: //; s/.*(certificate|SSL).*/tls/' >"$T/goroutine-warnings"
n=$(grep -cx tls "$T/goroutine-warnings" || true)
[ "$n" -ge 1 ] || fail "no TLS warning for goroutine"
repeated=$(uniq -d "$T/goroutine-warnings")
[ -z "$repeated" ] || { cat "$T/goroutine-warnings" >&2; fail "the same goroutine failure warned twice in a row: $repeated"; }
n=$(count_log warn "target https://127\.0\.0\.1:$PT down: /debug/pprof/[a-z]+: HTTP 401")
[ "$n" = 1 ] || fail "want one 401 warning for the wrong bearer token, got $n"
grep -qF '"__name__":"memory"' "$T/out/index.jsonl" || fail "no memory profile"
files_at_least "$T/out/mtls-ok/goroutine" 2 || fail "nothing over mutual TLS with cert_file/key_file"
files_at_least "$T/out/basic-inline/goroutine" 2 || fail "nothing with an inline basic_auth password"
files_at_least "$T/out/bearer-inline/goroutine" 2 ||
  fail "nothing with an inline bearer_token (insecure_skip_verify)"
[ ! -d "$T/out/mtls-no-cert" ] || fail "profiles from the mTLS server without a client certificate"
[ "$(count_log warn "$MTLS_REFUSED")" = 1 ] ||
  fail "want one warning for the target without a client certificate, got $(count_log warn "$MTLS_REFUSED")"
pass "TLS with ca_file + server_name, client cert_file/key_file, bearer_token(_file), basic_auth password(_file), insecure_skip_verify; unverifiable certificate, missing client certificate and wrong token refused"
