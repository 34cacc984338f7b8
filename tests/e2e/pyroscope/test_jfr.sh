#!/usr/bin/env bash
# /ingest?format=jfr against the JDK itself (OpenJDK 17): a small Java
# workload (jfr/JfrWorkload.java: a hot method, allocations, monitor and
# ReentrantLock contention; a second recording halfway, so the file has
# several chunks) runs for 2 s under JFR (jfr/workload.jfc). Its recording
# is posted to profpipe's pyroscope receiver twice: as the raw
# body, and as pyroscope-java's upload (v2.9.1 PyroscopeExporter, OkHttp's
# multipart form: a gzip'd `jfr` part and a gzip'd LabelsSnapshot `labels`
# part, the SDK's query parameters). The file exporter's output is checked
# against the recording as the JDK's own `jfr print --json` reads each chunk: each
# event type is one profile named as Pyroscope names it, the hot method is
# on top of CPU, and each profile's totals are the events' count and the
# sum of their sizes or durations. The multipart upload gives the same
# profiles. A truncated or corrupt recording is a 400 naming the offset, a
# gzip bomb a 413, and nothing of them is written.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

JFR_DIR="$PYRO_DIR/jfr"
NS_PER_CPU_SAMPLE=10000000 # sampleRate=100: each CPU sample is 10 ms

javac -d "$T/classes" "$JFR_DIR/JfrWorkload.java" || fail "javac failed"
timeout 120 java "-XX:StartFlightRecording=filename=$T/r.jfr,settings=$JFR_DIR/workload.jfc" \
  -cp "$T/classes" JfrWorkload 2000 >"$T/java.log" 2>&1 ||
  fail "the Java workload failed: $(tail -5 "$T/java.log")"
[ -s "$T/r.jfr" ] || fail "the JDK wrote no recording"
chunks=$(jfr summary "$T/r.jfr" | awk '/Chunks:/ { print $2 }')
[ "${chunks:-0}" -ge 2 ] || fail "the recording has ${chunks:-no} chunks, want several"

# What the JDK reads in the recording, chunk by chunk: events with a Java
# stack (an event of a thread that is not Java's has no frames, and a
# sample without frames has nothing to show it under), as "count sum" of
# FIELD (a size, or a duration as "PT<seconds>S", in ns). Each chunk is
# read alone because constant pools are per chunk: an event committed
# across the JVM's chunk rotation may name a stack trace that only the
# chunk before defines; Pyroscope (and profpipe) leave it out, as the JDK
# does reading that chunk alone. `jfr print` on the whole file shows it
# with a stack only when the event before it of its type named the same
# id (its parsers keep the last value resolved), which load decides.
JDK_EVENTS=jdk.ExecutionSample,jdk.ObjectAllocationInNewTLAB,jdk.ObjectAllocationOutsideTLAB
JDK_EVENTS=$JDK_EVENTS,jdk.ObjectAllocationSample,jdk.JavaMonitorEnter,jdk.ThreadPark
size=$(stat -c %s "$T/r.jfr") off=0 i=0
while [ "$off" -lt "$size" ]; do
  len=$(od -An -tu8 --endian=big -j$((off + 8)) -N8 "$T/r.jfr" | tr -d ' ')
  [ "${len:-0}" -ge 68 ] && [ $((off + len)) -le "$size" ] || fail "chunk at $off: size '$len'"
  dd if="$T/r.jfr" of="$T/chunk$i.jfr" iflag=skip_bytes,count_bytes bs=64K skip="$off" count="$len" \
    status=none || fail "dd of chunk $i"
  jfr print --json --events "$JDK_EVENTS" "$T/chunk$i.jfr" >"$T/chunk$i.json" ||
    fail "jfr print of chunk $i (at $off)"
  off=$((off + len)) i=$((i + 1))
