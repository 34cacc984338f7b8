#!/usr/bin/env bash
# pprof_scrape's proxy_url, against a forward proxy (go/proxy) that
# records what it forwarded. Two targets on the same Go service:
# - "proxied": address http://pprof-behind-proxy.invalid:P with
#   proxy_url. The name does not resolve; the proxy maps it to the
#   service. So a profile of it can only have come through the proxy;
#   the proxy must have seen the absolute URLs of the enabled profile
#   paths, with the job's X-Pprof-Token header passed on, and no other
#   authority.
# - "direct": 127.0.0.1:P without proxy_url: never seen by the proxy.
# Output checked field by field: 50 parked goroutines, instance label.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

build_target
go_build "$T/proxy" "$SCRAPE_DIR/go/proxy" || fail "cannot build the Go proxy"
P=$(free_port)
PX=$(free_port)
MP=$(free_port)
NAME=pprof-behind-proxy.invalid
start_target plain -addr "127.0.0.1:$P"
"$T/proxy" -addr "127.0.0.1:$PX" -map "$NAME:$P=127.0.0.1:$P" >"$T/proxy.log" 2>&1 &
PIDS+=("$!")
wait_for 20 curl -sf "http://127.0.0.1:$PX/recorded" || fail "proxy did not start"

write_config "$T/c.yaml" "$MP" <<EOF
    targets:
      - address: http://$NAME:$P
        labels: {service_name: proxied}
        proxy_url: http://127.0.0.1:$PX
      - address: 127.0.0.1:$P
        labels: {service_name: direct}
    http_headers: {X-Pprof-Token: tok-42}
    scrape_interval: 1s
    scrape_timeout: 2s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
EOF
start_profpipe scrape "$T/c.yaml"
wait_for 40 files_at_least "$T/out/proxied/goroutine" 3 ||
  { cat "$T/scrape.log"; fail "fewer than 3 goroutine profiles through the proxy after 40s"; }
wait_for 20 files_at_least "$T/out/proxied/memory" 2 ||
  { cat "$T/scrape.log"; fail "fewer than 2 memory profiles through the proxy"; }
wait_for 20 files_at_least "$T/out/direct/goroutine" 3 || fail "direct target not scraped"
[ "$(metric "scrape_up{component_id=\"pprof_scrape/e2e\",target=\"http://$NAME:$P\"}" "$MP")" = 1 ] ||
  fail "scrape_up of the proxied target is not 1"
stop_profpipe "$PROFPIPE_PID"

curl -sf "http://127.0.0.1:$PX/recorded" | tr '{' '\n' |
  sed -n 's/.*"method":"\([^"]*\)","url":"\([^"]*\)","token":"\([^"]*\)","status":\([0-9]*\).*/\1 \2 \3 \4/p' \
  >"$T/recorded.txt"
n_goroutine=$(grep -c "^GET http://$NAME:$P/debug/pprof/goroutine tok-42 200\$" "$T/recorded.txt" || true)
n_allocs=$(grep -c "^GET http://$NAME:$P/debug/pprof/allocs tok-42 200\$" "$T/recorded.txt" || true)
[ "$n_goroutine" -ge 3 ] || { cat "$T/recorded.txt"; fail "proxy forwarded $n_goroutine goroutine scrapes, want >= 3"; }
[ "$n_allocs" -ge 3 ] || { cat "$T/recorded.txt"; fail "proxy forwarded $n_allocs allocs scrapes, want >= 3"; }
others=$(grep -v "^GET http://$NAME:$P/debug/pprof/\(goroutine\|allocs\) tok-42 200\$" "$T/recorded.txt" || true)
[ -z "$others" ] || fail "the proxy saw other requests (direct target, other paths, no token): $others"
got=$(find "$T/out/proxied/goroutine" -name '*.pb.gz' | wc -l)
[ "$got" -le "$n_goroutine" ] || fail "$got proxied goroutine profiles but only $n_goroutine went through the proxy"
pass "proxy forwarded $n_goroutine goroutine + $n_allocs allocs scrapes of $NAME:$P, token passed on, nothing else"

for f in "$T"/out/proxied/goroutine/*.pb.gz "$T"/out/direct/goroutine/*.pb.gz; do
  parked=$(raw_sum "$f" 1 main.parked)
  [ "$parked" = 50 ] || fail "$f: $parked goroutines in main.parked, want 50"
done
assert_no_negative
grep -F '"service_name":"proxied"' "$T/out/index.jsonl" >"$T/proxied.idx"
grep -qF "\"instance\":\"$NAME:$P\"" "$T/proxied.idx" ||
  fail "proxied profiles without instance $NAME:$P"
grep -F '"service_name":"direct"' "$T/out/index.jsonl" >"$T/direct.idx"
grep -qF "\"instance\":\"127.0.0.1:$P\"" "$T/direct.idx" ||
  fail "direct profiles without instance 127.0.0.1:$P"
pass "proxied and direct goroutine profiles hold the 50 parked goroutines; instance labels as addressed"
