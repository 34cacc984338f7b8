#!/usr/bin/env bash
# A Go client that uploads exactly what the Pyroscope Go SDK uploads
# (gosdk/main.go: pyroscope-go v1.4.2's multipart form and name, real
# runtime/pprof profiles of every type: cpu, heap with alloc/inuse
# objects/space, goroutines, mutex, block; and the v0 SDK's mutex and
# block with prev_profile) pushes to profpipe's pyroscope receiver, which
# writes files. Checked in what the file exporter wrote, field by field:
# each profile's __name__ is the one Pyroscope gives it (process_cpu,
# memory, goroutines, mutex, block: read in grafana/pyroscope weekly-f184,
# pkg/og/convert/pprof/profile.go metricName and the default sample type
# mapping of pkg/og/storage/tree/pprof.go), its labels are exactly the SDK's tags
# as Pyroscope's distributor leaves them (__session_id__ dropped by
# default, kept modulo max_sessions_per_series otherwise, dots in names
# made underscores), and its `go tool pprof -raw` content is what was sent
# (or profile - prev_profile for the v0 SDK's cumulative lock profiles).
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

go_build "$T/gosdk" "$PYRO_DIR/gosdk" || fail "cannot build the Go SDK client"

config_default() { file_sink_config "$1" "$T/out"; }
config_sessions() { file_sink_config "$1" "$T/out_s" "max_sessions_per_series: 2"; }
start_listening default config_default; pid=$PROFPIPE_PID; port=$LISTEN_PORT
start_listening sessions config_sessions; pid_s=$PROFPIPE_PID; port_s=$LISTEN_PORT

mkdir -p "$T/sent" "$T/sent_v0" "$T/sent_s"
"$T/gosdk" -server "http://127.0.0.1:$port" -app gosdkapp -out "$T/sent" ||
  fail "the Go SDK client's uploads were not all taken: $(tail -5 "$T/default.log")"
"$T/gosdk" -server "http://127.0.0.1:$port" -app gosdkv0 -out "$T/sent_v0" -v0 ||
  fail "the v0 SDK's uploads were not all taken: $(tail -5 "$T/default.log")"
"$T/gosdk" -server "http://127.0.0.1:$port_s" -app gosdkapp -out "$T/sent_s" \
  -session 1f2e3d4c5b6a7988 || fail "uploads to the sessions receiver: $(tail -5 "$T/sessions.log")"
stop_profpipe "$pid"
stop_profpipe "$pid_s"

idx="$T/out/index.jsonl"
[ "$(wc -l <"$idx")" = 7 ] || fail "want 7 profiles, index has: $(cat "$idx")"
[ "$(wc -l <"$T/out_s/index.jsonl")" = 5 ] || fail "sessions: $(cat "$T/out_s/index.jsonl")"

# The one index line of APP's profile named NAME in INDEX.
line_of() { # index app name
  local l
  l=$(jq -c --arg a "$2" --arg n "$3" \
    'select(.labels.service_name == $a and .labels.__name__ == $n)' "$1")
  [ "$(printf '%s\n' "$l" | grep -c .)" = 1 ] || fail "$2: want one $3 profile, got: $l"
  printf '%s\n' "$l"
}

go_version=$(go env GOVERSION)
want_labels() { # name scope [session]
  jq -cnS --arg n "$1" --arg s "com.grafana.pyroscope/$2" --arg v "$go_version" --arg sid "${3:-}" \
    '{__name__: $n, __delta__: "false", env: "e2e", service_name: "gosdkapp",
      pyroscope_spy: "gospy", otel_scope_name: $s, otel_scope_version: "v1.4.2",
      process_runtime_name: "go", process_runtime_version: $v}
     + (if $sid == "" then {} else {__session_id__: $sid} end)'
}

check_type() { # kind name scope out sent [session]
  local l got want
  l=$(line_of "$4/index.jsonl" gosdkapp "$2")
  got=$(jq -cS .labels <<<"$l")
  want=$(want_labels "$2" "$3" "${6:-}")
  [ "$got" = "$want" ] || fail "$1: labels $got, want $want"
  pprof_raw "$5/$1.pb.gz" "$T/sent.raw" || fail "$1: go tool pprof cannot read what was sent"
  pprof_raw "$4/$(jq -r .path <<<"$l")" "$T/got.raw" || fail "$1: go tool pprof cannot read the stored file"
  grep -q '^Samples:' "$T/got.raw" || fail "$1: no samples section"
  cmp -s "$T/sent.raw" "$T/got.raw" || fail "$1: stored profile differs: $(diff "$T/sent.raw" "$T/got.raw" | sed -n 1,5p)"
  # the window is the SDK's from/until
  [ "$(jq .until <<<"$l")" -gt "$(jq .from <<<"$l")" ] || fail "$1: window $(jq -c '[.from,.until]' <<<"$l")"
}

check_type cpu process_cpu go "$T/out" "$T/sent"
check_type heap memory godeltaprof "$T/out" "$T/sent"
check_type goroutines goroutines go "$T/out" "$T/sent"
check_type mutex mutex godeltaprof "$T/out" "$T/sent"
check_type block block godeltaprof "$T/out" "$T/sent"
jq -e '.sample_types == ["alloc_objects/count","alloc_space/bytes","inuse_objects/count","inuse_space/bytes"]' \
  <<<"$(line_of "$idx" gosdkapp memory)" >/dev/null || fail "heap: sample types $(line_of "$idx" gosdkapp memory)"
jq -e '.sample_types == ["contentions/count","delay/nanoseconds"]' \
  <<<"$(line_of "$idx" gosdkapp block)" >/dev/null || fail "block: sample types"
! grep -q '__session_id__' "$idx" || fail "__session_id__ kept with max_sessions_per_series 0"
pass "Go SDK v1.4.2: cpu, heap, goroutines, mutex, block named as Pyroscope names them, labels and contents as sent"

# 0x88796a5b4c3d2e1f mod 2 = 1, written little endian as the SDK writes ids
for pair in cpu:process_cpu:go heap:memory:godeltaprof goroutines:goroutines:go \
            mutex:mutex:godeltaprof block:block:godeltaprof; do
  IFS=: read -r kind name scope <<<"$pair"
  check_type "$kind" "$name" "$scope" "$T/out_s" "$T/sent_s" 0100000000000000
done
pass "max_sessions_per_series 2: __session_id__ kept as the id modulo 2"

# v0: what is stored is profile - prev_profile, column by column
for kind in mutex block; do
  l=$(line_of "$idx" gosdkv0 "$kind")
  [ "$(jq -c '.labels | del(.__name__)' <<<"$l")" = \
    '{"__delta__":"false","env":"e2e","pyroscope_spy":"gospy","service_name":"gosdkv0"}' ] ||
    fail "v0 $kind: labels $(jq -c .labels <<<"$l")"
  stored="$T/out/$(jq -r .path <<<"$l")"
  for col in 1 2; do
    sent=$(pprof_total "$T/sent_v0/$kind.pb.gz" $col)
    prev=$(pprof_total "$T/sent_v0/$kind.prev.pb.gz" $col)
    got=$(pprof_total "$stored" $col)
    [ "$got" = $((sent - prev)) ] || fail "v0 $kind column $col: stored $got, want $sent - $prev"
    [ "$got" -gt 0 ] || fail "v0 $kind column $col: no contention between the two states"
  done
done
pass "v0 SDK: mutex and block with prev_profile stored as the delta, named mutex and block"
