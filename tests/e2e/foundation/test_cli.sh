#!/usr/bin/env bash
# The command line: `components` lists the file receiver and exporter and
# the plugin's processor with their option tables (and the components'
# READMEs carry the same tables), --version and --help exit 0, bad usage
# exits 2.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

expect_rc() { # rc command...: runs it, output to $T/out
  local want=$1 rc=0; shift
  "$@" > "$T/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "$*: exit $rc, want $want: $(head -5 "$T/out")"
}
has() { grep -qE -- "$1" "$T/out" || fail "'$1' missing from: $(head -20 "$T/out")"; }

expect_rc 0 "$PROFPIPE" components --plugin "$PLUGIN"
has '^receiver file \(built-in\)'
for o in include exclude poll_interval min_file_age max_file_size labels service_name \
         profile_type delete_after_read failed_dir; do
  sed -n '/^receiver file /,/^$/p' "$T/out" | grep -E "^  $o +" >/dev/null || fail "receiver file: option $o not listed"
done
has '^exporter file \(built-in\)'
for o in directory fsync max_total_size max_age retry_on_failure sending_queue; do
  sed -n '/^exporter file /,/^$/p' "$T/out" | grep -E "^  $o +" >/dev/null || fail "exporter file: option $o not listed"
done
has "^processor label_edit \\($PLUGIN\\)"
for o in set remove drop_types; do
  sed -n '/^processor label_edit /,/^$/p' "$T/out" | grep -E "^  $o +" >/dev/null || fail "label_edit: option $o not listed"
done
sed -n '/^receiver file /,/^$/p' "$T/out" | grep -E '^  min_file_age +duration +1s ' >/dev/null ||
  fail "receiver file: min_file_age should show type duration and default 1s"
pass "components lists file receiver, file exporter and the plugin's label_edit with their options"

# plugins named in a config's service.plugins are listed too
cat > "$T/plugins.yaml" <<YAML
receivers: {file: {include: ["$T/in/*"]}}
exporters: {file: {directory: $T/out}}
service:
  plugins: [$PLUGIN]
  pipelines: {profiles: {receivers: [file], exporters: [file]}}
YAML
expect_rc 0 "$PROFPIPE" components -c "$T/plugins.yaml"
has '^processor label_edit '
pass "components -c loads the config's plugins"

# each README's option table is the component's own table, row for row
check_readme() { # type readme nth-table-of-that-type
  "$PROFPIPE" components --plugin "$PLUGIN" --markdown "$1" > "$T/md"
  awk -v want="$3" '/^\| Option/ {n++} n == want && /^\| `/' "$T/md" > "$T/rows"
  [ -s "$T/rows" ] || fail "no markdown table for $1"
  while IFS= read -r row; do
    grep -qF -- "$row" "$2" || fail "$2 lacks the option row: $row"
  done < "$T/rows"
  # and the README's own table (the first after "## Options") has no other row
  awk '/^## Options/ {o = 1; next} o && /^\| `/ {print; t = 1; next} t && !/^\|/ {exit}' "$2" > "$T/readme_rows"
  while IFS= read -r row; do
    grep -qxF -- "$row" "$T/rows" || fail "$2 has a row the component does not: $row"
  done < "$T/readme_rows"
}
check_readme file "$SOURCE_DIR/receivers/file/README.md" 1
check_readme file "$SOURCE_DIR/exporters/file/README.md" 2
check_readme label_edit "$SOURCE_DIR/plugins/label_edit/README.md" 1
check_readme profile_metrics "$SOURCE_DIR/exporters/profile_metrics/README.md" 1
pass "the READMEs' option tables match the components' tables"

# `profpipe` alone is `run -c config/profpipe.yaml`; SIGINT stops it like SIGTERM
mkdir -p "$T/home/config" "$T/in"
cat > "$T/home/config/profpipe.yaml" <<YAML
receivers: {file: {include: ["$T/in/*"], poll_interval: 1s}}
exporters: {file: {directory: $T/out}}
service:
  telemetry: {address: ""}
  pipelines: {profiles: {receivers: [file], exporters: [file]}}
YAML
(cd "$T/home" && exec "$PROFPIPE") > "$T/default.log" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_for 20 grep -q 'running config/profpipe.yaml' "$T/default.log" ||
  fail "profpipe without arguments did not run config/profpipe.yaml: $(tail -3 "$T/default.log")"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "exit $rc after SIGINT, want 0: $(tail -3 "$T/default.log")"
grep -q 'SIGINT: stopping' "$T/default.log" || fail "no SIGINT in the log"
pass "no arguments: runs config/profpipe.yaml; SIGINT exits 0"

# a runtime failure (the telemetry port is taken, here by a first profpipe) exits 1
telemetry_port
sed "s/address: \"\"/address: \"$TELEMETRY\"/" "$T/home/config/profpipe.yaml" > "$T/port.yaml"
start_profpipe first "$T/port.yaml"
wait_for 20 grep -q 'telemetry on' "$T/first.log" || fail "first profpipe: $(tail -3 "$T/first.log")"
expect_rc 1 timeout 30 "$PROFPIPE" run -c "$T/port.yaml"
has "$TELEMETRY"
stop_profpipe "$PROFPIPE_PID"
pass "a port in use: exit 1, naming the address"

expect_rc 0 "$PROFPIPE" --version
version=$(sed -n 's/^project(profpipe VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
has "^profpipe $version"
expect_rc 0 "$PROFPIPE" --help
has 'validate'; has 'components'; has 'run'
pass "--version ($version) and --help exit 0"

expect_rc 2 "$PROFPIPE" frobnicate
expect_rc 2 "$PROFPIPE" run --no-such-flag
expect_rc 2 "$PROFPIPE" validate
expect_rc 2 "$PROFPIPE" run -c "$T/does-not-exist.yaml"
has 'does-not-exist.yaml'
expect_rc 2 "$PROFPIPE" components --plugin "$T/nope.so"
pass "bad usage, a missing config and a missing plugin exit 2"
