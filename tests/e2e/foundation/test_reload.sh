#!/usr/bin/env bash
# SIGHUP: a good new config replaces the running one without losing or
# repeating profiles (files dropped around the reload all arrive once; a
# file read before it is not read again); a broken one is refused with its
# file:line and key in the log, and the old config keeps running; a good
# one while 150 profiles are in flight loses and repeats none of them; one
# that fails to start brings the previous config back, which reads nothing
# twice.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

go_profiles "$T/gen"
P="$T/gen/goapp.heap.pb.gz"
mkdir -p "$T/in"
write_config() { # version [extra receiver line]
  cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 200ms
    min_file_age: 0s
${2:-}
processors:
  label_edit: {set: {version: $1}}
exporters:
  file: {directory: $T/out, fsync: true}  # fsync: slow enough to have profiles in flight
service:
  plugins: [$PLUGIN]
  telemetry: {address: ""}  # no port to collide on; test_telemetry checks it
  pipelines:
    profiles:
      receivers: [file]
      processors: [label_edit]
      exporters: [file]
YAML
}
version_of() { # service -> the version labels of its index lines
  indexcheck "$T/out" | awk -F'\t' -v s="service_name=$1" '$2 ~ s"(,|$)"' |
    sed 's/.*version=\([^,	]*\).*/\1/' | tr '\n' ' ' | sed 's/ $//'
}

write_config v1
start_profpipe run "$T/config.yaml"
drop "$P" "$T/in" a1.heap.pb.gz
wait_index "$T/out" 1 20
[ "$(version_of a1)" = v1 ] || fail "a1: want version v1, got '$(version_of a1)'"

# files arriving around a good reload
for i in 1 2 3 4 5; do drop "$P" "$T/in" "b$i.heap.pb.gz"; done
write_config v2
kill -HUP "$PROFPIPE_PID"
wait_for 20 grep -q 'msg="reloaded' "$T/run.log" || fail "no reload in the log: $(tail -5 "$T/run.log")"
drop "$P" "$T/in" c1.heap.pb.gz
wait_index "$T/out" 7 20
sleep 0.6 # three more polls: a repeated read would show now
[ "$(index_lines "$T/out")" = 7 ] || fail "want 7 profiles (a1 read once), got $(index_lines "$T/out")"
[ "$(version_of c1)" = v2 ] || fail "c1 after the reload: want v2, got '$(version_of c1)'"
for i in 1 2 3 4 5; do
  v=$(version_of "b$i")
  [ "$v" = v1 ] || [ "$v" = v2 ] || fail "b$i: want one line with v1 or v2, got '$v'"
done
pass "good reload: new label on later profiles, the 5 in flight all arrived once, none read twice"

# a broken config: refused, named, and the old one keeps running
write_config v3 "    poll_intervall: 1s"
kill -HUP "$PROFPIPE_PID"
wait_for 20 grep -q 'reload refused' "$T/run.log" || fail "broken config not refused: $(tail -5 "$T/run.log")"
grep 'reload refused' "$T/run.log" | grep 'config.yaml:6:.*poll_intervall' >/dev/null ||
  fail "the refusal does not name config.yaml:6 and poll_intervall: $(grep 'reload refused' "$T/run.log")"
drop "$P" "$T/in" d1.heap.pb.gz
wait_index "$T/out" 8 20
[ "$(version_of d1)" = v2 ] || fail "d1 after a refused reload: want v2 (old config), got '$(version_of d1)'"
kill -0 "$PROFPIPE_PID" || fail "profpipe died"
pass "broken reload: refused with file:line and key, the running config kept working"

# a good reload while many profiles are queued: the old pipelines drain
# into the exporter before the new config starts, so each arrives once
M=150
before=$(index_lines "$T/out")
mkdir -p "$T/bulk"
for i in $(seq 1 $M); do cp "$P" "$T/bulk/e$i.heap.pb.gz"; done
mv "$T/bulk"/*.pb.gz "$T/in/"
wait_index "$T/out" $((before + 1)) 20
write_config v4
kill -HUP "$PROFPIPE_PID"
at_hup=$(index_lines "$T/out")
reloaded_twice() { [ "$(grep -c 'msg="reloaded' "$T/run.log")" = 2 ]; }
wait_for 30 reloaded_twice || fail "no second reload: $(tail -5 "$T/run.log")"
wait_index "$T/out" $((before + M)) 30
sleep 0.6 # three more polls: a repeated read would show now
indexcheck "$T/out" > "$T/summary" || fail "index does not match its files"
grep -o 'service_name=e[0-9]*' "$T/summary" | sort | uniq -c | awk '$1 != 1 {print}' > "$T/twice"
[ ! -s "$T/twice" ] || fail "written more than once: $(head -3 "$T/twice")"
got=$(grep -c 'service_name=e[0-9]*' "$T/summary" || true)
[ "$got" = $M ] || fail "want $M bulk profiles written once, got $got"
! grep -E 'dropped|not delivered' "$T/run.log" || fail "profiles were dropped at the reload"
echo "index at SIGHUP: $((at_hup - before)) of $M"
pass "reload with $((before + M - at_hup)) of $M profiles still to write: all $M written once, none dropped"

# a config that validates but cannot start (its spool folder cannot be
# made): the spool is opened before any old part stops, so the reload is
# refused and the previous graph runs on, untouched
write_config v5
sed -i 's|fsync: true}|fsync: true, sending_queue: {storage: /dev/null/spool}}|' "$T/config.yaml"
grep -q /dev/null/spool "$T/config.yaml" || fail "test bug: the spool line was not written"
kill -HUP "$PROFPIPE_PID"
failed_start() { grep -q 'the new config failed to start' "$T/run.log"; }
wait_for 30 failed_start || fail "no failed start in the log: $(tail -5 "$T/run.log")"
n=$(index_lines "$T/out")
drop "$P" "$T/in" f1.heap.pb.gz
wait_index "$T/out" $((n + 1)) 20
sleep 0.6 # three more polls: a folder read again would show now
[ "$(index_lines "$T/out")" = $((n + 1)) ] ||
  fail "the restarted config read the folder again: $(index_lines "$T/out") lines, want $((n + 1))"
[ "$(version_of f1)" = v4 ] || fail "f1 after a failed start: want v4 (previous config), got '$(version_of f1)'"
grep -q 'reload refused: the new config failed to start (see above); the previous one runs on, untouched' "$T/run.log" ||
  fail "the failed start was not refused before the old graph stopped: $(grep 'reload' "$T/run.log" | tail -3)"
grep -q 'sending_queue.storage: .*/dev/null/spool' "$T/run.log" || fail "the log does not name the spool that failed"
! grep -q 'restarting the previous one\|nothing is running' "$T/run.log" || fail "the previous config was stopped"
pass "a config that fails to start: refused, the previous one runs on, nothing read twice"

stop_profpipe "$PROFPIPE_PID"
pass "exit 0 after four reloads"
