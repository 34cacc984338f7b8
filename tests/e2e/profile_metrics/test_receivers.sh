#!/usr/bin/env bash
# profile_metrics on profiles from the file and pyroscope receivers, on its
# own `endpoint`, as the only exporter; the values are checked against
# `go tool pprof -raw` of the same real Go profiles (config/samples):
# - file receiver (no __delta__: Go's running totals): CPU seconds = the
#   cpu/nanoseconds total / 1e9; heap in use = the inuse_space total;
#   goroutines = the goroutine count; alloc bytes 0 (a first running total
#   is only a baseline);
# - pyroscope /ingest (__delta__="false"): the same CPU profile pushed
#   twice with the same window counts once, with another window twice; a
#   heap profile's alloc_space total is added as a delta;
# - the series are on the endpoint and not on the telemetry page;
# - every profpipe_* metric config/alerts/profpipe.rules.yaml uses is on
#   the telemetry page; a refused SIGHUP reload sets
#   profpipe_config_last_reload_successful to 0.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"

S="$SOURCE_DIR/config/samples"
mkdir -p "$T/in"
for t in cpu heap goroutine; do cp "$S/example.$t.pb.gz" "$T/in/filesvc.$t.pb.gz"; done
cpu_ns=$(pprof_total "$S/example.cpu.pb.gz" 2)
inuse=$(pprof_total "$S/example.heap.pb.gz" 4)
alloc=$(pprof_total "$S/example.heap.pb.gz" 2)
gor=$(pprof_total "$S/example.goroutine.pb.gz" 1)
[ "$cpu_ns" -gt 0 ] && [ "$inuse" -gt 0 ] && [ "$alloc" -gt 0 ] && [ "$gor" -gt 0 ] ||
  fail "sample totals: cpu $cpu_ns inuse $inuse alloc $alloc goroutines $gor"

MP=$(free_port); EP=$(free_port); PY=$(free_port)
cat >"$T/c.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
  pyroscope:
    endpoint: 127.0.0.1:$PY
exporters:
  profile_metrics:
    endpoint: 127.0.0.1:$EP
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles/default:
      receivers: [file, pyroscope]
      exporters: [profile_metrics]
YAML
start_profpipe pm "$T/c.yaml"
wait_for 20 curl -sf "http://127.0.0.1:$EP/metrics" || { cat "$T/pm.log"; fail "no endpoint"; }

# value NAME{LABELS}: the sample's value on the endpoint, or empty
value() { curl -sf "http://127.0.0.1:$EP/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { print $2 }'; }
is() { awk -v a="$(value "$1")" -v b="$2" 'BEGIN { exit !(a != "" && (a - b) * (a - b) < 1e-12 * (b * b + 1)) }'; }

wait_for 20 is 'profile_goroutines{service_name="filesvc"}' "$gor" ||
  fail "filesvc goroutines '$(value 'profile_goroutines{service_name="filesvc"}')', want $gor"
cpu_s=$(awk -v n="$cpu_ns" 'BEGIN { printf "%.9f", n / 1e9 }')
is 'profile_cpu_seconds_total{service_name="filesvc"}' "$cpu_s" ||
  fail "filesvc CPU '$(value 'profile_cpu_seconds_total{service_name="filesvc"}')', want $cpu_s"
is 'profile_memory_inuse_bytes{service_name="filesvc"}' "$inuse" || fail "filesvc in-use bytes, want $inuse"
is 'profile_memory_alloc_bytes_total{service_name="filesvc"}' 0 || fail "filesvc alloc bytes not 0 (baseline)"
pass "file receiver: CPU ${cpu_s}s, $inuse bytes in use, $gor goroutines as go tool pprof says; alloc 0 (baseline)"

ingest() { # name from until file
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/octet-stream' --data-binary "@$4" \
    "http://127.0.0.1:$PY/ingest?name=$1&from=$2&until=$3&format=pprof"
}
now=$(date +%s)
ingest pyrosvc $((now - 20)) $((now - 10)) "$S/example.cpu.pb.gz" || fail "ingest"
wait_for 20 is 'profile_cpu_seconds_total{service_name="pyrosvc"}' "$cpu_s" || fail "pyrosvc CPU, want $cpu_s"
ingest pyrosvc $((now - 20)) $((now - 10)) "$S/example.cpu.pb.gz" || fail "ingest again"
wait_for 20 test "$(curl -sf "http://127.0.0.1:$MP/metrics" | grep -c 'reason="duplicate_window"} 1$')" = 1 ||
  fail "the same window twice was not counted as a duplicate"
is 'profile_cpu_seconds_total{service_name="pyrosvc"}' "$cpu_s" || fail "the same window counted twice"
ingest pyrosvc $((now - 10)) "$now" "$S/example.cpu.pb.gz" || fail "ingest next window"
two=$(awk -v n="$cpu_ns" 'BEGIN { printf "%.9f", 2 * n / 1e9 }')
wait_for 20 is 'profile_cpu_seconds_total{service_name="pyrosvc"}' "$two" || fail "pyrosvc CPU after two windows, want $two"
ingest pyrosvc $((now - 10)) "$now" "$S/example.heap.pb.gz" || fail "ingest heap"
wait_for 20 is 'profile_memory_alloc_bytes_total{service_name="pyrosvc"}' "$alloc" ||
  fail "pyrosvc alloc '$(value 'profile_memory_alloc_bytes_total{service_name="pyrosvc"}')', want $alloc (a delta)"
pass "pyroscope /ingest: a window once however often sent (${cpu_s}s, then $two s), alloc $alloc as a delta"

curl -sf "http://127.0.0.1:$MP/metrics" >"$T/telemetry.txt"
! grep -q '^profile_' "$T/telemetry.txt" || fail "profile_* series on the telemetry page with an endpoint set"
pass "series on the exporter's endpoint only"

# every profpipe_* metric the shipped rules use exists (profpipe_scrape_*
# need a scrape target: they are looked up by name in pprof_scrape's code)
for m in $(grep -o 'profpipe_[a-z_]*' "$SOURCE_DIR/config/alerts/profpipe.rules.yaml" | sort -u); do
  if [[ $m == profpipe_scrape_* ]]; then
    grep -q "\"${m#profpipe_}\"" "$SOURCE_DIR"/receivers/pprof_scrape/*.c || fail "no ${m#profpipe_} in pprof_scrape"
  else
    grep -q "^$m[{ ]" "$T/telemetry.txt" || fail "the rules use $m, which /metrics does not have"
  fi
done
pass "every profpipe_* metric of the rules is on /metrics"

echo "receivers: {file: {include: [" >"$T/c.yaml"   # broken YAML
kill -HUP "$PROFPIPE_PID"
reload_failed() { local page; page=$(curl -sf "http://127.0.0.1:$MP/metrics") && grep -qx 'profpipe_config_last_reload_successful 0' <<<"$page"; }
wait_for 20 reload_failed || fail "profpipe_config_last_reload_successful not 0 after a refused reload"
page=$(curl -sf "http://127.0.0.1:$MP/metrics")
grep -qx 'profpipe_config_reloads_total{result="failure"} 1' <<<"$page" ||
  fail "profpipe_config_reloads_total{result=failure} is not 1: $(grep reloads_total <<<"$page")"
is 'profile_cpu_seconds_total{service_name="pyrosvc"}' "$two" || fail "series lost by a refused reload"
pass "a refused reload: last_reload_successful 0, reloads_total{failure} 1, series kept"
stop_profpipe "$PROFPIPE_PID"
