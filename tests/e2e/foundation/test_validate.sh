#!/usr/bin/env bash
# `profpipe validate -c` on the table of broken configs in bad/expect.tsv:
# each must exit 2, and its first error must name file:line:column, where
# (component id, pipeline or section) and the key and reason the table
# expects. A good config exits 0; an unused component is a warning, not an
# error; validate starts nothing (the exporter's folder is not created).
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

BAD="$SOURCE_DIR/tests/e2e/foundation/bad"
unset PROFPIPE_E2E_SURELY_UNSET
n=0
while IFS=$'\t' read -r file pos where text; do
  case $file in ''|'#'*) continue;; esac
  rc=0
  out=$(cd "$BAD" && "$PROFPIPE" validate -c "$file" 2>&1) || rc=$?
  [ "$rc" = 2 ] || fail "$file: exit $rc, want 2; output: $out"
  # the first error is the one the row describes, at its position
  first=$(grep -m1 '^error: ' <<<"$out") || fail "$file: no error line in: $out"
  if [ "$where" = - ]; then want="error: $file:$pos: "; else want="error: $file:$pos: $where: "; fi
  [[ $first == "$want"* ]] || fail "$file: first error does not start with '$want': $first"
  grep -qF -- "$text" <<<"$first" || fail "$file: no '$text' in: $first"
  n=$((n + 1))
done < "$BAD/expect.tsv"
pass "$n broken configs: exit 2, each names its file:line:col, component and key"

cat > "$T/good.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: \${env:PROFPIPE_E2E_POLL:-2s}
    labels: {env: test}
  file/unused:
    include: ["$T/other/*.pb.gz"]
processors:
  label_edit: {set: {a: b}, remove: [c], drop_types: [goroutine]}
exporters:
  file:
    directory: $T/out
    max_total_size: 10MiB
    max_age: 24h
    retry_on_failure: {initial_interval: 500ms}
service:
  plugins: [$PLUGIN]
  telemetry: {address: "127.0.0.1:0"}
  pipelines:
    profiles:
      receivers: [file]
      processors: [label_edit]
      exporters: [file]
YAML
rc=0
out=$("$PROFPIPE" validate -c "$T/good.yaml" 2>&1) || rc=$?
[ "$rc" = 0 ] || fail "good config: exit $rc: $out"
grep -q 'error' <<<"$out" && fail "good config printed an error: $out"
grep -q 'warning: .*good.yaml:6:.*file/unused.*not used' <<<"$out" ||
  fail "no warning naming good.yaml:6 and the unused file/unused: $out"
[ ! -e "$T/out" ] || fail "validate created the exporter's directory: it must start nothing"
pass "good config: exit 0, unused component warned about, nothing started"

# the default config the README runs, and the examples, are valid as shipped
export PROFPIPE_PLUGIN_DIR="$BUILD_DIR/plugins"
for cfg in config/profpipe.yaml $(cd "$SOURCE_DIR" && ls config/examples/*.yaml); do
  rc=0
  out=$(cd "$SOURCE_DIR" && "$PROFPIPE" validate -c "$cfg" 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail "$cfg: exit $rc: $out"
  grep -q warning <<<"$out" && fail "$cfg: $out"
done
pass "config/profpipe.yaml and config/examples/*.yaml validate without warnings"
