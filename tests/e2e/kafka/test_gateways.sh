#!/usr/bin/env bash
# Gateway topology: one agent profpipe exports real Go profiles to the
# topic; two gateway profpipes in one consumer group consume it into file
# exporters. Both gateways get partitions, every profile the agent sent is
# in their outputs, and duplicates are at most what a rebalance left in
# flight (counted by the gateways).
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

ROUNDS=6
start_mock profiles:4
go_profiles "$T/go"
per_round=$(ls "$T/go"/*.pb.gz | wc -l)
want=$((ROUNDS * per_round))
mkdir -p "$T/in"

gateway_config "$T/gw1.yaml" "$T/out1"
gateway_config "$T/gw2.yaml" "$T/out2"
start_profpipe gw1 "$T/gw1.yaml"; gw1=$PROFPIPE_PID
start_profpipe gw2 "$T/gw2.yaml"; gw2=$PROFPIPE_PID
agent_config "$T/agent.yaml" "$T/in"
start_profpipe agent "$T/agent.yaml"; agent=$PROFPIPE_PID

for round in $(seq 1 "$ROUNDS"); do
  profile_round "$T/in" "$round"
  sleep 0.5
done
wait_for 45 all_arrived "$want" "$T/out1" "$T/out2" ||
  fail "$(services_in "$T/out1" "$T/out2" | sort -u | wc -l) of $want profiles arrived"
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
[ "$dups" -le "$allowed" ] || fail "$dups duplicates, but rebalances left only $allowed in flight"
pass "$want profiles: $n1 via gateway 1, $n2 via gateway 2, $dups duplicates ($allowed in flight at rebalances)"

# The outputs are the agent's profiles: same totals in go tool pprof.
for f in "$T/go"/*.pb.gz; do
  type=$(basename "$f" .pb.gz)
  out=$(ls "$T"/out*/"r1-$type"/*/*.pb.gz | head -n 1)
  for col in 1 2; do
    [ "$(pprof_total "$f" "$col")" = "$(pprof_total "$out" "$col")" ] ||
      fail "r1-$type column $col: totals differ after kafka"
  done
done
pass "outputs open in go tool pprof with the agent's totals"
