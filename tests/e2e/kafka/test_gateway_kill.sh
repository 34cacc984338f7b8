#!/usr/bin/env bash
# A gateway SIGKILLed mid-stream and restarted: the messages it had
# consumed but not yet exported (its file exporter batches for 5s, so some
# always are) were never committed, so the restarted gateway consumes them
# again and nothing the agent sent is missing.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

ROUNDS=8
start_mock profiles:4
go_profiles "$T/go"
per_round=$(ls "$T/go"/*.pb.gz | wc -l)
want=$((ROUNDS * per_round))
mkdir -p "$T/in"
GW_TELEMETRY=127.0.0.1:$(free_port)
gateway_config "$T/gw.yaml" "$T/out" "" "    batch: {max_profiles: 1000, max_delay: 5s}"
sed -i "s|address: \"\"|address: \"$GW_TELEMETRY\"|" "$T/gw.yaml"
start_profpipe gw "$T/gw.yaml"; gw=$PROFPIPE_PID
agent_config "$T/agent.yaml" "$T/in"
start_profpipe agent "$T/agent.yaml"; agent=$PROFPIPE_PID

for round in $(seq 1 $((ROUNDS / 2))); do profile_round "$T/in" "$round"; sleep 0.4; done
wait_for 20 metric_above "$GW_TELEMETRY" kafka_messages_in_flight 0 ||
  fail "the gateway never had messages in flight"
consumed=$(metric "$GW_TELEMETRY" kafka_messages_received_total)
kill -KILL "$gw"; wait "$gw" 2>/dev/null || true
written=$(services_in "$T/out" | wc -l) # after the kill: exact
[ "$written" -lt "$consumed" ] || fail "nothing was in flight at the kill ($written of $consumed)"
pass "gateway killed with $consumed consumed and $written written"

for round in $(seq $((ROUNDS / 2 + 1)) "$ROUNDS"); do profile_round "$T/in" "$round"; sleep 0.4; done
mv "$T/gw.log" "$T/gw-killed.log"
start_profpipe gw "$T/gw.yaml"; gw=$PROFPIPE_PID
wait_for 45 all_arrived "$want" "$T/out" ||
  fail "$(services_in "$T/out" | sort -u | wc -l) of $want profiles after the restart"
stop_profpipe "$agent"
stop_profpipe "$gw"
dups=$(( $(services_in "$T/out" | wc -l) - want ))
pass "all $want profiles arrived, the $((consumed - written)) unexported at the kill consumed again ($dups duplicates)"
