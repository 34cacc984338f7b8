#!/usr/bin/env bash
# The plugin author's path in plugins/label_edit/README.md, followed to the
# letter: the example plugin in the README is compiled out of tree with the
# README's cc command against the installed header alone, listed by
# `profpipe components`, and run in a pipeline (its metric counts the
# profiles that passed).
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

README="$SOURCE_DIR/plugins/label_edit/README.md"
awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on' "$README" > "$T/my_plugin.c"
[ -s "$T/my_plugin.c" ] || fail "no C example in $README"
# what `cmake --install` puts under the prefix: the header, nothing else
mkdir -p "$T/prefix/include/profpipe"
cp "$SOURCE_DIR/include/profpipe/plugin.h" "$T/prefix/include/profpipe/"
cc_line=$(grep -A1 '^cc -std=c11' "$README" | tr -d '\\\n' | sed "s|-I/usr/local/include|-I$T/prefix/include|")
(cd "$T" && eval "$cc_line") || fail "the README's cc command failed: $cc_line"
nm -D --defined-only "$T/libmy_plugin.so" | grep ' profpipe_module$' >/dev/null || fail "profpipe_module not exported"
[ "$(nm -D --defined-only "$T/libmy_plugin.so" | grep -c ' [TDBR] ')" = 1 ] ||
  fail "the plugin exports more than profpipe_module: $(nm -D --defined-only "$T/libmy_plugin.so")"
pass "README plugin builds out of tree against the installed header, exports only profpipe_module"

"$PROFPIPE" components --plugin "$T/libmy_plugin.so" > "$T/components" || fail "components refused it"
grep -q "^processor counter ($T/libmy_plugin.so)" "$T/components" || fail "counter not listed"

go_profiles "$T/gen"
mkdir -p "$T/in"
cp "$T/gen/goapp.cpu.pb.gz" "$T/gen/goapp.heap.pb.gz" "$T/in/"
telemetry_port
cat > "$T/config.yaml" <<YAML
receivers:
  file: {include: ["$T/in/*.pb.gz"], min_file_age: 0s}
processors:
  counter:
exporters:
  file: {directory: $T/out}
service:
  plugins: [$T/libmy_plugin.so]
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles: {receivers: [file], processors: [counter], exporters: [file]}
YAML
start_profpipe run "$T/config.yaml"
wait_index "$T/out" 2 30
metric='profpipe_counter_profiles_total{component_id="counter"'
wait_for 10 sh -c "curl -sf http://$TELEMETRY/metrics | grep -F '$metric' | grep ' 2\$' >/dev/null" ||
  fail "the plugin's metric: $(curl -sf "http://$TELEMETRY/metrics" | grep counter_profiles)"
stop_profpipe "$PROFPIPE_PID"
pass "the out-of-tree plugin runs in a pipeline and its metric counted 2 profiles"
