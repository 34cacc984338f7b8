#!/usr/bin/env bash
# kafka receiver -> profile_metrics, through librdkafka's mock cluster
# (tests/e2e/kafka): real Go profiles (tests/e2e/go/profgen: CPU, heap,
# goroutine) go file receiver -> kafka exporter (profpipe's wire format) to
# topic `profiles`; a second profpipe consumes them with the kafka receiver
# and only the profile_metrics exporter. Checked against `go tool pprof` of
# the same files:
# - CPU seconds = the cpu/nanoseconds total / 1e9; heap in use = the
#   inuse_space total; goroutines = the goroutine count; alloc bytes 0 (a
#   first running total is a baseline only); each function's series is
#   its flat (self) time in pprof, for every function pprof lists;
# - kcat (an independent producer) sends the CPU message again with the
#   same key and headers (a redelivery): counted once, as a
#   duplicate_window; with the window headers moved one window later: CPU
#   and the function's series double;
# - a message without headers (another producer): the pprof's own window,
#   service unknown_service, the same CPU seconds.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

start_mock profiles:2
go_profiles "$T/go"
mkdir -p "$T/in"
for t in cpu heap goroutine; do cp "$T/go/$t.pb.gz" "$T/in/kfk.$t.pb.gz"; done
cpu_ns=$(pprof_total "$T/go/cpu.pb.gz" 2)
inuse=$(pprof_total "$T/go/heap.pb.gz" 4)
gor=$(pprof_total "$T/go/goroutine.pb.gz" 1)
# pprof's functions by flat CPU, largest first: "name flat_ns" (flat > 0)
go tool pprof -top -unit=ns -sample_index=cpu -nodecount=100000 "$T/go/cpu.pb.gz" 2>/dev/null |
  awk '/^ *flat +flat%/ { t = 1; next } t && NF >= 6 { v = $1; sub(/ns$/, "", v); if (v > 0) print $6, v }' \
  >"$T/pprof_flat"
read -r top_fn top_ns <"$T/pprof_flat"
[ "$cpu_ns" -gt 0 ] && [ "$inuse" -gt 0 ] && [ "$gor" -gt 0 ] && [ "${top_ns:-0}" -gt 0 ] ||
  fail "pprof totals: cpu $cpu_ns inuse $inuse goroutines $gor top $top_fn $top_ns"

agent_config "$T/agent.yaml" "$T/in"
start_profpipe agent "$T/agent.yaml"
wait_for 30 topic_has profiles 3 ||
  fail "only $(kcat_count profiles) of 3 messages arrived; log: $(tail -5 "$T/agent.log")"
stop_profpipe "$PROFPIPE_PID"

