#!/usr/bin/env bash
# pprof_scrape's proxy options through a real forward proxy (Debian's
# tinyproxy, whose log names every request it forwarded), with the
# meanings of prometheus/common config/http_config.go (commit 0053e8cb:
# ProxyConfig.Proxy) and golang.org/x/net/http/httpproxy:
#   A proxy_url                          -> proxied
#   B proxy_url + no_proxy: <that host>  -> direct
#   C proxy_url + no_proxy, 127.0.0.1    -> direct (httpproxy never proxies loopback)
#   D proxy_from_environment, HTTP_PROXY -> proxied
#   E nothing, http_proxy in the env     -> direct (only proxy_from_environment reads it)
#   F proxy_url alone, 127.0.0.1         -> proxied (http.ProxyURL proxies everything)
# Targets named by the machine's host name must resolve to loopback: the
# proxy resolves them itself (a name that does not resolve would prove
# nothing about who connected).
# And proxy_connect_header, at a recorder that sees the CONNECT request
# (go/proxy -connect) tunnelling to a Go TLS server: the CONNECT carries
# the proxy_connect_header values and none of the http_headers; the
# server gets the http_headers and none of the CONNECT headers.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

command -v tinyproxy >/dev/null || fail "tinyproxy is not installed (scripts/setup.sh test)"
HOST=$(hostname)
HOSTIP=$(getent hosts "$HOST" | awk '{print $1; exit}')
case "$HOSTIP" in 127.*) ;; *) fail "host name $HOST resolves to '$HOSTIP', not a loopback address" ;; esac

build_target
go_build "$T/proxy" "$SCRAPE_DIR/go/proxy" || fail "cannot build the Go proxy"
P=() && for i in 1 2 3 4 5 6; do P[$i]=$(free_port); done
PX=$(free_port)
PG=$(free_port)
PT=$(free_port)
MP=$(free_port)
"$T/target" -addr "$HOSTIP:${P[1]},$HOSTIP:${P[2]},127.0.0.1:${P[3]},$HOSTIP:${P[4]},$HOSTIP:${P[5]},127.0.0.1:${P[6]}" \
  >"$T/target.log" 2>&1 &
PIDS+=($!)
wait_for 20 curl -sf "http://127.0.0.1:${P[3]}/stats" || fail "target did not start"
"$T/target" -workload=false -tls-name pprof.test -tls-ca "$T/ca.pem" -addr "127.0.0.1:$PT" \
  >"$T/tls.log" 2>&1 &
PIDS+=($!)
wait_for 20 curl -sfk "https://127.0.0.1:$PT/requests" || fail "TLS target did not start"
"$T/proxy" -connect -addr "127.0.0.1:$PG" -map "pprof.test:$PT=127.0.0.1:$PT" >"$T/gproxy.log" 2>&1 &
PIDS+=($!)
wait_for 20 curl -sf "http://127.0.0.1:$PG/recorded" || fail "Go proxy did not start"
cat >"$T/tinyproxy.conf" <<TPEOF
Port $PX
Listen 127.0.0.1
Allow 127.0.0.1
Timeout 30
MaxClients 50
LogFile "$T/tinyproxy.log"
LogLevel Connect
DisableViaHeader Yes
TPEOF
tinyproxy -d -c "$T/tinyproxy.conf" >"$T/tinyproxy.out" 2>&1 &
PIDS+=($!)
wait_for 20 curl -sf -o /dev/null -x "http://127.0.0.1:$PX" "http://$HOST:${P[1]}/stats" ||
  fail "tinyproxy does not forward"
: >"$T/tinyproxy.log" # only what profpipe sends from here on

write_config "$T/c.yaml" "$MP" <<EOF2
    targets:
      - address: http://$HOST:${P[1]}
        labels: {service_name: a-proxied}
        proxy_url: http://127.0.0.1:$PX
      - address: http://$HOST:${P[2]}
        labels: {service_name: b-no-proxy}
        proxy_url: http://127.0.0.1:$PX
        no_proxy: "example.invalid,$HOST"
      - address: http://127.0.0.1:${P[3]}
        labels: {service_name: c-loopback}
        proxy_url: http://127.0.0.1:$PX
        no_proxy: example.invalid
      - address: http://$HOST:${P[4]}
        labels: {service_name: d-env}
        proxy_from_environment: true
      - address: http://$HOST:${P[5]}
        labels: {service_name: e-none}
      - address: http://127.0.0.1:${P[6]}
        labels: {service_name: f-bare}
        proxy_url: http://127.0.0.1:$PX
      - address: https://pprof.test:$PT
        labels: {service_name: g-connect}
        proxy_url: http://127.0.0.1:$PG
        proxy_connect_header: {X-Connect-Token: [ct1, ct2], X-Single: s}
        http_headers: {X-Inner: inner-1}
        tls_config: {ca_file: $T/ca.pem}
    scrape_interval: 1s
    scrape_timeout: 2s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.memory: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
