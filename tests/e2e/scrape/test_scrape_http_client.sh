#!/usr/bin/env bash
# lib/http_client's options (issue 13's Alloy HTTP client options) in
# pprof_scrape, against real Go servers (net/http, crypto/tls):
# - server A offers TLS 1.2 at most, with HTTP/2 (ALPN h2):
#   * tls_config {ca_pem inline, server_name, min_version: TLS12} and
#     enable_http2 (default true): scraped over HTTP/2.0;
#   * the same with enable_http2: false: scraped over HTTP/1.1;
#   * min_version: TLS13: the handshake is refused, nothing emitted;
#   * authorization {type: Token, credentials_file}: the server saw
#     "Token <file's text>"; list-valued http_headers (Alloy's
#     map of lists, Prometheus' {values, secrets}) arrive as repeated
#     headers, list-valued params as repeated query parameters;
# - server M requires a client certificate: tls_config cert_pem/key_pem
#   inline are accepted.
# Meanings from prometheus/common config/http_config.go (commit 0053e8cb)
# and Alloy's pyroscope.scrape reference (params: map(list(string))).
# Profiles are checked field by field: 50 parked goroutines, labels.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

build_target
PA=$(free_port)
PM=$(free_port)
MP=$(free_port)
"$T/target" -tls-name pprof.test -tls-ca "$T/ca.pem" -tls-max 1.2 -h2 \
  -addr "127.0.0.1:$PA" >"$T/a.log" 2>&1 &
PIDS+=($!)
wait_for 20 curl -sfk "https://127.0.0.1:$PA/requests" || fail "server A did not start"
"$T/target" -workload=false -tls-name pprof.test -tls-ca "$T/ca-m.pem" \
  -tls-client-cert "$T/client.pem" -addr "127.0.0.1:$PM" >"$T/m.log" 2>&1 &
PIDS+=($!)
wait_for 20 test -s "$T/client.pem.key" || fail "server M did not start"
wait_for 20 curl -sk --cacert "$T/ca-m.pem" --cert "$T/client.pem" --key "$T/client.pem.key" \
  -o /dev/null "https://127.0.0.1:$PM/requests" || fail "server M does not answer"
# what curl(1) itself negotiates: the server really offers h2 and TLS 1.2 only
[ "$(curl -sk --http2 -o /dev/null -w '%{http_version}' "https://127.0.0.1:$PA/requests")" = 2 ] ||
  fail "server A does not speak HTTP/2"
if curl -sk --tlsv1.3 -o /dev/null "https://127.0.0.1:$PA/requests"; then
  fail "server A accepted TLS 1.3"
fi
printf 'tok-9f\n' >"$T/cred"

pem() { sed 's/^/            /' "$1"; } # a PEM file as a YAML block scalar's lines
write_config "$T/c.yaml" "$MP" <<EOF2
    targets:
      - address: https://127.0.0.1:$PA
        labels: {service_name: h2}
        http_headers: {X-Target: h2}
        authorization: {type: Token, credentials_file: $T/cred}
        tls_config:
          server_name: pprof.test
          min_version: TLS12
          ca_pem: |
$(pem "$T/ca.pem")
      - address: https://127.0.0.1:$PA
        labels: {service_name: h1}
        http_headers: {X-Target: h1}
        enable_http2: false
        tls_config:
          server_name: pprof.test
          ca_pem: |
$(pem "$T/ca.pem")
      - address: https://127.0.0.1:$PA
        labels: {service_name: tls13}
        http_headers: {X-Target: tls13}
        tls_config:
          server_name: pprof.test
          min_version: TLS13
          ca_pem: |
$(pem "$T/ca.pem")
      - address: https://127.0.0.1:$PM
        labels: {service_name: mtls-pem}
        tls_config:
          server_name: pprof.test
          ca_file: $T/ca-m.pem
          cert_pem: |
$(pem "$T/client.pem")
          key_pem: |
$(pem "$T/client.pem.key")
    http_headers:
      X-Multi: [m1, m2]
      X-Prom: {values: [p1], secrets: [p2]}
    params:
      extra: [x, y]
      one: z
    scrape_interval: 1s
    scrape_timeout: 2s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.memory: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
EOF2
start_profpipe scrape "$T/c.yaml"
TLS13_REFUSED="scrape https://pprof\.test:$PA/debug/pprof/goroutine failed: .*(SSL|TLS|version|protocol)"
settled() {
  files_at_least "$T/out/h2/goroutine" 2 || return 1
  files_at_least "$T/out/h1/goroutine" 2 || return 1
  files_at_least "$T/out/mtls-pem/goroutine" 2 || return 1
  [ "$(count_log warn "$TLS13_REFUSED")" -ge 1 ]
}
wait_for 40 settled || { cat "$T/scrape.log"; fail "not every target settled"; }
stop_profpipe "$PROFPIPE_PID"

curl -sfk "https://127.0.0.1:$PA/requests" >"$T/a.json"
# every request A saw, one line: target proto auth X-Multi X-Prom query
jq -r '.[] | [.headers["X-Target"][0], .proto, .auth, (.headers["X-Multi"] | join(",")),
  (.headers["X-Prom"] | join(",")), .query] | join(" ")' "$T/a.json" | sort -u >"$T/a.txt"
