#!/usr/bin/env bash
# A reload keeps what did not change running, and replaces what changed
# without a gap. A pyroscope receiver takes a steady stream of /ingest
# requests (one client, each request a profile with its own seq label,
# every answer's status recorded) while the config is reloaded every
# second, 30 times, in turn:
#   - changing the receiver's options (max_connections): the new receiver
#     starts beside the old one on the old one's listening socket (the
#     log says so), then the old one stops accepting and answers what it
#     holds;
#   - changing the relabel processor (the label `gen` it sets): the
#     receiver and the file exporter are kept running (the log says so);
#   - breaking the config: refused.
# So:
#   - every request is answered 200, 429 or 503: none is refused at the
#     TCP level (curl's 000);
#   - every 200'd profile is in the file exporter's index exactly once,
#     and nothing else is;
#   - the changed processor took effect (several `gen` values written),
#     the broken configs were refused, and the ledger adds up.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

RELOADS=30
MAX_REQUESTS=20000 # bound: the client stops here even if the reloads do not end
go_profiles_into "$T/in"
telemetry_port
GEN=0 BROKEN="" CONNS=64
r_config() {
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
    max_connections: $CONNS
processors:
  relabel:
    rules:
      - {target_label: gen, replacement: "g$GEN"}
$BROKEN
exporters:
  file:
    directory: $T/out
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles:
      receivers: [pyroscope]
      processors: [relabel]
      exporters: [file]
YAML
}
start_listening r r_config; port=$LISTEN_PORT

start_ingest_client "$port" $MAX_REQUESTS
good=0 broken=0 replaced=0
for i in $(seq 1 $RELOADS); do
  sleep 1
  if [ $((i % 3)) = 0 ]; then
    BROKEN="    unknown_option: 1" # under processors.relabel: refused
    broken=$((broken + 1))
  elif [ $((i % 3)) = 1 ]; then
    BROKEN="" CONNS=$((64 + i)) # the receiver is replaced
    good=$((good + 1)) replaced=$((replaced + 1))
  else
    BROKEN="" GEN=$i
    good=$((good + 1))
  fi
  r_config "$port" > "$T/r.yaml"
  kill -HUP "$PROFPIPE_PID"
  done_reloads() { [ "$(grep -c 'msg="reloaded \|reload refused' "$T/r.log")" -ge "$i" ]; }
  wait_for 30 done_reloads || fail "reload $i not done: $(tail -3 "$T/r.log")"
done
touch "$T/stop"
wait "$CLIENT"
sent=$(wc -l < "$T/answers")
expect_metric 'profpipe_ledger_in_flight_profiles{pipeline="profiles"}' 0
page=$(curl -sf "http://$TELEMETRY/metrics")
stop_profpipe "$PROFPIPE_PID"

# every answer an HTTP status the SDKs handle, none refused; every 200'd
# profile written exactly once, nothing else
answered_once "$T/out/index.jsonl"
oks=$OKS
# the reloads did what they say
[ "$(grep -c 'msg="reloaded ' "$T/r.log")" = $good ] || fail "want $good reloads applied"
[ "$(grep -c 'reload refused' "$T/r.log")" = $broken ] || fail "want $broken reloads refused"
kept=$(grep -c 'reload swapped the graph: 1 receivers (1 kept running), 1 pipelines, 1 exporters (1 kept running)' "$T/r.log")
[ "$kept" = $((good - replaced)) ] ||
  fail "the receiver and exporter were not kept in every processor-only reload ($kept of $((good - replaced)))"
swapped=$(grep -c 'reload swapped the graph: 1 receivers (0 kept running), 1 pipelines, 1 exporters (1 kept running)' "$T/r.log")
handed=$(grep -c "serving 127.0.0.1:$port on the listening socket of the instance it replaces" "$T/r.log")
[ "$swapped" = $replaced ] && [ "$handed" = $replaced ] ||
  fail "want $replaced receivers replaced on the old one's socket: $swapped replaced, $handed handed over"
gens=$(grep -o '"gen":"g[0-9]*"' "$T/out/index.jsonl" | sort -u | wc -l)
[ "$gens" -ge 3 ] || fail "only $gens gen values written: the changed processor did not take effect"
# the ledger: every profile in is out (exported) once
in_=$(awk '/^profpipe_ledger_in_profiles_total\{pipeline="profiles",source="receivers"\}/ {print $2}' <<<"$page")
exported=$(awk '/^profpipe_ledger_out_profiles_total\{pipeline="profiles",exporter="file",outcome="exported"\}/ {print $2}' <<<"$page")
[ "$in_" = "$oks" ] && [ "$exported" = "$oks" ] || fail "ledger: in $in_, exported $exported, 200s $oks"
pass "$sent requests over $RELOADS reloads ($good applied, $replaced of them replacing the receiver, $broken refused): $oks answered 200, all written once, none refused; $gens processor versions seen; receiver handed its socket over every time it changed, kept otherwise"
