#!/usr/bin/env bash
# Poison messages, produced with kcat between good profiles on one
# partition: a value that is not a profile, and a real profile with a
# malformed header. The gateway logs each with its offset, copies it to the
# dead-letter file, skips it and goes on; the offsets past them are
# committed (a restarted gateway consumes nothing again).
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

start_mock profiles:1
go_profiles "$T/go"
produce() { # file headers...
  local f=$1 args=() h; shift
  for h in "$@"; do args+=(-H "$h"); done
  timeout "$KCAT_TIMEOUT" kcat -P -b "$BOOTSTRAP" -t profiles -p 0 "${args[@]}" "$f" ||
    fail "kcat could not produce $f"
}
echo "this is not a profile" >"$T/poison.txt"
produce "$T/go/cpu.pb.gz" profpipe.label.service_name=alpha     # offset 0
produce "$T/poison.txt" profpipe.label.service_name=poison      # offset 1
produce "$T/go/heap.pb.gz" profpipe.label.service_name=badhdr profpipe.from=yesterday # 2
produce "$T/go/heap.pb.gz" profpipe.label.service_name=omega    # offset 3

gateway_config "$T/gw.yaml" "$T/out" "    dead_letter_file: $T/dead.jsonl"
start_profpipe gw "$T/gw.yaml"; gw=$PROFPIPE_PID
wait_for 30 all_arrived 2 "$T/out" || fail "good profiles did not arrive: $(tail -5 "$T/gw.log")"
sleep 1 # one commit interval
stop_profpipe "$gw"

[ "$(services_in "$T/out" | sort | tr '\n' ' ')" = "alpha omega " ] ||
  fail "expected alpha and omega, got: $(services_in "$T/out")"
for off in 1 2; do
  grep -q "skipping undecodable message topic=profiles partition=0 offset=$off:" "$T/gw.log" ||
    fail "no log line for the poison message at offset $off"
done
grep "skipping undecodable" "$T/gw.log" | sed 's/.*msg=//'
[ "$(jq -r '.offset' "$T/dead.jsonl" | tr '\n' ' ')" = "1 2 " ] ||
  fail "dead-letter file: $(cat "$T/dead.jsonl")"
jq -r 'select(.offset == 1) | .value_base64' "$T/dead.jsonl" | base64 -d | cmp - "$T/poison.txt" ||
  fail "dead-letter value differs from the poison message"
jq -r 'select(.offset == 2) | .value_base64' "$T/dead.jsonl" | base64 -d | cmp - "$T/go/heap.pb.gz" ||
  fail "dead-letter value differs from the message with the bad header"
pass "poison at offsets 1 and 2 logged, dead-lettered and skipped; offsets 0 and 3 exported"

mv "$T/gw.log" "$T/gw-first.log"
start_profpipe gw "$T/gw.yaml"; gw=$PROFPIPE_PID
wait_for 20 grep -q "partition(s) assigned" "$T/gw.log" || fail "restarted gateway got no partition"
sleep 2
stop_profpipe "$gw"
[ "$(services_in "$T/out" | wc -l)" = 2 ] || fail "the restarted gateway consumed again"
! grep -q "skipping undecodable" "$T/gw.log" || fail "the poison was consumed again"
pass "restarted gateway consumed nothing again: offsets past the poison were committed"
