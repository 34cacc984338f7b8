#!/usr/bin/env bash
# At least once across the whole gateway, not only its receiver: an offset
# is committed only when EVERY exporter has the message's profiles, and a
# windowed processor (downsample `window`) holds its inputs' acks until
# its merged profile is delivered.
#  1. Fan-out: a gateway exports to a file (works) and to a second kafka
#     topic (brokers unreachable: retried forever). Every profile reaches
#     the file, yet nothing may be committed: SIGKILLed and restarted with
#     a reachable second exporter, it consumes every message again (each
#     profile twice in the file) and the second topic gets them all.
#  2. Window: a gateway (another group) whose downsample window is still
#     open holds every message unexported: SIGKILLed, nothing was committed,
#     so the restarted gateway consumes all again; its clean stop closes the
#     window, delivers and commits, and a third start consumes nothing.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

start_mock profiles:2 forward:2
go_profiles "$T/go"
n=0
for f in "$T/go"/*.pb.gz; do
  timeout "$KCAT_TIMEOUT" kcat -P -b "$BOOTSTRAP" -t profiles \
    -H "profpipe.label.service_name=s-$(basename "$f" .pb.gz)" "$f" || fail "kcat: $f"
  n=$((n + 1))
done
DEAD_BROKER=127.0.0.1:$(free_port)

# receiver_yaml GROUP: the kafka receiver of group GROUP, short timeouts.
receiver_yaml() {
  cat <<YAML
receivers:
  kafka:
    brokers: [${BOOTSTRAP//,/, }]
    topics: [profiles]
    group_id: $1
    initial_offset: earliest
    consumer: {session.timeout.ms: "3000", heartbeat.interval.ms: "300"}
YAML
}

# fanout_config FILE OUT_DIR FORWARD_BROKERS TELEMETRY
fanout_config() {
  { receiver_yaml fanout; cat <<YAML; } >"$1"
exporters:
  file:
    directory: $2
  kafka/forward:
    brokers: [$3]
    topic: forward
    timeout: 1s
    retry_on_failure: {initial_interval: 200ms, max_interval: 500ms, max_elapsed_time: 0s}
service:
  telemetry: {address: "$4"}
  pipelines:
    profiles:
      receivers: [kafka]
      exporters: [file, kafka/forward]
YAML
}

# window_config FILE OUT_DIR TELEMETRY
window_config() {
  { receiver_yaml windowed; cat <<YAML; } >"$1"
processors:
  downsample:
    window: 10m
exporters:
  file:
    directory: $2
service:
  telemetry: {address: "$3"}
  pipelines:
    profiles:
      receivers: [kafka]
      processors: [downsample]
      exporters: [file]
YAML
}

received() { metric "$TELEMETRY" kafka_messages_received_total; }
received_all() { [ "$(received)" -ge "$n" ]; }
# each_at_least K OUT_DIR: every one of the n profiles is in OUT_DIR K times.
each_at_least() {
  [ "$(services_in "$2" | sort | uniq -c | awk -v k="$1" '$1 >= k' | wc -l)" -ge "$n" ]
}

# 1. fan-out: one exporter cannot deliver, so no offset may be committed.
TELEMETRY=127.0.0.1:$(free_port)
fanout_config "$T/fan.yaml" "$T/fan" "$DEAD_BROKER" "$TELEMETRY"
start_profpipe fan "$T/fan.yaml"; gw=$PROFPIPE_PID
wait_for 30 all_arrived "$n" "$T/fan" || fail "the file exporter got $(services_in "$T/fan" | wc -l) of $n"
wait_for 20 metric_above "$TELEMETRY" kafka_messages_retried_total 0 ||
  fail "the unreachable exporter never failed a delivery: $(tail -5 "$T/fan.log")"
sleep 1.5 # three commit intervals: a wrong commit would happen now
[ "$(metric "$TELEMETRY" kafka_offset_commits_total)" = 0 ] ||
  fail "offsets committed while the second exporter had delivered nothing"
kill -KILL "$gw"; wait "$gw" 2>/dev/null || true
pass "all $n profiles in the file, none forwarded, no commit: SIGKILLed"

mv "$T/fan.log" "$T/fan-killed.log"
fanout_config "$T/fan.yaml" "$T/fan" "${BOOTSTRAP//,/, }" "$TELEMETRY"
start_profpipe fan "$T/fan.yaml"; gw=$PROFPIPE_PID
wait_for 40 each_at_least 2 "$T/fan" ||
  fail "after the restart not every profile was consumed again: $(services_in "$T/fan" | sort | uniq -c)"
wait_for 20 topic_has forward "$n" || fail "forward topic has $(kcat_count forward) of $n"
stop_profpipe "$gw"
pass "restarted: every message consumed again, all $n forwarded"

# 2. window: the processor holds the acks of what its open window merged.
TELEMETRY=127.0.0.1:$(free_port)
window_config "$T/win.yaml" "$T/win" "$TELEMETRY"
start_profpipe win "$T/win.yaml"; gw=$PROFPIPE_PID
wait_for 30 received_all || fail "the windowed gateway consumed $(received) of $n"
sleep 1.5 # three commit intervals
[ "$(services_in "$T/win" | wc -l)" = 0 ] || fail "the 10m window closed early"
[ "$(metric "$TELEMETRY" kafka_offset_commits_total)" = 0 ] ||
  fail "offsets committed while their profiles sat in an open window"
[ "$(metric "$TELEMETRY" kafka_messages_in_flight)" -ge "$n" ] ||
  fail "in flight $(metric "$TELEMETRY" kafka_messages_in_flight), not $n"
kill -KILL "$gw"; wait "$gw" 2>/dev/null || true
pass "$n messages held by an open window, none committed: SIGKILLed"

mv "$T/win.log" "$T/win-killed.log"
start_profpipe win "$T/win.yaml"; gw=$PROFPIPE_PID
wait_for 40 received_all || fail "after the restart the gateway consumed $(received) of $n again"
stop_profpipe "$gw" # closes the window: delivered, then committed
each_at_least 1 "$T/win" || fail "window output after the clean stop: $(services_in "$T/win")"
pass "restarted: all $n consumed again; the clean stop delivered the window"

mv "$T/win.log" "$T/win-stopped.log"
start_profpipe win "$T/win.yaml"; gw=$PROFPIPE_PID
wait_for 30 grep -q "partition(s) assigned" "$T/win.log" || fail "third start got no partition"
sleep 2
[ "$(received)" = 0 ] || fail "the third start consumed $(received) again: the window's acks were not committed"
stop_profpipe "$gw"
pass "third start consumed nothing: the delivered window's offsets were committed"
