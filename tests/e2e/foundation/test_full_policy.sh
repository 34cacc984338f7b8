#!/usr/bin/env bash
# Full queues and their policies, counted exactly. One receiver feeds two
# pipelines whose exporters cannot write (their folders sit under a regular
# file: ENOTDIR, retried with long waits), so each exporter's worker holds
# one profile for good and every queue fills:
#   a: pipeline queue `block` -> exporter queue `drop_oldest` (1 batch):
#      the exporter drops all but the one it holds and the one queued;
#   b: pipeline queue `drop_oldest` (1 batch) -> exporter queue `block`
#      (1 batch): the pipeline thread waits holding one, and its queue
#      drops all but one.
# Nothing blocks the receiver. Files arrive one at a time, each after the
# threads have taken the one before, so the steady state is exact and the
# counters in /metrics must account for every profile.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

N=12
go_profiles "$T/gen"
mkdir -p "$T/in"
touch "$T/not_a_dir"
telemetry_port
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 100ms
    min_file_age: 0s
exporters:
  file/a:
    directory: $T/not_a_dir/a
    retry_on_failure: {initial_interval: 60s, max_interval: 60s, max_elapsed_time: 0s}
    sending_queue: {queue_size: 1B, full_policy: drop_oldest}
    batch: {max_profiles: 1}
  file/b:
    directory: $T/not_a_dir/b
    retry_on_failure: {initial_interval: 60s, max_interval: 60s, max_elapsed_time: 0s}
    sending_queue: {queue_size: 1B, full_policy: block}
    batch: {max_profiles: 1}
service:
  telemetry: {address: "$TELEMETRY"}
  shutdown_timeout: 1s
  pipelines:
    profiles/a:
      receivers: [file]
      exporters: [file/a]
    profiles/b:
      receivers: [file]
      exporters: [file/b]
      queue_size: 1
      full_policy: drop_oldest
YAML

start_profpipe run "$T/config.yaml"
for i in $(seq 1 $N); do
  drop "$T/gen/goapp.heap.pb.gz" "$T/in" "s$i.heap.pb.gz"
  expect_metric 'profpipe_receiver_accepted_profiles_total{component_id="file"}' "$i"
  sleep 0.3 # the pipeline and exporter threads take it
done
expect_metric 'profpipe_file_receiver_files_total{component_id="file",result="read"}' $N
# a: held by the worker + queued = 2; the rest dropped by the exporter
expect_metric 'profpipe_exporter_enqueued_profiles_total{component_id="file/a"}' $N
expect_metric 'profpipe_exporter_dropped_profiles_total{component_id="file/a"}' $((N - 2))
expect_metric 'profpipe_pipeline_dropped_profiles_total{pipeline="profiles/a"}' 0
# b: worker + exporter queue = 2 enqueued, 1 in the pipeline thread's hand,
# 1 in the pipeline queue; the rest dropped by the pipeline queue
expect_metric 'profpipe_exporter_enqueued_profiles_total{component_id="file/b"}' 2
expect_metric 'profpipe_exporter_dropped_profiles_total{component_id="file/b"}' 0
expect_metric 'profpipe_pipeline_dropped_profiles_total{pipeline="profiles/b"}' $((N - 4))
expect_metric 'profpipe_exporter_sent_profiles_total{component_id="file/a"}' 0
grep -q 'component=exporter/file/a msg="sending queue full: dropped the oldest' "$T/run.log" ||
  fail "exporter drops not logged"
grep -q 'component=profiles/b msg="pipeline queue full: dropped the oldest' "$T/run.log" ||
  fail "pipeline drops not logged: $(grep -m3 'queue full' "$T/run.log")"
pass "drop_oldest counted exactly: exporter a dropped $((N - 2)) of $N, pipeline b dropped $((N - 4)) of $N; block held the rest"
