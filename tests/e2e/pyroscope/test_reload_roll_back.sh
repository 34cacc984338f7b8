#!/usr/bin/env bash
# A replacement that can only start once its predecessor stopped, and then
# fails, is rolled back the incremental way: what the two configs share
# runs on untouched. profpipe runs a pyroscope receiver feeding a file
# exporter and a profile_metrics exporter serving its own endpoint on port
# M1, under a steady stream of /ingest requests (one client, each request
# a profile with its own seq label). The new config changes only the
# profile_metrics endpoint, to port M2, which another process (the
# Pyroscope stand-in) holds. An exporter replacing another starts after
# that one stopped (two instances of one exporter never run at once), so
# its failure comes after the switch; then:
#   - the log says the reload was rolled back, and why (cannot listen on
#     M2); the receiver and the file exporter were never restarted;
#   - every request is answered 200, 429 or 503: none is refused at the
#     TCP level (curl's 000), and every 200'd profile is in the file
#     exporter's index exactly once;
#   - profile_metrics serves on M1 again, and counts profiles sent after
#     the roll-back.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

MAX_REQUESTS=5000 # bound: the client stops here whatever happens
go_profiles_into "$T/in"
telemetry_port
M1=$(unused_port) || fail "no free port"
M=$M1
r_config() { # port
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
exporters:
  file:
    directory: $T/out
  profile_metrics:
    endpoint: 127.0.0.1:$M
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [file, profile_metrics]
YAML
}
start_listening r r_config; port=$LISTEN_PORT
wait_for 20 curl -sf "http://127.0.0.1:$M1/metrics" -o /dev/null || fail "profile_metrics does not serve on $M1"

build_recorder
M2=$(unused_port) || fail "no free port"
start_recorder "$M2" "$T/recorder.log"

start_ingest_client "$port" $MAX_REQUESTS

M=$M2
r_config "$port" > "$T/r.yaml"
kill -HUP "$PROFPIPE_PID"
rolled_back() { logged "$T/r.log" "rolled back to the previous config"; }
wait_for 60 rolled_back || fail "no roll-back in the log: $(tail -5 "$T/r.log")"
logged "$T/r.log" "cannot listen on 127.0.0.1:$M2" || fail "the log does not say why: $(grep error "$T/r.log" | tail -3)"
! logged "$T/r.log" "restarting the previous one" || fail "the previous config was restarted from scratch"
# the swap back kept the receiver and the file exporter, and the receiver
# never listened again
swaps=$(grep -c 'reload swapped the graph: 1 receivers (1 kept running), 1 pipelines, 2 exporters (1 kept running)' "$T/r.log")
[ "$swaps" = 1 ] || fail "want the receiver and the file exporter kept in the swap back, got $swaps such swaps"
listened=$(grep -c "listening on 127.0.0.1:$port" "$T/r.log")
[ "$listened" = 1 ] || fail "the receiver was started $listened times"
expect_metric 'profpipe_config_last_reload_successful' 0
wait_for 20 curl -sf "http://127.0.0.1:$M1/metrics" -o "$T/pm1.txt" || fail "profile_metrics is not back on $M1"

# answers after the roll-back, counted by the restarted profile_metrics
more_answers 20 "after the roll-back"
expect_metric 'profpipe_ledger_in_flight_profiles{pipeline="profiles"}' 0
curl -sf "http://127.0.0.1:$M1/metrics" -o "$T/pm2.txt" || fail "profile_metrics stopped serving on $M1"
stop_profpipe "$PROFPIPE_PID"

answered_once "$T/out/index.jsonl"
cpu=$(awk '/^profile_cpu_seconds_total\{service_name="app"/ {print $2}' "$T/pm2.txt")
awk -v v="${cpu:-0}" 'BEGIN { exit !(v > 0) }' ||
  fail "profile_metrics on $M1 counted no CPU after the roll-back: $(grep -v '^#' "$T/pm2.txt" | sed -n 1,5p)"
pass "a replacement failing after the switch rolled back, receiver and file exporter kept: $OKS requests answered 200, all written once, none refused; profile_metrics back on $M1 ($cpu CPU seconds counted)"