done
[ "$i" = "$chunks" ] || fail "split $i chunks, jfr summary says $chunks"
jq -s '[.[].recording.events[]]' "$T"/chunk*.json >"$T/jdk.json" || fail "jq of the chunks' events"
# jdk_events EVENT: the values of its events with a Java stack
jdk_events() {
  jq -c --arg t "$1" '[.[] | select(.type == $t) | .values
    | select(.stackTrace.frames // [] | length > 0)]' "$T/jdk.json"
}
jdk_count_sum() { # EVENT FIELD
  jdk_events "$1" | jq -r --arg f "$2" '[length, (map(.[$f]
      | if type == "string" then (ltrimstr("PT") | rtrimstr("S") | tonumber * 1e9 | round)
        else . end) | add // 0)] | map(tostring) | join(" ")'
}
jdk_cpu=$(jdk_events jdk.ExecutionSample | jq '[.[] | select(.state != "STATE_SLEEPING")] | length')
jdk_tlab=$(jdk_count_sum jdk.ObjectAllocationInNewTLAB tlabSize)
jdk_outside=$(jdk_count_sum jdk.ObjectAllocationOutsideTLAB allocationSize)
jdk_sample=$(jdk_count_sum jdk.ObjectAllocationSample weight)
jdk_monitor=$(jdk_count_sum jdk.JavaMonitorEnter duration)
jdk_park=$(jdk_count_sum jdk.ThreadPark duration)
echo "JDK: cpu $jdk_cpu; tlab $jdk_tlab; outside $jdk_outside; sample $jdk_sample;" \
  "monitor $jdk_monitor; park $jdk_park"
[ "$jdk_cpu" -gt 0 ] && [ "${jdk_outside% *}" -gt 0 ] && [ "${jdk_sample% *}" -gt 0 ] &&
  [ "${jdk_monitor% *}" -gt 0 ] && [ "${jdk_park% *}" -gt 0 ] ||
  fail "the workload did not record every event kind: $(jfr summary "$T/r.jfr" | tail -12)"

