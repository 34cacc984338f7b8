#!/usr/bin/env bash
# The pyroscope receiver against what SDKs send and against hostile input.
# Good: raw pprof and the Go SDK's multipart form on /ingest (prev_profile
# turned into a delta), the push API as protobuf (from profpipe's own
# exporter in test_node_sdk.sh, and one written by the recorder) and as
# connect JSON. Hostile: truncated bodies, a 1 GiB gzip bomb (as a
# profile, as Content-Encoding and inside a PushRequest), an oversized
# body, unbalanced braces, 10,000 tags in a name and 10,000 labels in a
# PushRequest, a wrong password, an unsupported format, a garbage
# PushRequest, a client that never finishes its upload. Each is a 4xx
# with a message, and the next good request is still answered 200; only
# the good requests' profiles reach the files.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

go_profiles_into "$T/in"
build_recorder # its -make-push writes PushRequests
r_config() {
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
    basic_auth: {username: sdk, password: pw}
    max_request_body_size: 4MiB
    max_decompressed_size: 16MiB
    read_timeout: 5s
exporters:
  file:
    directory: $T/out
service:
  telemetry: {address: ""}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [file]
YAML
}
start_listening r r_config; port=$LISTEN_PORT
base="http://127.0.0.1:$port"
now=$(date +%s)
# (units and aggregationType describe non-pprof formats: accepted, unused)
good_ingest="$base/ingest?name=shop.cpu%7Bregion%3Deu%2Cpod%3Dp1%7D&from=$((now - 10))&until=$now&format=pprof&spyName=gospy&sampleRate=100&units=samples&aggregationType=sum"

# post EXPECTED_STATUS EXPECTED_TEXT URL [curl args...]: checks status and
# that the body says EXPECTED_TEXT (when not empty).
post() {
  local want=$1 text=$2 url=$3; shift 3
  local got
  got=$(curl -sS -o "$T/body" -w '%{http_code}' -u sdk:pw "$@" "$url") || true
  [ "$got" = "$want" ] || fail "${url:0:200}: HTTP $got, want $want: $(head -c 300 "$T/body")"
  [ -z "$text" ] || grep -qi -- "$text" "$T/body" || fail "${url:0:200}: answer lacks '$text': $(head -c 300 "$T/body")"
}
good=0
still_serving() { # after each hostile request
  post 200 ok "$good_ingest" --data-binary @"$T/in/cpu.pb.gz" -H 'Content-Type: application/octet-stream'
  good=$((good + 1))
  pass "$1: answered, and the next good request is served"
}

still_serving "first good /ingest"

# truncated bodies: gzip cut short, and a plain pprof cut short
head -c 300 "$T/in/cpu.pb.gz" >"$T/trunc.gz"
post 400 "truncated" "$good_ingest" --data-binary @"$T/trunc.gz"
still_serving "truncated gzip body"
gzip -dc "$T/in/heap.pb.gz" >"$T/heap.pb" && head -c 200 "$T/heap.pb" >"$T/trunc.pb"
post 400 "pprof" "$good_ingest" --data-binary @"$T/trunc.pb"
still_serving "truncated plain pprof"

# 1 GiB of zeros, gzip -9 to about 1 MiB, streamed
head -c 1G /dev/zero | gzip -9 >"$T/bomb.gz"
post 413 "exceeds the limit" "$good_ingest" --data-binary @"$T/bomb.gz"
still_serving "gzip bomb as a profile"
post 413 "exceeds the limit" "$base/push.v1.PusherService/Push" --data-binary @"$T/bomb.gz" \
  -H 'Content-Type: application/proto' -H 'Content-Encoding: gzip'
still_serving "gzip bomb as Content-Encoding"
# the bomb as the raw profile of a PushRequest: stopped at the receiver's
# limit before the host's codec inflates it (the codec alone would inflate
# 512 MiB of it and answer 400)
"$T/recorder" -make-push "$T/bomb.gz" >"$T/push_bomb.pb"
post 413 "exceeds the limit" "$base/push.v1.PusherService/Push" --data-binary @"$T/push_bomb.pb" \
  -H 'Content-Type: application/proto'
still_serving "gzip bomb inside a PushRequest"

