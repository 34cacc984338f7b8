#!/usr/bin/env bash
# allowed_networks on both listeners, from 127.0.0.1 and from 127.0.0.2:
# the receiver allows 127.0.0.1/32 (and an IPv6 network), telemetry only
# 10.0.0.0/8, so 127.0.0.1 gets its metrics refused with 403 while a
# 127.0.0.2 push is refused 403 before its (large) body is read. Then the
# credentials: telemetry with basic auth (401 without), and a tenant
# pinned to the receiver's credentials: another X-Scope-OrgID is 403,
# none gets the pinned one, kept in the tenant label. Last, both on [::1]:
# an IPv6 network admits ::1, an IPv4-only list refuses it. Bounded: a
# dozen requests.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/security/sec_lib.sh"

good_profile
sec_start a "    allowed_networks: [127.0.0.1/32, \"fd00::/8\"]
    bearer_token: push-token
    bearer_token_tenant: team-a
    tenant_label: tenant" "    allowed_networks: [10.0.0.0/8]"
code() { curl -sS -o "$T/reply" -w '%{http_code}' --max-time 20 "$@" 2>/dev/null || true; }
ingest_url="http://127.0.0.1:$RPORT/ingest?name=good&format=pprof"

c=$(code -u sdk:pw -H 'Content-Type: application/octet-stream' --data-binary @"$GOOD_PROFILE" "$ingest_url")
[ "$c" = 200 ] || fail "from 127.0.0.1 (allowed): HTTP $c $(cat "$T/reply")"
accepted=1
head -c $((3 << 20)) /dev/urandom >"$T/big"
start=$(date +%s%N)
c=$(code --interface 127.0.0.2 -u sdk:pw -H 'Content-Type: application/octet-stream' --data-binary @"$T/big" "$ingest_url")
[ "$c" = 403 ] && grep -q allowed_networks "$T/reply" || fail "from 127.0.0.2 (not allowed): HTTP $c $(cat "$T/reply")"
pass "receiver: 127.0.0.1 served, 127.0.0.2 refused 403 ($(( ($(date +%s%N) - start) / 1000000 ))ms, body unread)"
c=$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MPORT/metrics")
[ "$c" = 403 ] || fail "telemetry allows 10.0.0.0/8 only, yet 127.0.0.1 got HTTP $c"
pass "telemetry: 127.0.0.1 outside 10.0.0.0/8 refused 403"
stop_profpipe "$PROFPIPE_PID"

# credentials: basic auth on telemetry, tenant pinned on the receiver
sec_start p "    bearer_token: push-token
    bearer_token_tenant: team-a
    tenant_label: tenant" "    basic_auth: {username: prom, password: scrape}"
# (sec_config's bearer_token for telemetry and this basic_auth: either works)
c=$(code "http://127.0.0.1:$MPORT/metrics")
[ "$c" = 401 ] || fail "telemetry without credentials: HTTP $c"
c=$(code -u prom:wrong "http://127.0.0.1:$MPORT/metrics")
[ "$c" = 401 ] || fail "telemetry with a wrong password: HTTP $c"
c=$(code -u prom:scrape "http://127.0.0.1:$MPORT/metrics")
[ "$c" = 200 ] && grep -q '^profpipe_build_info' "$T/reply" || fail "telemetry with basic auth: HTTP $c"
pass "telemetry: basic auth required (401 without or wrong, 200 right)"
push_tenant() { # ORGID-or-empty
  local h=()
  [ -z "$1" ] || h=(-H "X-Scope-OrgID: $1")
  code -H "Authorization: Bearer push-token" "${h[@]}" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$GOOD_PROFILE" "http://127.0.0.1:$RPORT/ingest?name=good%7Bt%3D${1:-none}%7D&format=pprof"
}
c=$(push_tenant team-b)
[ "$c" = 403 ] && grep -q pinned "$T/reply" || fail "another tenant than the pinned one: HTTP $c $(cat "$T/reply")"
c=$(push_tenant team-a); [ "$c" = 200 ] || fail "the pinned tenant: HTTP $c"
c=$(push_tenant ""); [ "$c" = 200 ] || fail "no tenant header: HTTP $c"
GOOD_ACCEPTED=$((accepted + 2))
check_nothing_lost
[ "$(grep -c '"tenant":"team-a"' "$T/out/index.jsonl")" = 2 ] ||
  fail "the pinned tenant is not on both profiles: $(grep tenant "$T/out/index.jsonl" | sed -n 1,3p)"
grep -q 'team-b' "$T/out/index.jsonl" && fail "a profile of the refused tenant was written"
pass "tenant pinned to the bearer token: another refused 403, none or the same kept as team-a"

# IPv6: the receiver on [::1] allows ::1/128; telemetry on [::1] allows
# only 127.0.0.0/8, which ::1 is not
v6r=$(unused_port) && v6m=$(unused_port) || fail "no free port"
cat >"$T/v6.yaml" <<YAML
receivers:
  pyroscope:
    endpoint: "[::1]:$v6r"
    allowed_networks: ["::1/128"]
exporters:
  file: {directory: $T/out6}
service:
  telemetry:
    address: "[::1]:$v6m"
    allowed_networks: [127.0.0.0/8]
  pipelines: {profiles: {receivers: [pyroscope], exporters: [file]}}
YAML
start_profpipe v6 "$T/v6.yaml"
wait_for 30 logged "$T/v6.log" "listening on ::1:$v6r" || fail "no IPv6 receiver: $(tail -3 "$T/v6.log")"
c=$(code -g -H 'Content-Type: application/octet-stream' --data-binary @"$GOOD_PROFILE" "http://[::1]:$v6r/ingest?name=v6&format=pprof")
[ "$c" = 200 ] || fail "::1 allowed by ::1/128: HTTP $c $(cat "$T/reply")"
c=$(code -g "http://[::1]:$v6m/metrics")
[ "$c" = 403 ] || fail "::1 outside 127.0.0.0/8: HTTP $c"
stop_profpipe "$PROFPIPE_PID"
[ "$(grep -c '"service_name":"v6"' "$T/out6/index.jsonl")" = 1 ] || fail "the IPv6 profile was not written"
pass "IPv6: ::1 admitted by ::1/128, refused by an IPv4-only allowlist"
