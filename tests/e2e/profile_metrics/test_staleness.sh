#!/usr/bin/env bash
# profile_metrics staleness end to end: two services push CPU profiles to
# the pyroscope receiver; "gone" stops after its first, "live" keeps
# sending. With staleness 2s, gone's series leave the telemetry /metrics
# (and profpipe_profile_metrics_expired_series_total counts it) while
# live's stay, with its count of windows.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"

S="$SOURCE_DIR/config/samples"
MP=$(free_port); PY=$(free_port)
cat >"$T/c.yaml" <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$PY
exporters:
  profile_metrics:
    staleness: 2s
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles/default:
      receivers: [pyroscope]
      exporters: [profile_metrics]
YAML
start_profpipe pm "$T/c.yaml"
wait_for 20 curl -sf "http://127.0.0.1:$MP/metrics" || { cat "$T/pm.log"; fail "no telemetry"; }

ingest() { # name from until
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary "@$S/example.cpu.pb.gz" "http://127.0.0.1:$PY/ingest?name=$1&from=$2&until=$3&format=pprof"
}
page() { curl -sf "http://127.0.0.1:$MP/metrics"; }
has() { local p; p=$(page) && grep -q "^$1" <<<"$p"; }

t0=$(date +%s)
ingest gone $((t0 - 10)) "$t0" || fail "ingest gone"
ingest live $((t0 - 10)) "$t0" || fail "ingest live"
wait_for 20 has 'profile_cpu_seconds_total{service_name="gone"}' || fail "no series for gone"
wait_for 20 has 'profile_cpu_seconds_total{service_name="live"}' || fail "no series for live"
sent=1
# live keeps sending, one new window every half second, until gone expired
gone_expired() { ! has 'profile_cpu_seconds_total{service_name="gone"}'; }
deadline=$((t0 + 60))
until gone_expired; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "gone's series still there after 60s (staleness 2s)"
  ingest live $((t0 + sent * 10 - 10)) $((t0 + sent * 10)) || fail "ingest live"
  sent=$((sent + 1))
  sleep 0.5
done
# live's last pushes may be in flight: wait for all of them to count
want=$(awk -v n="$(pprof_total "$S/example.cpu.pb.gz" 2)" -v k="$sent" 'BEGIN { printf "%.6f", k * n / 1e9 }')
live_total() {
  local p v; p=$(page) || return 1
  v=$(awk '$1 == "profile_cpu_seconds_total{service_name=\"live\"}" { print $2 }' <<<"$p")
  awk -v a="${v:-0}" -v b="$want" 'BEGIN { exit !((a - b) * (a - b) < 1e-9) }'
}
wait_for 20 live_total || fail "live's CPU is not $want s after $sent windows: $(page | grep 'service_name="live"')"
# counted when a render expired it: on the page from the next render on
expired_counted() { has 'profpipe_profile_metrics_expired_series_total{component_id="profile_metrics"} [1-9]'; }
wait_for 20 expired_counted || fail "expired_series_total: $(page | grep expired_series)"
p=$(page)
! grep -q 'service_name="gone"' <<<"$p" || fail "a series of gone left on the page"
pass "gone expired after 2s without profiles; live kept all $sent windows (${want}s CPU)"
stop_profpipe "$PROFPIPE_PID"
