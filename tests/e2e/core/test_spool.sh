#!/usr/bin/env bash
# The exporter's persistent queue (sending_queue.storage): profiles that
# could not be delivered before a stop (SIGTERM past the deadline, or
# SIGKILL) are delivered after the next start, each exactly once.
source "$SOURCE_DIR/tests/e2e/lib.sh"

go_build "$T/profgen" "$SOURCE_DIR/tests/e2e/go/profgen"
mkdir -p "$T/gen" "$T/in"
"$T/profgen" "$T/gen" >/dev/null
n_input=$(ls "$T/gen"/*.pb.gz | wc -l)
[ "$n_input" -ge 7 ] || fail "profgen wrote $n_input profiles"

port=$(free_port)
cat > "$T/cfg.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 200ms
    min_file_age: 0s
exporters:
  file:
    directory: $T/out
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 200ms
      max_elapsed_time: 0s
    sending_queue:
      storage: $T/spool
service:
  pipelines:
    profiles:
      receivers: [file]
      exporters: [file]
  telemetry:
    address: 127.0.0.1:$port
  shutdown_timeout: 1s
YAML

metric() { curl -s "127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
spooled() { find "$T/spool" -maxdepth 1 -name '*.ppspool' 2>/dev/null | wc -l; }
delivered() { wc -l < "$T/out/index.jsonl" 2>/dev/null || echo 0; }
# wait_for re-runs these, so the counts are read on every poll
spool_has() { [ "$(spooled)" -ge "$1" ]; }
spool_empty() { [ "$(spooled)" = 0 ]; }
delivered_at_least() { [ "$(delivered)" -ge "$1" ]; }
retried() { [ "$(metric 'profpipe_exporter_retries_total{component_id="file"}')" -ge 1 ] 2>/dev/null; }

# 1. The backend is broken (the output directory is a plain file): every
#    profile is retried, and spooled.
echo "not a directory" > "$T/out"
cp "$T/gen"/*.pb.gz "$T/in/"
start_profpipe run1 "$T/cfg.yaml"
wait_for 20 spool_has "$n_input" || fail "only $(spooled) of $n_input spooled"
wait_for 10 retried || fail "no retries counted"
stop_profpipe "$PROFPIPE_PID"
[ "$(spooled)" = "$n_input" ] || fail "after SIGTERM the spool holds $(spooled), want $n_input"
grep -q "stay in the spool\|kept in the spool" "$T/run1.log" || fail "no log line about the spool"
pass "SIGTERM past the deadline: $n_input profiles kept on disk"

# 2. The backend is fixed: the next start sends them, once each. (The
#    inputs were accepted: they go, so only the spool can deliver them.)
rm -f "$T/out" "$T/in"/*
start_profpipe run2 "$T/cfg.yaml"
wait_for 20 delivered_at_least "$n_input" || fail "after restart $(delivered) of $n_input delivered"
wait_for 10 spool_empty || fail "spool not emptied: $(spooled) left"
grep -q "resent $n_input profiles left in the spool" "$T/run2.log" || fail "no resend log line"
stop_profpipe "$PROFPIPE_PID"
[ "$(delivered)" = "$n_input" ] || fail "duplicates: $(delivered)"
# every delivered profile opens in go tool pprof with the totals of its input
for f in "$T/gen"/*.pb.gz; do
  svc=$(basename "$f" .pb.gz)
  out=$(grep "\"service_name\":\"$svc\"" "$T/out/index.jsonl" | sed 's/.*"path":"\([^"]*\)".*/\1/')
  [ -n "$out" ] || fail "no output for $svc"
  want=$(pprof_total "$f" 1); got=$(pprof_total "$T/out/$out" 1)
  [ "$want" = "$got" ] || fail "$svc: total $got, want $want"
done
pass "restart delivered all $n_input exactly once, totals equal"

# 3. SIGKILL while the backend is down: nothing is lost either.
rm -rf "$T/out" "$T/in"/* && echo "not a directory" > "$T/out"
cp "$T/gen"/*.pb.gz "$T/in/"
start_profpipe run3 "$T/cfg.yaml"
wait_for 20 spool_has "$n_input" || fail "only $(spooled) spooled before SIGKILL"
kill -KILL "$PROFPIPE_PID"; wait "$PROFPIPE_PID" 2>/dev/null || true
rm -f "$T/out" "$T/in"/*
start_profpipe run4 "$T/cfg.yaml"
wait_for 20 delivered_at_least "$n_input" || fail "after SIGKILL+restart only $(delivered) delivered"
stop_profpipe "$PROFPIPE_PID"
[ "$(delivered)" = "$n_input" ] || fail "duplicates after SIGKILL: $(delivered)"
[ "$(spooled)" = 0 ] || fail "spool not emptied after SIGKILL+restart"
pass "SIGKILL with the backend down: all $n_input delivered after restart"

# 4. A corrupt record is set aside, named in the log, and does not stop the rest.
mkdir -p "$T/spool" && printf 'PPSPgarbage' > "$T/spool/00000000000000000001.ppspool"
rm -rf "$T/out"
start_profpipe run5 "$T/cfg.yaml"
wait_for 10 test -f "$T/spool/corrupt/00000000000000000001.ppspool" || fail "corrupt record not set aside"
stop_profpipe "$PROFPIPE_PID"
grep -q "00000000000000000001.ppspool: not a spool record\|truncated record" "$T/run5.log" \
  || fail "corrupt record not named in the log"
pass "corrupt spool record set aside with a log line"
