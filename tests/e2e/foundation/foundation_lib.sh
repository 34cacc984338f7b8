# Helpers for the foundation e2e tests (file receiver -> processors -> file
# exporter, reload, shutdown, validate, telemetry). Sourced after lib.sh.

export BUILD_DIR SOURCE_DIR
PLUGIN="$BUILD_DIR/plugins/liblabel_edit.so"
[ -f "$PLUGIN" ] || fail "missing $PLUGIN (build the plugin_label_edit target)"

# go_profiles DIR: real Go runtime profiles from profgen, one per type, as
# DIR/goapp.<type>.pb.gz (the file receiver names the service `goapp`).
go_profiles() {
  local dir=$1 f
  go_build "$T/profgen" "$SOURCE_DIR/tests/e2e/go/profgen"
  timeout 30 "$T/profgen" "$T/profgen.out" || fail "profgen failed"
  mkdir -p "$dir"
  for f in "$T"/profgen.out/*.pb.gz; do cp "$f" "$dir/goapp.$(basename "$f")"; done
}

# indexcheck DIR > summary: checks every index line against its file
# (Go's encoding/json and pprof's own parser); one summary line each.
indexcheck() {
  [ -x "$T/indexcheck" ] || go_build "$T/indexcheck" "$SOURCE_DIR/tests/e2e/foundation/indexcheck"
  "$T/indexcheck" "$1"
}

# index_lines DIR: how many profiles the index lists.
index_lines() { if [ -f "$1/index.jsonl" ]; then wc -l < "$1/index.jsonl"; else echo 0; fi; }

# wait_index DIR N SECONDS: until the index lists at least N profiles;
# fails at once if profpipe is gone (no point waiting for a dead process).
wait_index() {
  local deadline=$(( $(date +%s) + $3 ))
  until [ "$(index_lines "$1")" -ge "$2" ]; do
    kill -0 "$PROFPIPE_PID" 2>/dev/null || fail "profpipe exited early: $(tail -5 "$T"/*.log 2>/dev/null)"
    [ "$(date +%s)" -lt "$deadline" ] ||
      fail "index of $1 has $(index_lines "$1") lines, want $2 (log: $(tail -5 "$T"/*.log 2>/dev/null))"
    sleep 0.1
  done
}

# drop FILE DIR NAME: puts FILE into a watched folder the way a careful
# writer does (write elsewhere, rename in), so no half file is ever seen.
drop() { cp "$1" "$2/.$3.part" && mv "$2/.$3.part" "$2/$3"; }

# telemetry_port: a free port, in TELEMETRY.
telemetry_port() { TELEMETRY="127.0.0.1:$(free_port)"; }

# metric_value SERIES: the value of the series whose name and labels are
# exactly SERIES on http://$TELEMETRY/metrics (empty if absent). The page
# is read whole first: `curl | grep -q` under pipefail fails on SIGPIPE.
metric_value() {
  local page
  page=$(curl -sf "http://$TELEMETRY/metrics") || return 0
  awk -v s="$1" 'index($0, s" ") == 1 {print $2}' <<<"$page"
}
metric_is() { [ "$(metric_value "$1")" = "$2" ]; }
# expect_metric SERIES VALUE: waits up to 20s for it (counters move just
# after the data they count).
expect_metric() {
  wait_for 20 metric_is "$1" "$2" || fail "$1 = '$(metric_value "$1")', want $2"
}

# sample_columns FILE: how many sample types (value columns) go tool pprof
# reads in FILE; 0 when it cannot read it.
sample_columns() {
  local n
  n=$(go tool pprof -raw "$1" 2>/dev/null | awk '/^Samples:/ {getline; print NF; exit}')
  echo "${n:-0}"
}

# pprof_totals FILE NCOLS [FACTOR]: go tool pprof's total of each of the
# NCOLS value columns of FILE, times FACTOR (1), joined by commas.
pprof_totals() {
  local totals="" c
  for c in $(seq 1 "$2"); do totals="$totals${totals:+,}$(( $(pprof_total "$1" "$c") * ${3:-1} ))"; done
  echo "$totals"
}
