#!/usr/bin/env bash
# `profpipe run` writes its config diagnostics as logfmt lines with the
# position as fields (file, line, column, at) and the message alone in
# msg: a warning (a component no pipeline uses) and, for a config that
# does not build, an error, with exit 2. Every line of stderr is logfmt.
source "$SOURCE_DIR/tests/e2e/lib.sh"

mkdir -p "$T/in"
cat >"$T/warn.yaml" <<CFG
receivers:
  file: {include: ["$T/in/*.pb.gz"]}
  file/unused: {include: ["$T/in/*.pb.gz"]}
exporters:
  file: {directory: $T/out}
service:
  telemetry: {address: "127.0.0.1:$(free_port)"}
  pipelines: {profiles: {receivers: [file], exporters: [file]}}
CFG
start_profpipe warn "$T/warn.yaml"
started() { grep -q 'msg="started' "$T/warn.log"; }
wait_for 30 started || fail "not started: $(cat "$T/warn.log")"
stop_profpipe "$PROFPIPE_PID"
want="level=warn component=config msg=\"defined but not used by any pipeline\" file=\"$T/warn.yaml\" line=\"3\" column=\"3\" at=\"receivers.file/unused\""
grep -qF -- "$want" "$T/warn.log" || fail "warning line: want $want in: $(cat "$T/warn.log")"
bad=$(grep -v '^ts=[0-9T:.-]*Z level=[a-z]* ' "$T/warn.log" || true)
[ -z "$bad" ] || fail "lines that are not logfmt: $bad"
pass "config warning as logfmt fields: $(grep component=config "$T/warn.log")"

sed 's/file: {directory/file: {direktory/' "$T/warn.yaml" >"$T/bad.yaml"
rc=0
"$PROFPIPE" run -c "$T/bad.yaml" >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad config: exit $rc, want 2: $(cat "$T/bad.log")"
grep -E "^ts=.* level=error component=config msg=\"[^\"]*unknown[^\"]*\" file=\"$T/bad.yaml\" line=\"5\" column=\"[0-9]+\" at=\"exporters.file[^\"]*\"" \
  "$T/bad.log" >/dev/null || fail "error line: $(cat "$T/bad.log")"
bad=$(grep -v '^ts=[0-9T:.-]*Z level=[a-z]* ' "$T/bad.log" || true)
[ -z "$bad" ] || fail "lines that are not logfmt: $bad"
pass "config error as logfmt fields, exit 2: $(grep level=error "$T/bad.log" | sed -n 1p)"
