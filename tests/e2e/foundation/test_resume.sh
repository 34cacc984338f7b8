#!/usr/bin/env bash
# Restarts resume: the file receiver with `storage` on a folder of 100
# files, SIGKILL'd once about half are acknowledged, then started again.
# The files' mtimes are staggered into the future so that min_file_age
# lets them in a few at a time, and the kill lands mid-way. What was
# acknowledged at the kill is read from the state file itself (written
# atomically, so what it says is what the receiver knew). At the file
# exporter's output: every file's profile at least once, byte for byte the
# file read, with its service_name, type and window in the index; the
# acknowledged ones exactly once.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

N=100
go_profiles "$T/gen"
mkdir -p "$T/in"
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 100ms
    min_file_age: 1s
    storage: $T/state
exporters:
  file:
    directory: $T/out
    fsync: true
service:
  telemetry: {address: ""} # no listener: nothing else on the machine can take its port
  pipelines:
    profiles:
      receivers: [file]
      exporters: [file]
YAML

now=$(date +%s)
for i in $(seq -w 1 $N); do
  cp "$T/gen/goapp.cpu.pb.gz" "$T/in/f$i.cpu.pb.gz"
  # file i is old enough to read 1s + i × 60ms from now
  touch -d "@$(awk -v n="$now" -v i="$i" 'BEGIN { printf "%.3f", n + 1 + (i + 0) * 0.06 }')" "$T/in/f$i.cpu.pb.gz"
done
STATE="$T/state/file.state"
acked() { if [ -f "$STATE" ]; then tail -n +2 "$STATE" | wc -l; else echo 0; fi; }
half() { [ "$(acked)" -ge $((N / 2)) ]; }

start_profpipe first "$T/config.yaml"
wait_for 60 half || fail "only $(acked) acknowledged in 60s: $(tail -5 "$T/first.log")"
kill -KILL "$PROFPIPE_PID"
wait "$PROFPIPE_PID" 2>/dev/null || true
head -1 "$STATE" | grep -x 'profpipe-file-receiver-state 1' >/dev/null || fail "state header: $(head -1 "$STATE")"
tail -n +2 "$STATE" | awk '{print $NF}' | xargs -n1 basename | sed 's/\..*//' | sort > "$T/acked"
at_kill=$(wc -l < "$T/acked")
written_at_kill=$(index_lines "$T/out")
[ "$at_kill" -lt $N ] || fail "all $N acknowledged before the kill: the test proves nothing"
# every line of the state names a file of the folder, in its version
while read -r dev ino size mtime path; do
  st=$(stat -c '%d %i %s' "$path") || fail "state names $path, not on disk"
  [ "$st" = "$dev $ino $size" ] || fail "state of $path: $dev $ino $size, disk: $st"
done < <(tail -n +2 "$STATE")

touch "$STATE.tmp.99999" # as a kill in the middle of a save leaves it
start_profpipe second "$T/config.yaml"
services() { grep -o '"service_name":"f[0-9]*"' "$T/out/index.jsonl" | cut -d'"' -f4 | sort -u | wc -l; }
all_in() { [ -f "$T/out/index.jsonl" ] && [ "$(services)" = $N ]; }
wait_for 60 all_in || fail "after the restart $(services) of $N files exported: $(tail -5 "$T/second.log")"
grep -q "resumed state file=$STATE files_finished=$at_kill" "$T/second.log" ||
  fail "restart did not say it resumed $at_kill: $(grep -m2 state "$T/second.log")"
stop_profpipe "$PROFPIPE_PID"
[ ! -e "$STATE.tmp.99999" ] || fail "the temporary file of a cut-short save is still there"
[ "$(tail -n +2 "$STATE" | wc -l)" = $N ] || fail "state lists $(tail -n +2 "$STATE" | wc -l) files after the run, want $N"

# field by field: each index line is the file it names, from the input it says
while IFS= read -r line; do
  svc=$(grep -o '"service_name":"[^"]*"' <<<"$line" | cut -d'"' -f4)
  path=$(grep -o '"path":"[^"]*"' <<<"$line" | cut -d'"' -f4)
  grep -q '"__name__":"process_cpu"' <<<"$line" || fail "$svc: type in $line"
  cmp -s "$T/out/$path" "$T/in/$svc.cpu.pb.gz" || fail "$svc: $path is not the bytes of its input"
  bytes=$(grep -o '"bytes":[0-9]*' <<<"$line" | cut -d: -f2)
  [ "$bytes" = "$(stat -c %s "$T/in/$svc.cpu.pb.gz")" ] || fail "$svc: bytes $bytes in the index"
done < "$T/out/index.jsonl"
windows=$(grep -o '"from":[0-9]*,"until":[0-9]*' "$T/out/index.jsonl" | sort -u | wc -l)
[ "$windows" = 1 ] || fail "$windows different windows for copies of one profile"
grep -o '"service_name":"f[0-9]*"' "$T/out/index.jsonl" | cut -d'"' -f4 | sort | uniq -c |
  awk '{print $2, $1}' > "$T/counts"
twice=0
while read -r svc count; do
  if grep -qx "$svc" "$T/acked"; then
    [ "$count" = 1 ] || fail "$svc was acknowledged before the kill and exported $count times"
  elif [ "$count" -gt 1 ]; then
    twice=$((twice + 1))
  fi
done < "$T/counts"
[ "$(wc -l < "$T/counts")" = $N ] || fail "$(wc -l < "$T/counts") files exported, want $N"
pass "killed with $at_kill of $N acknowledged ($written_at_kill index lines): after the restart all $N exported, the $at_kill exactly once, $twice unacknowledged ones again"
