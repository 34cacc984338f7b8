#!/usr/bin/env bash
# Every JSON profpipe writes is valid UTF-8, whatever bytes came in:
#  - /ingest?name=app{k=%FF%FE,city=%C3%A9} (percent-encoded bytes, not
#    UTF-8) into the file exporter: every index.jsonl line parses as strict
#    JSON (Python reads the file as strict UTF-8), k is "\ufffd\ufffd" (one
#    U+FFFD per invalid byte) and city keeps its "é";
#  - a connect JSON push whose pprof quotes invalid bytes in its error
#    (string_table[0] = "\xff\xfe"): the 400's JSON body parses strictly
#    and its message carries the U+FFFDs;
#  - a protobuf push whose pprof time_nanos + duration_nanos is past int64
#    is refused with a 400 naming it, not stored with a wrapped window.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

go_build "$T/pprofshapes" "$SOURCE_DIR/tests/e2e/go/pprofshapes"
"$T/pprofshapes" nodedups "$T/wall.pb.gz" || fail "pprofshapes failed"
r_config() {
  cat <<YAML
receivers:
  pyroscope: {endpoint: "127.0.0.1:$1"}
exporters:
  file: {directory: "$T/out"}
service:
  telemetry: {address: ""}
  pipelines:
    profiles: {receivers: [pyroscope], exporters: [file]}
YAML
}
start_listening r r_config
base="http://127.0.0.1:$LISTEN_PORT"

# post WANT_STATUS URL [curl args...]: the answer's body in $T/body
post() {
  local want=$1 url=$2 got; shift 2
  got=$(curl -sS -o "$T/body" -w '%{http_code}' "$@" "$url") || true
  [ "$got" = "$want" ] || fail "${url:0:120}: HTTP $got, want $want: $(head -c 300 "$T/body")"
}

now=$(date +%s)
post 200 "$base/ingest?name=app%7Bk%3D%FF%FE%2Ccity%3D%C3%A9%7D&from=$((now - 10))&until=$now&format=pprof" \
  --data-binary @"$T/wall.pb.gz" -H 'Content-Type: application/octet-stream'
index_has_line() { [ -s "$T/out/index.jsonl" ]; }
wait_for 30 index_has_line || fail "no index line: $(tail -5 "$T/r.log")"
python3 -c '
import json, sys
lines = open(sys.argv[1], encoding="utf-8", errors="strict").read().splitlines()
assert lines, "empty index"
for n, line in enumerate(lines, 1):
    doc = json.loads(line)
    labels = doc["labels"]
    assert labels.get("service_name") == "app", (n, labels)
    assert labels.get("k") == "\ufffd\ufffd", (n, labels)
    assert labels.get("city") == "\u00e9", (n, labels)
' "$T/out/index.jsonl" || fail "index.jsonl is not strict JSON with U+FFFD for the bytes: $(cat -v "$T/out/index.jsonl")"
pass "index.jsonl: strict UTF-8 JSON, k = U+FFFD U+FFFD, city = é"

# a pprof whose string_table[0] is "\xff\xfe": its decode error quotes it
b64=$(printf '\x32\x02\xff\xfe' | base64 -w0)
printf '{"series":[{"labels":[{"name":"service_name","value":"app"}],"samples":[{"rawProfile":"%s"}]}]}' \
  "$b64" > "$T/push.json"
post 400 "$base/push.v1.PusherService/Push" --data-binary @"$T/push.json" -H 'Content-Type: application/json'
python3 -c '
import json, sys
doc = json.loads(open(sys.argv[1], encoding="utf-8", errors="strict").read())
assert doc["code"] == "invalid_argument", doc
assert "string_table[0]" in doc["message"] and "\ufffd\ufffd" in doc["message"], doc
' "$T/body" || fail "connect error is not strict JSON with U+FFFD: $(cat -v "$T/body")"
pass "connect JSON error: strict UTF-8 JSON, the bytes as U+FFFD: $(cat "$T/body")"

# PushRequest{series{labels: service_name, __name__; samples{raw_profile:
# pprof{string_table: "", time_nanos: INT64_MAX - 1e9, duration_nanos: 2e9}}}}
python3 - "$T/overflow.pb" <<'PY'
import sys
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)
def field(num, payload):  # length-delimited
    return varint(num << 3 | 2) + varint(len(payload)) + payload
def num(num, v):
    return varint(num << 3) + varint(v)
pprof = field(6, b"") + num(9, 2**63 - 1 - 10**9) + num(10, 2 * 10**9)
labels = field(1, field(1, b"service_name") + field(2, b"app")) + \
         field(1, field(1, b"__name__") + field(2, b"process_cpu"))
open(sys.argv[1], "wb").write(field(1, labels + field(2, field(1, pprof))))
PY
post 400 "$base/push.v1.PusherService/Push" --data-binary @"$T/overflow.pb" -H 'Content-Type: application/proto'
grep -q 'time_nanos 9223372035854775807 + duration_nanos 2000000000 is past the largest time' "$T/body" ||
  fail "overflowing window not named: $(cat "$T/body")"
python3 -c 'import json,sys; json.loads(open(sys.argv[1], encoding="utf-8").read())' "$T/body" ||
  fail "connect error is not JSON: $(cat "$T/body")"
pass "push with time_nanos + duration_nanos past int64: 400, $(cat "$T/body")"

stop_profpipe "$PROFPIPE_PID"
[ "$(wc -l < "$T/out/index.jsonl")" = 1 ] || fail "refused pushes reached the files: $(cat -v "$T/out/index.jsonl")"
pass "only the accepted profile was written"
