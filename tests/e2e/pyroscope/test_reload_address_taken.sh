#!/usr/bin/env bash
# A reload that fails to start leaves the running graph whole. profpipe
# runs a pyroscope receiver on port A, a relabel processor (gen=g1) and a
# file exporter into out1, under a steady stream of /ingest requests (one
# client, each request a profile with its own seq label). The new config
# moves the receiver to port B, which another process (the Pyroscope
# stand-in, recorder/main.go) holds, and changes the processor (gen=g2)
# and the exporter (into out2). The receiver's start beside the old graph
# fails, so:
#   - the log says the reload was refused and why (cannot listen on B);
#   - profpipe_config_last_reload_successful is 0;
#   - every request is answered 200, 429 or 503 (none refused: the old
#     receiver never stopped), every 200'd profile is written once, with
#     gen=g1, into out1, and nothing is written into out2;
#   - after the refused reload the old receiver still answers on A.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

MAX_REQUESTS=5000 # bound: the client stops here whatever happens
go_profiles_into "$T/in"
telemetry_port
PORT_B=""
GEN=g1 OUT=out1
a_config() { # port
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
processors:
  relabel:
    rules:
      - {target_label: gen, replacement: "$GEN"}
exporters:
  file:
    directory: $T/$OUT
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles:
      receivers: [pyroscope]
      processors: [relabel]
      exporters: [file]
YAML
}
start_listening a a_config; port=$LISTEN_PORT

# another process holds port B (and keeps it until the test ends): the
# Pyroscope stand-in
build_recorder
PORT_B=$(unused_port) || fail "no free port"
start_recorder "$PORT_B" "$T/recorder.log"

start_ingest_client "$port" $MAX_REQUESTS

GEN=g2 OUT=out2
a_config "$PORT_B" > "$T/a.yaml"
kill -HUP "$PROFPIPE_PID"
refused() { logged "$T/a.log" "reload refused: the new config failed to start"; }
wait_for 30 refused || fail "the reload was not refused: $(tail -5 "$T/a.log")"
logged "$T/a.log" "cannot listen on 127.0.0.1:$PORT_B" ||
  fail "the log does not say why: $(grep -i 'error' "$T/a.log" | tail -3)"
! logged "$T/a.log" "restarting the previous one" || fail "the previous graph was stopped and restarted"
expect_metric 'profpipe_config_last_reload_successful' 0
expect_metric 'profpipe_config_reloads_total{result="failure"}' 1

# the old receiver keeps answering: 20 more answers after the refusal
at_refusal=$(wc -l < "$T/answers")
more_answers 20 "after the refused reload"
expect_metric 'profpipe_ledger_in_flight_profiles{pipeline="profiles"}' 0
stop_profpipe "$PROFPIPE_PID"

answered_once "$T/out1/index.jsonl"
oks=$OKS
late=$(awk -v n="$at_refusal" '$1 > n && $2 == 200' "$T/answers" | wc -l)
[ "$late" -ge 20 ] || fail "only $late requests answered 200 after the refused reload"
gens=$(grep -o '"gen":"[^"]*"' "$T/out1/index.jsonl" | sort -u | tr '\n' ' ')
[ "$gens" = '"gen":"g1" ' ] || fail "want only gen g1 (the old processor), got: $gens"
[ ! -e "$T/out2/index.jsonl" ] || fail "the new exporter wrote $(wc -l < "$T/out2/index.jsonl") profiles"
pass "reload onto a taken port refused with the reason logged; $oks requests answered 200 ($late after the refusal), all written once by the old graph (gen g1, out1), none refused"