EOF2
export HTTP_PROXY="http://127.0.0.1:$PX" http_proxy="http://127.0.0.1:$PX"
start_profpipe scrape "$T/c.yaml"
unset HTTP_PROXY http_proxy
settled() {
  local s
  for s in a-proxied b-no-proxy c-loopback d-env e-none f-bare; do
    files_at_least "$T/out/$s/goroutine" 3 || return 1
  done
  files_at_least "$T/out/g-connect/goroutine" 2
}
wait_for 40 settled || { cat "$T/scrape.log"; fail "not every target scraped"; }
stop_profpipe "$PROFPIPE_PID"

forwarded() { # authority: goroutine scrapes tinyproxy forwarded to it
  grep -c "Request (file descriptor [0-9]*): GET http://$1/debug/pprof/goroutine HTTP" \
    "$T/tinyproxy.log" || true
}
for s in "a-proxied $HOST:${P[1]}" "d-env $HOST:${P[4]}" "f-bare 127.0.0.1:${P[6]}"; do
  set -- $s
  n=$(forwarded "$2")
  [ "$n" -ge 3 ] || { cat "$T/tinyproxy.log"; fail "$1: tinyproxy forwarded $n scrapes of $2, want >= 3"; }
  got=$(find "$T/out/$1/goroutine" -name '*.pb.gz' | wc -l)
  [ "$got" -le "$n" ] || fail "$1: $got profiles but only $n went through tinyproxy"
done
for s in "b-no-proxy $HOST:${P[2]}" "c-loopback 127.0.0.1:${P[3]}" "e-none $HOST:${P[5]}"; do
  set -- $s
  n=$(grep -c ":${2##*:}/" "$T/tinyproxy.log" || true)
  [ "$n" = 0 ] || fail "$1: tinyproxy saw $n requests for $2, want none"
done
pass "through tinyproxy: proxy_url, proxy_from_environment, bare proxy_url to loopback; direct: no_proxy host, loopback with no_proxy, the environment without proxy_from_environment"

for f in "$T"/out/{a-proxied,b-no-proxy,c-loopback,d-env,e-none,f-bare}/goroutine/*.pb.gz; do
  parked=$(raw_sum "$f" 1 main.parked)
  [ "$parked" = 50 ] || fail "$f: $parked goroutines in main.parked, want 50"
done
grep -F '"service_name":"d-env"' "$T/out/index.jsonl" | grep -F "\"instance\":\"$HOST:${P[4]}\"" >/dev/null ||
  fail "d-env profiles without instance $HOST:${P[4]}"
pass "every target's goroutine profiles hold the 50 parked goroutines"

curl -sf "http://127.0.0.1:$PG/recorded" >"$T/recorded.json"
jq -c '[.[] | select(.method == "CONNECT")] | map({url, status, headers}) | unique' \
  "$T/recorded.json" >"$T/connects.json"
want="[{\"url\":\"pprof.test:$PT\",\"status\":200,\"headers\":{\"X-Connect-Token\":[\"ct1\",\"ct2\"],\"X-Single\":[\"s\"]}}]"
[ "$(cat "$T/connects.json")" = "$want" ] ||
  fail "CONNECT requests seen: $(cat "$T/connects.json"), want $want"
[ "$(jq '[.[] | select(.method != "CONNECT")] | length' "$T/recorded.json")" = 0 ] ||
  fail "the Go proxy saw requests other than CONNECT"
curl -sfk "https://127.0.0.1:$PT/requests" >"$T/tls.json"
jq -r '.[] | select(.path == "/debug/pprof/goroutine") | [.status, (.headers | keys | join(",")),
  .headers["X-Inner"][0]] | join(" ")' "$T/tls.json" | sort -u >"$T/tls.txt"
[ "$(cat "$T/tls.txt")" = "200 X-Inner inner-1" ] ||
  fail "the TLS server saw: $(cat "$T/tls.txt"), want only X-Inner: inner-1"
pass "proxy_connect_header (lists repeated) only in the CONNECT, http_headers only inside the tunnel"
