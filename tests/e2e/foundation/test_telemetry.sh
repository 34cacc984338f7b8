#!/usr/bin/env bash
# Self-observability after a run: /metrics (Prometheus text) shows the file
# receiver's read and failed files, the host's per-component profile
# counts for receiver and exporter, the exporter's bytes (equal to what the
# index lists) and build info; /healthz answers 200.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

go_profiles "$T/gen"
mkdir -p "$T/in"
for type in cpu heap goroutine; do cp "$T/gen/goapp.$type.pb.gz" "$T/in/"; done
echo "not a profile" > "$T/in/broken.pb.gz"
telemetry_port
cat > "$T/config.yaml" <<YAML
receivers:
  file/in: {include: ["$T/in/*.pb.gz"], min_file_age: 0s}
exporters:
  file/out: {directory: $T/out}
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles: {receivers: [file/in], exporters: [file/out]}
YAML
start_profpipe run "$T/config.yaml"
wait_index "$T/out" 3 30
wait_for 10 curl -sf "http://$TELEMETRY/healthz" || fail "/healthz did not answer 200"
metrics() { curl -sf "http://$TELEMETRY/metrics"; }
expect_metric 'profpipe_file_receiver_files_total{component_id="file/in",result="read"}' 3
expect_metric 'profpipe_file_receiver_files_total{component_id="file/in",result="failed"}' 1
expect_metric 'profpipe_receiver_accepted_profiles_total{component_id="file/in"}' 3
expect_metric 'profpipe_exporter_sent_profiles_total{component_id="file/out"}' 3
expect_metric 'profpipe_exporter_rejected_profiles_total{component_id="file/out"}' 0
expect_metric 'profpipe_exporter_dropped_profiles_total{component_id="file/out"}' 0
expect_metric 'profpipe_exporter_queue_bytes{component_id="file/out"}' 0
expect_metric 'profpipe_pipeline_dropped_profiles_total{pipeline="profiles"}' 0
expect_metric 'profpipe_pipeline_queue_bytes{pipeline="profiles"}' 0
# the receiver passes files on as read: its bytes are the good files' sizes
in_bytes=$(cat "$T"/in/goapp.*.pb.gz | wc -c)
expect_metric 'profpipe_receiver_accepted_bytes_total{component_id="file/in"}' "$in_bytes"
bytes=$(awk -F'"bytes":' '{split($2, a, /[,}]/); s += a[1]} END {print s}' "$T/out/index.jsonl")
expect_metric 'profpipe_file_exporter_written_bytes_total{component_id="file/out"}' "$bytes"
expect_metric 'profpipe_file_exporter_disk_bytes{component_id="file/out"}' "$bytes"
version=$(sed -n 's/^project(profpipe VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
expect_metric "profpipe_build_info{version=\"$version\"}" 1
pass "/metrics: files read 3 / failed 1, receiver 3 ($in_bytes bytes), exporter 3 ($bytes bytes), queues empty, nothing dropped, build info $version"

# the whole page is Prometheus text: HELP and TYPE before each family,
# every sample line `name{labels} number`
metrics > "$T/metrics.txt"
awk '
  /^# HELP / {help[$3] = 1; next}
  /^# TYPE / {if (!help[$3]) {print "TYPE before HELP: " $3; bad = 1}; type[$3] = 1; next}
  /^#/ || /^$/ {next}
  {
    name = $1; sub(/\{.*/, "", name)
    if (!type[name]) {print "no TYPE for " name; bad = 1}
    if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+|NaN|[-+]Inf$/) {print "bad line: " $0; bad = 1}
  }
  END {exit bad}' "$T/metrics.txt" || fail "/metrics is not valid Prometheus text"
pass "/metrics parses as Prometheus text; /healthz 200"
stop_profpipe "$PROFPIPE_PID"