MP=$(free_port)
cat >"$T/gw.yaml" <<YAML
receivers:
  kafka:
    brokers: [${BOOTSTRAP//,/, }]
    topics: [profiles]
    group_id: metrics
    initial_offset: earliest
exporters:
  profile_metrics: {}
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles:
      receivers: [kafka]
      exporters: [profile_metrics]
YAML
start_profpipe gw "$T/gw.yaml"

page() { curl -sf "http://127.0.0.1:$MP/metrics"; }
# value NAME{LABELS}: the sample's value on /metrics, or empty
value() { page | awk -v k="$1" 'index($0, k " ") == 1 { print $2 }'; }
is() { awk -v a="$(value "$1")" -v b="$2" 'BEGIN { exit !(a != "" && (a - b) * (a - b) < 1e-12 * (b * b + 1)) }'; }
# what the gateway was given and made of it, for a failure message: the
# topic's messages (partition, offset, key, headers, size), the
# exporter's own counters and pprof's samples of the CPU profile
diag() {
  printf '\ntopic:\n%s\nexporter:\n%s\npprof -raw samples of cpu.pb.gz:\n%s' \
    "$(kcat_meta profiles)" "$(page | grep '^profpipe_profile_metrics_')" \
    "$(go tool pprof -raw "$T/go/cpu.pb.gz" 2>/dev/null | sed -n '/^Samples:/,/^Locations/p')"
}
expect() { # series want what
  wait_for 30 is "$1" "$2" || fail "$1 = '$(value "$1")', want $2 ($3)$(diag)"
}
CPU='profile_cpu_seconds_total{service_name="kfk"}'
FN="profile_function_cpu_seconds_total{service_name=\"kfk\",function=\"$top_fn\"}"
cpu_s=$(awk -v n="$cpu_ns" 'BEGIN { printf "%.9f", n / 1e9 }')
fn_s=$(awk -v n="$top_ns" 'BEGIN { printf "%.9f", n / 1e9 }')
expect 'profile_goroutines{service_name="kfk"}' "$gor" "goroutine count"
expect 'profile_memory_inuse_bytes{service_name="kfk"}' "$inuse" "inuse_space total"
expect "$CPU" "$cpu_s" "cpu/nanoseconds total / 1e9"
expect 'profile_memory_alloc_bytes_total{service_name="kfk"}' 0 "first running total: baseline"
expect "$FN" "$fn_s" "pprof's flat time of $top_fn"
# every function series is pprof's flat time of that function, and with
# fewer functions than function_top_n (10) every function has one
page | grep -F 'profile_function_cpu_seconds_total{service_name="kfk",' |
  sed 's/.*function="\([^"]*\)"} \([^ ]*\).*/\1 \2/' | sort >"$T/series_fn"
[ "$(wc -l <"$T/pprof_flat")" -le 10 ] || fail "profgen's CPU profile has more than 10 functions"
join -a1 -a2 -e missing -o 0,1.2,2.2 <(sort "$T/pprof_flat") "$T/series_fn" |
  awk '{ if ($2 == "missing" || $3 == "missing" || ($3 - $2 / 1e9) ^ 2 >= 1e-12 * ($3 ^ 2 + 1)) { print; bad = 1 } }
       END { exit bad }' >"$T/fn_diff" ||
  fail "function series differ from pprof's flat times (name pprof_ns series_s): $(cat "$T/fn_diff")"
pass "via kafka: CPU ${cpu_s}s, $inuse bytes in use, $gor goroutines, alloc 0, $(wc -l <"$T/series_fn") function series = pprof flat times (top $top_fn ${fn_s}s)"

# the CPU message as the exporter sent it: partition, offset, key, headers
cpu_meta=$(kcat_meta profiles | awk -F'\t' '$4 ~ /profpipe.profile_type=process_cpu/')
[ "$(wc -l <<<"$cpu_meta")" = 1 ] || fail "expected one CPU message: $cpu_meta"
IFS=$'\t' read -r part off key headers _ <<<"$cpu_meta"
kcat_value profiles "$part" "$off" "$T/cpu.value"
cmp -s "$T/cpu.value" "$T/go/cpu.pb.gz" || fail "the CPU message is not the file byte for byte"
from=$(header_value "$headers" profpipe.from); until=$(header_value "$headers" profpipe.until)
[[ "$from" =~ ^[0-9]+$ && "$until" =~ ^[0-9]+$ && "$until" -gt "$from" ]] || fail "window headers: $headers"
# produce FROM UNTIL: the CPU value again, with the same key and headers but the window given
produce() {
  local args=() h
  while IFS= read -r h; do
    case $h in
      profpipe.from=*) h="profpipe.from=$1" ;;
      profpipe.until=*) h="profpipe.until=$2" ;;
    esac
    args+=(-H "$h")
  done < <(tr ',' '\n' <<<"$headers")
  timeout "$KCAT_TIMEOUT" kcat -P -b "$BOOTSTRAP" -t profiles -k "$key" "${args[@]}" "$T/cpu.value"
}
dups() { page | awk '/^profpipe_profile_metrics_ignored_profiles_total\{.*reason="duplicate_window"/ { print $2 }'; }
produce "$from" "$until" || fail "kcat could not produce the redelivery"
dup_is_one() { [ "$(dups)" = 1 ]; }
wait_for 30 dup_is_one || fail "the redelivered window was not counted as a duplicate ($(dups))"
is "$CPU" "$cpu_s" || fail "a redelivered window counted twice: $(value "$CPU")"
pass "a redelivery (kcat, same key and headers) counted once: duplicate_window $(dups), CPU ${cpu_s}s"

d=$((until - from))
produce $((from + d)) $((until + d)) || fail "kcat could not produce the next window"
expect "$CPU" "$(awk -v n="$cpu_ns" 'BEGIN { printf "%.9f", 2 * n / 1e9 }')" "two windows"
expect "$FN" "$(awk -v n="$top_ns" 'BEGIN { printf "%.9f", 2 * n / 1e9 }')" "two windows of $top_fn"
pass "the next window (kcat, headers moved by ${d} ns): CPU and $top_fn doubled"

timeout "$KCAT_TIMEOUT" kcat -P -b "$BOOTSTRAP" -t profiles "$T/cpu.value" || fail "kcat: headerless message"
expect 'profile_cpu_seconds_total{service_name="unknown_service"}' "$cpu_s" "a message without headers"
pass "a message without headers: unknown_service, CPU ${cpu_s}s"

[ "$(dups)" = 1 ] || fail "duplicate_window is $(dups) after distinct windows"
stop_profpipe "$PROFPIPE_PID"
