#!/usr/bin/env bash
# Broker faults while the agent exports: all three mock brokers taken down
# (rd_kafka_mock_broker_set_down) longer than the exporter's timeout, then
# brought back; then produce requests failed on purpose
# (rd_kafka_mock_push_request_errors), retriable and not. Deliveries fail,
# the exporter's retry policy retries them, and every profile arrives at
# the gateway behind the topic.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

start_mock profiles:4
go_profiles "$T/go"
per_round=$(ls "$T/go"/*.pb.gz | wc -l)
mkdir -p "$T/in"
gateway_config "$T/gw.yaml" "$T/out"
start_profpipe gw "$T/gw.yaml"; gw=$PROFPIPE_PID
AGENT_TELEMETRY=127.0.0.1:$(free_port)
agent_config "$T/agent.yaml" "$T/in"
start_profpipe agent "$T/agent.yaml"; agent=$PROFPIPE_PID

profile_round "$T/in" 1
wait_for 30 all_arrived "$per_round" "$T/out" || fail "round 1 did not arrive"
pass "round 1 arrived"

for id in 1 2 3; do mock_cmd down "$id"; done
profile_round "$T/in" 2
# the exporter's timeout is 3s: its deliveries fail and are retried
wait_for 20 metric_above "$AGENT_TELEMETRY" kafka_messages_retried_total 0 ||
  fail "no delivery failed while every broker was down: $(tail -5 "$T/agent.log")"
for id in 1 2 3; do mock_cmd up "$id"; done
wait_for 40 all_arrived $((2 * per_round)) "$T/out" ||
  fail "round 2 did not arrive after the brokers came back: $(tail -5 "$T/agent.log")"
pass "round 2 arrived after all brokers were down and came back"

retried=$(metric "$AGENT_TELEMETRY" kafka_messages_retried_total)
mock_cmd errors produce 6 NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT \
  TOPIC_AUTHORIZATION_FAILED TOPIC_AUTHORIZATION_FAILED TOPIC_AUTHORIZATION_FAILED \
  TOPIC_AUTHORIZATION_FAILED
profile_round "$T/in" 3
wait_for 40 all_arrived $((3 * per_round)) "$T/out" ||
  fail "round 3 did not arrive after injected produce errors: $(tail -5 "$T/agent.log")"
[ "$(metric "$AGENT_TELEMETRY" kafka_messages_retried_total)" -gt "$retried" ] ||
  fail "the injected produce errors were not retried by the exporter"
pass "round 3 arrived through injected produce errors (retried)"

acked=$(metric "$AGENT_TELEMETRY" kafka_messages_acknowledged_total)
agent_dups=$(metric "$AGENT_TELEMETRY" kafka_messages_possibly_duplicated_total)
stop_profpipe "$agent"
stop_profpipe "$gw"
[ "$acked" -ge $((3 * per_round)) ] || fail "acknowledged $acked < $((3 * per_round))"
dups=$(( $(services_in "$T/out" | wc -l) - 3 * per_round ))
allowed=$(in_flight_at_revoke "$T/gw.log")
[ "$dups" -le $((allowed + agent_dups)) ] ||
  fail "$dups duplicates, but the gateway counted only $allowed and the agent $agent_dups"
pass "$((3 * per_round)) profiles, $acked acknowledged deliveries, $dups duplicates" \
  "(the gateway counted $allowed consumed again after losing its partitions," \
  "the agent $agent_dups possibly sent twice)"
