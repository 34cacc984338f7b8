#!/usr/bin/env bash
# Gateway topology: one agent profpipe exports real Go profiles to the
# topic; two gateway profpipes in one consumer group consume it into file
# exporters. The second gateway joins mid-stream while the first holds
# messages in flight (its file exporter batches for 8s, well over the 3s a
# revoke waits), so the rebalance leaves messages to be consumed again.
# Both gateways get partitions, every profile the agent sent is in their
# outputs, and the duplicates are at most what the rebalances left in
# flight, as counted by the gateways (log and metric), which must be > 0
# (plus what the agent's exporter counted as possibly sent twice).
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

ROUNDS=6
start_mock profiles:4
go_profiles "$T/go"
per_round=$(ls "$T/go"/*.pb.gz | wc -l)
want=$((ROUNDS * per_round))
mkdir -p "$T/in"

GW1_TELEMETRY=127.0.0.1:$(free_port)
GW2_TELEMETRY=127.0.0.1:$(free_port)
batching="    batch: {max_profiles: 1000, max_delay: 8s}"
gateway_config "$T/gw1.yaml" "$T/out1" "" "$batching"
gateway_config "$T/gw2.yaml" "$T/out2" "" "$batching"
sed -i "s|address: \"\"|address: \"$GW1_TELEMETRY\"|" "$T/gw1.yaml"
sed -i "s|address: \"\"|address: \"$GW2_TELEMETRY\"|" "$T/gw2.yaml"
start_profpipe gw1 "$T/gw1.yaml"; gw1=$PROFPIPE_PID
AGENT_TELEMETRY=127.0.0.1:$(free_port)
agent_config "$T/agent.yaml" "$T/in"
start_profpipe agent "$T/agent.yaml"; agent=$PROFPIPE_PID

for round in $(seq 1 $((ROUNDS / 2))); do profile_round "$T/in" "$round"; sleep 0.4; done
wait_for 30 metric_above "$GW1_TELEMETRY" kafka_messages_in_flight 0 ||
  fail "gateway 1 never had messages in flight"
start_profpipe gw2 "$T/gw2.yaml"; gw2=$PROFPIPE_PID
wait_for 30 grep -q "revoked" "$T/gw1.log" || fail "gateway 2 joining caused no rebalance"
for round in $(seq $((ROUNDS / 2 + 1)) "$ROUNDS"); do profile_round "$T/in" "$round"; sleep 0.4; done
wait_for 45 all_arrived "$want" "$T/out1" "$T/out2" ||
  fail "$(services_in "$T/out1" "$T/out2" | sort -u | wc -l) of $want profiles arrived"
# what the rebalance left to be consumed again, as logged and as counted
redelivered=$(( $(metric "$GW1_TELEMETRY" kafka_messages_redelivered_total) +
                $(metric "$GW2_TELEMETRY" kafka_messages_redelivered_total) ))
logged=$(in_flight_at_revoke "$T/gw1.log" "$T/gw2.log")
agent_dups=$(metric "$AGENT_TELEMETRY" kafka_messages_possibly_duplicated_total)
stop_profpipe "$agent"
stop_profpipe "$gw1"
stop_profpipe "$gw2"

services_in "$T/out1" "$T/out2" | sort >"$T/got"
for round in $(seq 1 "$ROUNDS"); do
  for f in "$T/go"/*.pb.gz; do echo "r$round-$(basename "$f" .pb.gz)"; done
done | sort >"$T/want"
missing=$(comm -23 "$T/want" <(sort -u "$T/got"))
[ -z "$missing" ] || fail "missing from the gateways' output: $missing"
n1=$(services_in "$T/out1" | wc -l); n2=$(services_in "$T/out2" | wc -l)
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || fail "one gateway got nothing: $n1 + $n2"
dups=$(( $(wc -l <"$T/got") - want ))
allowed=$(in_flight_at_revoke "$T/gw1.log" "$T/gw2.log")
[ "$logged" -gt 0 ] || fail "the mid-stream rebalance left nothing in flight: not tested"
[ "$redelivered" -ge "$logged" ] ||
  fail "metric kafka_messages_redelivered_total $redelivered < $logged logged at revokes"
[ "$dups" -le $((allowed + agent_dups)) ] ||
  fail "$dups duplicates, but rebalances left only $allowed in flight (agent: $agent_dups)"
pass "$want profiles: $n1 via gateway 1, $n2 via gateway 2, $dups duplicates" \
  "($allowed in flight at rebalances, $agent_dups possibly sent twice by the agent)"

# The outputs are the agent's profiles: same totals in go tool pprof.
for f in "$T/go"/*.pb.gz; do
  type=$(basename "$f" .pb.gz)
  out=$(ls "$T"/out*/"r1-$type"/*/*.pb.gz | sed -n 1p)
  for col in 1 2; do
    [ "$(pprof_total "$f" "$col")" = "$(pprof_total "$out" "$col")" ] ||
      fail "r1-$type column $col: totals differ after kafka"
  done
done
pass "outputs open in go tool pprof with the agent's totals"
