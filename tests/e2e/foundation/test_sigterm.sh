#!/usr/bin/env bash
# SIGTERM with profiles in flight: 300 files are waiting when profpipe
# starts, SIGTERM comes as soon as the first one is written. profpipe must
# exit 0, and every profile it accepted must be on disk: with
# delete_after_read a file is deleted only once its profile is written, so
# each input is either still in the folder or listed in the index (its
# service_name is its file name), never both, never neither, never twice.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

N=300
go_profiles "$T/gen"
mkdir -p "$T/in"
for i in $(seq 1 $N); do cp "$T/gen/goapp.heap.pb.gz" "$T/in/s$i.heap.pb.gz"; done
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 1s
    min_file_age: 0s
    delete_after_read: true
exporters:
  file:
    directory: $T/out
    fsync: true
service:
  telemetry: {address: "", log_level: debug}  # debug: one "read file=" line per accepted file
  shutdown_timeout: 30s
  pipelines:
    profiles:
      receivers: [file]
      exporters: [file]
YAML

start_profpipe run "$T/config.yaml"
wait_index "$T/out" 1 30
kill -TERM "$PROFPIPE_PID"
at_term=$(index_lines "$T/out")
stop_profpipe "$PROFPIPE_PID" 40 # already signalled: a second TERM is harmless
grep -q 'SIGTERM' "$T/run.log" || fail "no SIGTERM in the log"

written=$(index_lines "$T/out")
left=$(find "$T/in" -name '*.pb.gz' | wc -l)
echo "index at SIGTERM: $at_term, written: $written, left unread: $left"
indexcheck "$T/out" > "$T/summary" || fail "index does not match its files"
sed 's/.*service_name=\([^,	]*\).*/\1/' "$T/summary" | sort > "$T/written"
find "$T/in" -name '*.pb.gz' -printf '%f\n' | sed 's/\..*//' | sort > "$T/left"
[ -z "$(sort "$T/written" | uniq -d)" ] || fail "a profile was written twice: $(uniq -d "$T/written" | sed -n 1,3p)"
[ -z "$(comm -12 "$T/written" "$T/left")" ] || fail "written but not deleted: $(comm -12 "$T/written" "$T/left" | sed -n 1,3p)"
[ $((written + left)) = $N ] || fail "lost: $written written + $left left != $N"
[ -z "$(find "$T/out" -name '.tmp-*')" ] || fail "temp files left behind"
# a profile dropped on the way keeps its file too, so "left" alone cannot
# tell unread from lost: every file the receiver read must be written
read=$(grep -c 'msg="read file=' "$T/run.log" || true)
[ "$read" = "$written" ] || fail "read $read files but wrote $written profiles"
! grep -E 'dropped|not delivered|refused' "$T/run.log" || fail "profiles were dropped at SIGTERM"
[ "$written" -gt "$at_term" ] || echo "note: nothing was in flight at SIGTERM this time"
pass "SIGTERM: exit 0, $written written ($((written - at_term)) drained after the signal), $left untouched, none lost"