head -c 5M /dev/urandom >"$T/big"
post 413 "larger than" "$good_ingest" --data-binary @"$T/big"
still_serving "body over max_request_body_size"

post 400 "unbalanced" "$base/ingest?name=shop%7Bregion%3Deu&format=pprof" --data-binary @"$T/in/cpu.pb.gz"
still_serving "unbalanced braces"
post 400 "unbalanced" "$base/ingest?name=shop%7Ba%3Db%7D%7D&format=pprof" --data-binary @"$T/in/cpu.pb.gz"
still_serving "extra closing brace"

# (sent over a raw socket: the URL is longer than one argument may be)
tags=$(seq 0 9999 | awk '{printf "%st%d%%3Dv%d", (NR>1?"%2C":""), $1, $1}')
len=$(stat -c %s "$T/in/cpu.pb.gz")
exec 3<>"/dev/tcp/127.0.0.1/$port"
{ printf 'POST /ingest?format=pprof&name=shop%%7B%s%%7D HTTP/1.1\r\nHost: x\r\n' "$tags"
  printf 'Authorization: Basic c2RrOnB3\r\nConnection: close\r\nContent-Length: %s\r\n\r\n' "$len"
  cat "$T/in/cpu.pb.gz"; } >&3
timeout 10 cat <&3 >"$T/body" || true
exec 3>&-
grep -q '^HTTP/1.1 400 ' "$T/body" && grep -q 'more than 64 tags' "$T/body" ||
  fail "10,000 tags: $(head -c 300 "$T/body")"
still_serving "10,000 tags"
"$T/recorder" -make-push "$T/in/cpu.pb.gz" -labels 10000 >"$T/push_10k.pb"
post 400 "series labels; limit 64" "$base/push.v1.PusherService/Push" --data-binary @"$T/push_10k.pb" \
  -H 'Content-Type: application/proto'
"$T/recorder" -make-push "$T/in/cpu.pb.gz" -labels 3 >"$T/push_ok.pb"
post 200 "" "$base/push.v1.PusherService/Push" --data-binary @"$T/push_ok.pb" \
  -H 'Content-Type: application/proto'
good=$((good + 1))
still_serving "10,000 labels in a PushRequest"

code=$(curl -sS -o "$T/body" -w '%{http_code}' -u sdk:wrong --data-binary @"$T/in/cpu.pb.gz" "$good_ingest")
[ "$code" = 401 ] && grep -q credentials "$T/body" || fail "wrong password: HTTP $code $(cat "$T/body")"
code=$(curl -sS -o "$T/body" -w '%{http_code}' --data-binary @"$T/in/cpu.pb.gz" "$good_ingest")
[ "$code" = 401 ] || fail "no credentials: HTTP $code"
still_serving "wrong and missing password"

post 400 "format 'trie'" "$base/ingest?name=shop&format=trie" --data-binary 'foo;bar 1'
post 400 "jfr: not a JFR chunk" "$base/ingest?name=shop&format=jfr" --data-binary @"$T/in/cpu.pb.gz"
post 400 "unsupported format" "$base/ingest?name=shop&format=pprof" --data-binary 'heap profile: 1: 2 [3: 4] @ heap/1048576'
still_serving "unsupported formats"

# a push whose raw profile no decoder reads, with __name__ in its series
# (the codec's fast path): refused, not taken and lost later
printf '\0\0' >"$T/undecodable"
"$T/recorder" -make-push "$T/undecodable" -labels 0 >"$T/push_bad.pb"
post 400 'invalid_argument' "$base/push.v1.PusherService/Push" --data-binary @"$T/push_bad.pb" \
  -H 'Content-Type: application/proto'
grep -E 'level=warn .*refused request: status=400 reason=invalid_profile client=127\.0\.0\.1:[0-9]+ service=' "$T/r.log" |
  grep -qE 'bad pprof|bad protobuf' || fail "the refusal is not logged at warn with client, service, reason: $(tail -3 "$T/r.log")"
still_serving "undecodable raw profile in a push with __name__"
post 400 "from/until" "$base/ingest?name=shop&format=pprof&from=17000000000080" \
  --data-binary @"$T/in/cpu.pb.gz"
