#!/usr/bin/env bash
# Real Go profiles of every runtime type -> file receiver -> the example
# external plugin (label_edit, loaded from its .so) -> file exporter.
# go tool pprof must read every output with the input's per-type totals;
# the JSON index must hold, field by field, what each file is: its labels
# (the plugin set, overrode and removed some), window, sample types, size.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

go_profiles "$T/in"
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
    labels: {env: e2e, team: old}
processors:
  label_edit:
    set: {region: eu-west, team: new}
    remove: [env]
    drop_types: [threadcreate]
exporters:
  file:
    directory: $T/out
service:
  plugins: [$PLUGIN]
  telemetry: {address: ""}  # no port to collide on; test_telemetry checks it
  pipelines:
    profiles:
      receivers: [file]
      processors: [label_edit]
      exporters: [file]
YAML

start_profpipe run "$T/config.yaml"
wait_index "$T/out" 6 30
sleep 0.5 # a seventh (threadcreate) line would be a bug: give it time to show
stop_profpipe "$PROFPIPE_PID"
[ "$(index_lines "$T/out")" = 6 ] || fail "want 6 profiles (threadcreate dropped), got $(index_lines "$T/out")"

indexcheck "$T/out" > "$T/summary" || fail "index does not match its files"
family() { case $1 in cpu) echo process_cpu;; heap|allocs) echo memory;; goroutine) echo goroutines;; *) echo "$1";; esac; }

# expected: family, labels, and totals by go tool pprof -raw of each input
: > "$T/want"; : > "$T/got"
for type in cpu heap allocs goroutine block mutex; do
  in="$T/in/goapp.$type.pb.gz"
  fam=$(family "$type")
  ncols=$(sample_columns "$in")
  [ "$ncols" -ge 1 ] || fail "$type: go tool pprof cannot read the input"
  echo "$fam __name__=$fam,region=eu-west,service_name=goapp,team=new $(pprof_totals "$in" "$ncols")" >> "$T/want"
done
while IFS=$'\t' read -r path labels types _; do
  fam=$(basename "$(dirname "$path")")
  echo "$fam $labels $(pprof_totals "$T/out/$path" "$(awk -F, '{print NF}' <<<"$types")")" >> "$T/got"
done < "$T/summary"
sort -o "$T/want" "$T/want"; sort -o "$T/got" "$T/got"
diff -u "$T/want" "$T/got" || fail "outputs differ from inputs (family, labels or pprof totals)"
pass "6 Go profile types through the plugin: labels, families and go tool pprof totals match"

# nothing in the pipeline needed the tree changed: the bytes pass through
for type in cpu heap allocs goroutine block mutex; do
  in="$T/in/goapp.$type.pb.gz"
  match=$(cd "$T/out" && find . -name '*.pb.gz' -exec cmp -s "$in" {} \; -print | sed -n 1p)
  [ -n "$match" ] || fail "$type: no output is byte-identical to the input (was it re-encoded?)"
done
pass "payloads pass through unchanged"

grep -q 'level=error' "$T/run.log" && fail "errors in the log: $(grep level=error "$T/run.log")"
pass "no errors logged"
