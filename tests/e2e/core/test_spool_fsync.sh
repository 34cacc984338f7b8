#!/usr/bin/env bash
# sending_queue.fsync: every spooled profile is fsync'ed before its rename
# and the spool directory after it (a rename lives in the directory; a
# power loss could otherwise forget a record already counted as queued).
# The real binary runs under strace, which records each openat, rename and
# fsync in order, one file per thread (-ff: no call split across lines by
# another thread's); the spooled profiles are then delivered.
source "$SOURCE_DIR/tests/e2e/lib.sh"
command -v strace >/dev/null || fail "strace is not installed (scripts/setup.sh test)"

go_build "$T/profgen" "$SOURCE_DIR/tests/e2e/go/profgen"
mkdir -p "$T/gen" "$T/in"
"$T/profgen" "$T/gen" >/dev/null
cp "$T/gen"/cpu.pb.gz "$T/gen"/heap.pb.gz "$T/in/"

cat >"$T/cfg.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 200ms
    min_file_age: 0s
exporters:
  file:
    directory: $T/out
    sending_queue:
      storage: $T/spool
      fsync: true
service:
  pipelines:
    profiles:
      receivers: [file]
      exporters: [file]
  telemetry:
    address: ""
YAML

delivered() { [ "$(wc -l <"$T/out/index.jsonl" 2>/dev/null || echo 0)" -ge 2 ]; }
strace -f -ff -qq -e trace=openat,rename,fsync -o "$T/trace" "$PROFPIPE" run -c "$T/cfg.yaml" \
  >"$T/run.log" 2>&1 &
strace_pid=$!
PIDS+=("$strace_pid")
traced() { pgrep -x -P "$strace_pid" profpipe >/dev/null; }
wait_for 30 traced || fail "profpipe did not start under strace"
profpipe_pid=$(pgrep -x -P "$strace_pid" profpipe | sed -n 1p)
PIDS+=("$profpipe_pid")
wait_for 60 delivered || fail "the two profiles were not delivered: $(tail -5 "$T/run.log")"
# stop profpipe itself (strace, signalled, would only detach); strace ends with it
kill -TERM "$profpipe_pid"
gone() { ! kill -0 "$strace_pid" 2>/dev/null; }
wait_for 30 gone || fail "profpipe did not stop on SIGTERM"

spool=$(cd "$T/spool" && pwd -P)
# In one thread, in order: openat(tmp) = fd, fsync(fd), rename(tmp,
# record), openat(spool dir, O_DIRECTORY) = dfd, fsync(dfd). awk follows
# each record through those steps and counts the records that did all.
records=$(awk -v dir="$spool" '
  function fd_of(line) { sub(/.*= /, "", line); return line + 0 }
  FNR == 1 { tid = FILENAME }
  {
    if ($0 ~ "openat\\(AT_FDCWD, \"" dir "/[0-9]+\\.ppspool\\.tmp\"") {
      tmpfd[tid] = fd_of($0); step[tid] = 1; next
    }
    if (step[tid] == 1 && $0 ~ "fsync\\(" tmpfd[tid] "\\) += 0") { step[tid] = 2; next }
    if (step[tid] == 2 && match($0, "rename\\(\"" dir "/[0-9]+\\.ppspool\\.tmp\", \"" dir "/[0-9]+\\.ppspool\"\\) += 0")) {
      step[tid] = 3; next
    }
    if (step[tid] == 3 && $0 ~ "openat\\(AT_FDCWD, \"" dir "\", [^)]*O_DIRECTORY") {
      dirfd[tid] = fd_of($0); step[tid] = 4; next
    }
    if (step[tid] == 4 && $0 ~ "fsync\\(" dirfd[tid] "\\) += 0") { done++; step[tid] = 0; next }
  }
  END { print done + 0 }' "$T"/trace.*)
[ "$records" -ge 2 ] || {
  cat "$T"/trace.* | grep -E "ppspool|\"$spool\"|fsync" | sed -n 1,30p >&2
  fail "$records records went through fsync(record), rename, fsync(directory); want 2"
}
pass "$records spooled records: fsync before the rename, the spool directory fsync'ed after it"
