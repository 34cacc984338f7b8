#!/usr/bin/env bash
# What a user sees when the perf receiver cannot run, from the real binary:
# `profpipe validate` names file:line:col and the key of a bad regex; `run`
# exits non-zero with a message saying what to do for a pid that does not
# exist, and, run as an unprivileged user, for missing permission (naming
# kernel.perf_event_paranoid and CAP_PERFMON).
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/perf/perf_lib.sh"
perf_require_access

chmod 755 "$T" # readable by the unprivileged run below

perf_config "$T/regex.yaml" "$T/out" 0 '    comm: "(unclosed"'
rc=0; "$PROFPIPE" validate -c "$T/regex.yaml" > "$T/validate.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "validate accepted a bad regex"
grep -q "regex.yaml:3:11: receivers.perf: comm: invalid regex" "$T/validate.log" ||
  fail "validate message: $(cat "$T/validate.log")"
pass "bad regex: $(head -1 "$T/validate.log")"

true & dead=$!; wait "$dead"
perf_config "$T/pid.yaml" "$T/out" "$(free_port)" "    pids: [\"$dead\"]"
rc=0; timeout $((20 * PERF_SLOW)) "$PROFPIPE" run -c "$T/pid.yaml" > "$T/pid.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "run with a missing pid: exit $rc"
grep -q "process $dead does not exist" "$T/pid.log" || fail "missing pid message: $(cat "$T/pid.log")"
pass "missing pid: exit $rc, $(grep -o 'process [0-9]* does not exist[^"]*' "$T/pid.log")"

if [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 0 ] && command -v setpriv >/dev/null; then
  perf_config "$T/perm.yaml" "$T/out" "$(free_port)" "    interval: 1s"
  chmod 644 "$T/perm.yaml"
  rc=0
  timeout $((20 * PERF_SLOW)) setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    "$PROFPIPE" run -c "$T/perm.yaml" > "$T/perm.log" 2>&1 || rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "unprivileged run: exit $rc"
  grep -q "permission denied (kernel.perf_event_paranoid=" "$T/perm.log" &&
    grep -q "CAP_PERFMON" "$T/perm.log" || fail "permission message: $(cat "$T/perm.log")"
  pass "unprivileged: exit $rc with the sysctl and CAP_PERFMON named"
fi