cat "$T/a.txt"
want_h2="h2 HTTP/2.0 Token tok-9f m1,m2 p1,p2 extra=x&extra=y&one=z"
want_h1="h1 HTTP/1.1  m1,m2 p1,p2 extra=x&extra=y&one=z"
grep -qxF "$want_h2" "$T/a.txt" || fail "no request as '$want_h2'"
grep -qxF "$want_h1" "$T/a.txt" || fail "no request as '$want_h1'"
others=$(grep -vxF -e "$want_h2" -e "$want_h1" "$T/a.txt" || true)
[ -z "$others" ] || fail "server A saw other requests (TLS 1.3 target, other protocols): $others"
pass "HTTP/2 by default and HTTP/1.1 with enable_http2: false; authorization Token from credentials_file; list-valued headers and params repeated"

[ ! -d "$T/out/tls13" ] || fail "profiles from a TLS 1.2 server with min_version TLS13"
[ "$(count_log warn "$TLS13_REFUSED")" = 1 ] ||
  fail "want one warning for the TLS13 target, got $(count_log warn "$TLS13_REFUSED")"
pass "min_version TLS13 refuses a server that offers TLS 1.2 at most"

for f in "$T"/out/h2/goroutine/*.pb.gz "$T"/out/h1/goroutine/*.pb.gz; do
  parked=$(raw_sum "$f" 1 main.parked)
  [ "$parked" = 50 ] || fail "$f: $parked goroutines in main.parked, want 50"
done
for svc in h2 h1 mtls-pem; do
  grep -F "\"service_name\":\"$svc\"" "$T/out/index.jsonl" >"$T/$svc.idx" ||
    fail "no $svc profile in the index"
  grep -qF '"__name__":"goroutine"' "$T/$svc.idx" || fail "$svc: no goroutine series"
  grep -qF "\"job\":\"pprof_scrape/e2e\"" "$T/$svc.idx" || fail "$svc: no job label"
done
grep -qF "\"instance\":\"127.0.0.1:$PA\"" "$T/h2.idx" || fail "h2: instance is not 127.0.0.1:$PA"
grep -qF "\"instance\":\"127.0.0.1:$PM\"" "$T/mtls-pem.idx" || fail "mtls-pem: wrong instance"
curl -sk --cacert "$T/ca-m.pem" --cert "$T/client.pem" --key "$T/client.pem.key" \
  "https://127.0.0.1:$PM/requests" >"$T/m.json"
n=$(jq '[.[] | select(.path == "/debug/pprof/goroutine" and .status == 200)] | length' "$T/m.json")
[ "$n" -ge 2 ] || fail "server M answered $n goroutine scrapes with 200, want >= 2"
pass "inline ca_pem, cert_pem and key_pem: $n mutual-TLS scrapes; profiles hold 50 parked goroutines and the target's labels"
