#!/usr/bin/env bash
# Fan-out and fan-in: one receiver feeds two pipelines, each with its own
# instance of the plugin's processor (a mutating one: each pipeline must
# get its own copy), and the two pipelines share one exporter. The index
# counts prove where every profile went and that no copy saw the other's
# label.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

go_profiles "$T/gen"
mkdir -p "$T/in"
for type in cpu heap goroutine block; do cp "$T/gen/goapp.$type.pb.gz" "$T/in/"; done
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
processors:
  label_edit/a: {set: {pipe: a}}
  label_edit/b: {set: {pipe: b}}
exporters:
  file/shared: {directory: $T/shared}
  file/only_b: {directory: $T/only_b}
service:
  plugins: [$PLUGIN]
  telemetry: {address: ""}  # no port to collide on; test_telemetry checks it
  pipelines:
    profiles/a:
      receivers: [file]
      processors: [label_edit/a]
      exporters: [file/shared]
    profiles/b:
      receivers: [file]
      processors: [label_edit/b]
      exporters: [file/shared, file/only_b]
YAML

start_profpipe run "$T/config.yaml"
wait_index "$T/shared" 8 30
wait_index "$T/only_b" 4 30
sleep 0.5
stop_profpipe "$PROFPIPE_PID"

indexcheck "$T/shared" > "$T/shared.sum" || fail "shared index does not match its files"
indexcheck "$T/only_b" > "$T/only_b.sum" || fail "only_b index does not match its files"
count() { grep -c -- "$2" "$1" || true; }
[ "$(wc -l < "$T/shared.sum")" = 8 ] || fail "shared exporter: want 8 profiles, got $(wc -l < "$T/shared.sum")"
[ "$(count "$T/shared.sum" ',pipe=a,')" = 4 ] || fail "shared exporter: want 4 from pipeline a"
[ "$(count "$T/shared.sum" ',pipe=b,')" = 4 ] || fail "shared exporter: want 4 from pipeline b"
[ "$(wc -l < "$T/only_b.sum")" = 4 ] || fail "only_b exporter: want 4 profiles"
[ "$(count "$T/only_b.sum" ',pipe=b,')" = 4 ] || fail "only_b exporter: every profile must carry pipe=b"
pass "one receiver -> two pipelines -> one shared exporter: 4+4 in shared, 4 in only_b"

# each family arrived once per pipeline, with identical payload totals
for fam in process_cpu memory goroutines block; do
  a=$(awk -F'\t' -v f="$fam" '$2 ~ "__name__="f"," && $2 ~ ",pipe=a," {print $4}' "$T/shared.sum")
  b=$(awk -F'\t' -v f="$fam" '$2 ~ "__name__="f"," && $2 ~ ",pipe=b," {print $4}' "$T/shared.sum")
  [ -n "$a" ] && [ "$a" = "$b" ] || fail "$fam: pipeline a totals '$a' != pipeline b totals '$b'"
done
pass "both copies of every profile carry the same samples"