r_config() {
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
    max_decompressed_size: 32MiB
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
now=$(date +%s)
query="from=$((now - 2))&until=$now&spyName=javaspy&sampleRate=100&units=samples&aggregationType=sum&format=jfr"

# post EXPECTED_STATUS EXPECTED_TEXT URL [curl args...]
post() {
  local want=$1 text=$2 url=$3; shift 3
  local got
  got=$(curl -sS -o "$T/body" -w '%{http_code}' "$@" "$url") || true
  [ "$got" = "$want" ] || fail "${url:0:160}: HTTP $got, want $want: $(head -c 300 "$T/body")"
  grep -qi -- "$text" "$T/body" || fail "${url:0:160}: answer lacks '$text': $(head -c 300 "$T/body")"
}

# 1. the raw recording
post 200 ok "http://127.0.0.1:$port/ingest?name=jfrapp%7Benv%3De2e%7D&$query" \
  --data-binary @"$T/r.jfr" -H 'Content-Type: application/octet-stream'

# 2. as pyroscope-java uploads it: OkHttp's form (a random boundary, parts
# named with a filename, the labels part typed application/x-protobuf),
# both parts gzip'd (compressionLevelJFR/Labels default BEST_SPEED). The
# LabelsSnapshot: context 1 = {thread_role: worker}.
gzip -1 -c "$T/r.jfr" >"$T/r.jfr.gz"
printf '\x0a\x0a\x08\x01\x12\x06\x0a\x04\x08\x01\x10\x02' >"$T/labels.pb"
printf '\x12\x0f\x08\x01\x12\x0bthread_role\x12\x0a\x08\x02\x12\x06worker' >>"$T/labels.pb"
gzip -1 -c "$T/labels.pb" >"$T/labels.pb.gz"
boundary=9f3c1d2e-5b7a-4c1e-8d2f-0a1b2c3d4e5f
{
  printf -- '--%s\r\nContent-Disposition: form-data; name="jfr"; filename="jfr"\r\n\r\n' "$boundary"
  cat "$T/r.jfr.gz"
  printf '\r\n--%s\r\nContent-Disposition: form-data; name="labels"; filename="labels"\r\n' "$boundary"
  printf 'Content-Type: application/x-protobuf\r\n\r\n'
  cat "$T/labels.pb.gz"
  printf '\r\n--%s--\r\n' "$boundary"
} >"$T/form"
post 200 ok "http://127.0.0.1:$port/ingest?name=jfrsdk%7Benv%3De2e%2Cotel.scope.name%3Dcom.grafana.pyroscope%2Fjava%7D&$query" \
  --data-binary @"$T/form" -H "Content-Type: multipart/form-data; boundary=$boundary"

# 3. hostile: truncated, corrupt, not JFR, a form without its jfr part
head -c 5000 "$T/r.jfr" >"$T/trunc.jfr"
post 400 "jfr: chunk size .* does not fit .* at offset 0" \
  "http://127.0.0.1:$port/ingest?name=bad&$query" --data-binary @"$T/trunc.jfr"
# the metadata's class table cut short: the chunk still fits, what is in it not
meta=$(od -An -tu8 --endian=big -j24 -N8 "$T/r.jfr" | tr -d ' ')
{ head -c $((meta + 40)) "$T/r.jfr"; head -c $(( $(stat -c %s "$T/r.jfr") - meta - 40 )) /dev/zero; } \
  >"$T/corrupt.jfr"
post 400 "jfr: .* at offset [0-9]" "http://127.0.0.1:$port/ingest?name=bad&$query" --data-binary @"$T/corrupt.jfr"
post 400 "not a JFR chunk" "http://127.0.0.1:$port/ingest?name=bad&$query" --data-binary 'hello'
printf -- '--%s\r\nContent-Disposition: form-data; name="labels"\r\n\r\nx\r\n--%s--\r\n' "$boundary" \
  "$boundary" >"$T/nojfr"
post 400 "without a 'jfr' part" "http://127.0.0.1:$port/ingest?name=bad&$query" \
  --data-binary @"$T/nojfr" -H "Content-Type: multipart/form-data; boundary=$boundary"
pass "truncated, corrupt and foreign bodies: 400 naming the offset"
# a gzip bomb as the recording, raw and as the form's jfr part
head -c 64M /dev/zero | gzip -1 >"$T/bomb.gz"
post 413 "max_decompressed_size" "http://127.0.0.1:$port/ingest?name=bad&$query" --data-binary @"$T/bomb.gz"
{
  printf -- '--%s\r\nContent-Disposition: form-data; name="jfr"; filename="jfr"\r\n\r\n' "$boundary"
  cat "$T/bomb.gz"
  printf '\r\n--%s--\r\n' "$boundary"
} >"$T/bombform"
post 413 "max_decompressed_size" "http://127.0.0.1:$port/ingest?name=bad&$query" \
  --data-binary @"$T/bombform" -H "Content-Type: multipart/form-data; boundary=$boundary"
pass "a 64 MiB gzip bomb as the recording: 413 (max_decompressed_size 32MiB)"

idx="$T/out/index.jsonl"
# jfrapp: cpu, 3 memory (when the TLAB had events), mutex, block
want=5
[ "${jdk_tlab% *}" -gt 0 ] && want=6
have_all() { [ "$(count_lines "$idx" '"service_name":"jfrsdk"')" -ge "$want" ] &&
  [ "$(count_lines "$idx" '"service_name":"jfrapp"')" -ge "$want" ]; }
wait_for 30 have_all || fail "want $want profiles per upload: $(cat "$idx" 2>/dev/null)"
[ "$(count_lines "$idx" '"service_name":"bad"')" = 0 ] || fail "a refused upload was written"

# file_of SERVICE FIRST_SAMPLE_TYPE/UNIT FAMILY: the file of that profile
file_of() {
  jq -r --arg s "$1" --arg t "$2" --arg n "$3" 'select(.labels.service_name == $s and
    .sample_types[0] == $t and .labels.__name__ == $n) | .path' "$idx" | sed -n 1p
}
# raw_totals FILE: the sums of each sample value column
raw_totals() {
  go tool pprof -raw "$1" 2>/dev/null | awk '/^Samples:/ { on = 1; next } /^Locations/ { on = 0 }
    on && /^ *[0-9]+( +[0-9]+)*:/ { split($0, a, ":"); n = split(a[1], v, " ")
      for (i = 1; i <= n; i++) s[i] += v[i]; m = n }
    END { out = ""; for (i = 1; i <= m; i++) out = out (i > 1 ? " " : "") sprintf("%.0f", s[i]); print out }'
}
# check NAME SAMPLE_TYPE FAMILY PERIOD_TYPE EXPECTED_TOTALS [TOLERANCE_OF_SECOND]
check() {
  local name=$1 type=$2 family=$3 ptype=$4 want=$5 tol=${6:-0} f got line
  f=$(file_of jfrapp "$type" "$family")
  [ -n "$f" ] || fail "$name: no jfrapp profile with sample type $type: $(cat "$idx")"
  line=$(jq -c --arg p "$f" 'select(.path == $p)' "$idx")
  for kv in "\"__name__\":\"$family\"" '"env":"e2e"' '"pyroscope_spy":"javaspy"' '"__delta__":"false"'; do
    [[ "$line" == *"$kv"* ]] || fail "$name: labels lack $kv: $line"
  done
  [[ "$line" == *"\"from\":$(((now - 2) * 1000000000)),\"until\":$((now * 1000000000))"* ]] ||
    fail "$name: window is not the query's from/until: $line"
  go tool pprof -raw "$T/out/$f" >"$T/raw" 2>&1 || fail "$name: go tool pprof cannot read $f: $(head -3 "$T/raw")"
  grep -q "^PeriodType: $ptype" "$T/raw" || fail "$name: period type is not $ptype: $(head -3 "$T/raw")"
  got=$(raw_totals "$T/out/$f")
  local g1=${got%% *} w1=${want%% *}
  [ "$g1" = "$w1" ] || fail "$name: first totals $g1, the JDK says $w1 (got '$got', want '$want')"
  if [[ "$want" == *" "* ]]; then
    local g2=${got##* } w2=${want##* } d
    d=$(( g2 > w2 ? g2 - w2 : w2 - g2 ))
    [ "$d" -le "$tol" ] || fail "$name: second totals $g2, the JDK says $w2 (off by $d > $tol)"
  fi
  # the SDK's upload converts to the very same profile
  local sdk
  sdk=$(file_of jfrsdk "$type" "$family")
  [ -n "$sdk" ] || fail "$name: the multipart upload has no $type profile"
  diff <(pprof_body "$T/out/$f") <(pprof_body "$T/out/$sdk") >/dev/null ||
    fail "$name: the multipart upload converted differently"
  pass "$name: $family $type, totals $got as the JDK counts"
}
check cpu cpu/nanoseconds process_cpu "cpu nanoseconds" "$((jdk_cpu * NS_PER_CPU_SAMPLE))"
[ "${jdk_tlab% *}" = 0 ] || check "allocations in new TLABs" alloc_in_new_tlab_objects/count memory "space bytes" "$jdk_tlab"
check "allocations outside TLABs" alloc_outside_tlab_objects/count memory "space bytes" "$jdk_outside"
check "allocation samples" alloc_sample_objects/count memory "space bytes" "$jdk_sample"
# durations: ticks to ns per event, as the JDK does; 1 ns each of slack
check "monitor enter" contentions/count mutex "mutex count" "$jdk_monitor" "${jdk_monitor% *}"
check "thread park" contentions/count block "block count" "$jdk_park" "${jdk_park% *}"

# the hot method leads the CPU profile
top=$(go tool pprof -top "$T/out/$(file_of jfrapp cpu/nanoseconds process_cpu)" 2>/dev/null | awk '/flat%/ { getline; print $NF; exit }')
[ "$top" = "JfrWorkload.hotBurn" ] || fail "CPU top is '$top', not JfrWorkload.hotBurn"
pass "CPU: JfrWorkload.hotBurn on top"

# frames are class.method with lines, as Pyroscope names Java frames
grep -q 'JfrWorkload.holdMonitor :[1-9]' <(go tool pprof -raw "$T/out/$(file_of jfrapp contentions/count mutex)" 2>/dev/null) ||
  fail "mutex frames lack JfrWorkload.holdMonitor with its line"
grep -q '"otel.scope.name":"com.grafana.pyroscope/java"' "$idx" || fail "the SDK's tags are not labels"
pass "frames named pkg/Class.method with line numbers; SDK tags kept"
