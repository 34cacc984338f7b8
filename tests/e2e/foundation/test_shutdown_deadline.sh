#!/usr/bin/env bash
# SIGTERM while the only exporter cannot deliver: its folder sits under a
# regular file (mkdir says ENOTDIR, retried forever with long waits), and
# the small block-policy queues between it and the receiver are full, so
# the receiver is blocked in emit(). shutdown_timeout (2s) must still bound
# the stop: profpipe exits 0 soon after it, and says what it dropped.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

N=20
TIMEOUT_S=2
# the stop may take the timeout plus this much (process exit, ASan's leak check)
SLACK_S=$([ "$SANITIZE" = 1 ] && echo 8 || echo 4)
go_profiles "$T/gen"
mkdir -p "$T/in"
for i in $(seq 1 $N); do cp "$T/gen/goapp.heap.pb.gz" "$T/in/s$i.heap.pb.gz"; done
touch "$T/not_a_dir"
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
exporters:
  file:
    directory: $T/not_a_dir/out
    retry_on_failure: {initial_interval: 30s, max_interval: 30s, max_elapsed_time: 0s}
    sending_queue: {queue_size: 1B}  # one batch at a time
    batch: {max_profiles: 1}
service:
  telemetry: {address: ""}  # no port to collide on; test_telemetry checks it
  shutdown_timeout: ${TIMEOUT_S}s
  pipelines:
    profiles:
      receivers: [file]
      exporters: [file]
      queue_size: 1                  # one batch at a time: the receiver blocks
YAML

start_profpipe run "$T/config.yaml"
wait_for 20 grep -q 'export failed' "$T/run.log" || fail "the export never failed: $(tail -5 "$T/run.log")"
sleep 0.5 # the receiver fills both queues and blocks in emit()
kill -0 "$PROFPIPE_PID" || fail "profpipe died: $(tail -5 "$T/run.log")"
start=$(date +%s%N)
stop_profpipe "$PROFPIPE_PID" $((TIMEOUT_S + SLACK_S))
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q 'shutdown deadline' "$T/run.log" || fail "no word of the deadline in the log: $(tail -5 "$T/run.log")"
[ ! -e "$T/not_a_dir/out" ] || fail "something was written"
pass "SIGTERM with a dead exporter and full queues: exit 0 after ${took_ms}ms (shutdown_timeout ${TIMEOUT_S}s), drops logged"