still_serving "from that overflows once scaled to nanoseconds"

head -c 1000 /dev/urandom >"$T/garbage"
post 400 '"code":"invalid_argument"' "$base/push.v1.PusherService/Push" --data-binary @"$T/garbage" \
  -H 'Content-Type: application/proto'
post 400 'invalid_argument' "$base/push.v1.PusherService/Push" --data-binary '{"series": [' \
  -H 'Content-Type: application/json'
still_serving "garbage PushRequest (proto and JSON)"

# a client that announces a body and never sends it holds only its own
# connection
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /ingest?name=slow HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c2RrOnB3\r\nContent-Length: 100000\r\n\r\nabc' >&3
still_serving "stalled upload on another connection"
exec 3>&-

# the connect JSON form of the push API
b64=$(base64 -w0 "$T/in/goroutine.pb.gz")
cat >"$T/push.json" <<JSON
{"series": [{"labels": [{"name": "service_name", "value": "json-svc"},
  {"name": "__name__", "value": "goroutine"}, {"name": "zone", "value": "z\u00e9"}],
  "samples": [{"rawProfile": "$b64", "ID": "x1"}]}]}
JSON
post 200 '{}' "$base/push.v1.PusherService/Push" --data-binary @"$T/push.json" -H 'Content-Type: application/json'
good=$((good + 1))

# the Go SDK's multipart form; profile and prev_profile equal, so the
# cumulative alloc_* values become 0 and the inuse_* ones stay
cfg='{"alloc_objects":{"units":"objects","cumulative":true},"alloc_space":{"units":"bytes","cumulative":true},"inuse_objects":{"units":"objects"},"inuse_space":{"units":"bytes"}}'
post 200 ok "$base/ingest?name=gosvc%7Bv%3D1%7D&format=pprof&from=$now&until=$((now + 10))" \
  -F "profile=@$T/in/heap.pb.gz" -F "prev_profile=@$T/in/heap.pb.gz" -F "sample_type_config=$cfg"
good=$((good + 1))
pass "push JSON and Go SDK multipart accepted"

stop_profpipe "$PROFPIPE_PID"
n=$(wc -l <"$T/out/index.jsonl")
[ "$n" = "$good" ] || fail "$n profiles written, want the $good good ones: $(cut -c1-200 "$T/out/index.jsonl")"
[ "$(count_lines "$T/out/index.jsonl" '"service_name":"shop","__name__":"process_cpu"|"__name__":"process_cpu".*"service_name":"shop"')" = $((good - 3)) ] ||
  fail "service_name shop (app name without .cpu) and process_cpu expected: $(head -1 "$T/out/index.jsonl")"
line=$(grep -m1 '"service_name":"shop"' "$T/out/index.jsonl")
for want in '"region":"eu"' '"pod":"p1"' '"pyroscope_spy":"gospy"' '"__delta__":"false"' \
            "\"from\":$(((now - 10) * 1000000000))" "\"until\":$((now * 1000000000))"; do
  grep -qF "$want" <<<"$line" || fail "/ingest profile lacks $want: $line"
done
grep -q '"service_name":"json-svc".*' "$T/out/index.jsonl" && grep -q '"zone":"zé"' "$T/out/index.jsonl" ||
  fail "push JSON profile missing or label mangled"
[ "$(count_lines "$T/out/index.jsonl" '"l2":"v".*"service_name":"hostile"')" = 1 ] ||
  fail "the protobuf PushRequest's profile is missing"
heap_out=$(ls "$T"/out/gosvc/memory/*.pb.gz)
[ "$(pprof_total "$heap_out" 1)" = 0 ] && [ "$(pprof_total "$heap_out" 2)" = 0 ] ||
  fail "delta of equal profiles: alloc totals $(pprof_total "$heap_out" 1) $(pprof_total "$heap_out" 2)"
[ "$(pprof_total "$heap_out" 4)" = "$(pprof_total "$T/in/heap.pb.gz" 4)" ] ||
  fail "delta: inuse_space $(pprof_total "$heap_out" 4), want $(pprof_total "$T/in/heap.pb.gz" 4)"
pass "only the $good good profiles were written, with their labels and window"
