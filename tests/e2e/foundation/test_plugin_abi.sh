#!/usr/bin/env bash
# The plugin ABI's compatibility promise (include/profpipe/plugin.h), on
# the real binary:
# - a plugin built against the frozen 2.0 header (tests/support/abi/), as
#   one built when 2.0 was released and never rebuilt, loads into this host
#   whatever its minor, and real Go profiles pass through it as its code
#   says: labels, family and go tool pprof's totals checked field by field;
# - a plugin of the next minor that leaves the member this host lacks NULL
#   loads, sees that the next minor's host call is absent, and runs; one
#   that sets it is refused, the message naming both versions;
# - a plugin of major 1 (the old layout) is refused, the message naming
#   its version and this host's.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

DIR="$BUILD_DIR/tests/e2e/foundation"
FROZEN="$SOURCE_DIR/tests/support/abi/profpipe_2_0/profpipe/plugin.h"
host_abi=$("$PROFPIPE" --version | sed -n 's/.*(plugin ABI \([0-9]*\.[0-9]*\))$/\1/p')
[ -n "$host_abi" ] || fail "--version names no plugin ABI: $("$PROFPIPE" --version)"
host_major=${host_abi%.*} host_minor=${host_abi#*.}
frozen_major=$(awk '$2 == "PP_ABI_MAJOR" {print $3}' "$FROZEN")
[ "$frozen_major" = "$host_major" ] ||
  fail "the frozen header is ABI $frozen_major, the host $host_abi: freeze the new major's header"
[ "$(awk '$2 == "PP_ABI_MINOR" {print $3}' "$FROZEN")" = 0 ] || fail "$FROZEN is not the .0 header"
# while the host is still at .0, its header is the frozen one, to the byte
if [ "$host_minor" = 0 ]; then
  cmp -s "$SOURCE_DIR/include/profpipe/plugin.h" "$FROZEN" ||
    fail "plugin.h changed while PP_ABI_MINOR is 0: bump the minor (appending) or, before $host_major.0 is released, freeze it again: $(diff "$FROZEN" "$SOURCE_DIR/include/profpipe/plugin.h" | sed -n 1,5p)"
fi

# --- a 2.0 plugin on this host ---------------------------------------------
go_profiles "$T/gen"
mkdir -p "$T/in"
cp "$T/gen/goapp.cpu.pb.gz" "$T/gen/goapp.heap.pb.gz" "$T/in/"
telemetry_port
cat > "$T/old.yaml" <<YAML
receivers:
  file: {include: ["$T/in/*.pb.gz"], min_file_age: 0s}
processors:
  abi_stamp: {factor: 3}
  future_minor:
exporters:
  file: {directory: $T/out}
service:
  plugins: [$DIR/libabi_2_0.so, $DIR/libfuture_minor.so]
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles: {receivers: [file], processors: [abi_stamp, future_minor], exporters: [file]}
YAML
"$PROFPIPE" components --plugin "$DIR/libabi_2_0.so" > "$T/components" ||
  fail "components refused the 2.0 plugin"
grep -q "^processor abi_stamp ($DIR/libabi_2_0.so)" "$T/components" || fail "abi_stamp not listed"
start_profpipe run "$T/old.yaml"
wait_index "$T/out" 2 30
metric='profpipe_abi_stamp_profiles_total{component_id="abi_stamp"'
wait_for 20 sh -c "curl -sf http://$TELEMETRY/metrics | grep -F '$metric' | grep ' 2\$' >/dev/null" ||
  fail "the 2.0 plugin's metric: $(curl -sf "http://$TELEMETRY/metrics" | grep abi_stamp)"
stop_profpipe "$PROFPIPE_PID"

indexcheck "$T/out" > "$T/summary" || fail "index does not match its files"
: > "$T/want"; : > "$T/got"
for type in cpu heap; do
  in="$T/in/goapp.$type.pb.gz"
  case $type in cpu) fam=process_cpu;; heap) fam=memory;; esac
  ncols=$(sample_columns "$in")
  [ "$ncols" -ge 1 ] || fail "$type: go tool pprof cannot read the input"
  labels="__name__=$fam,future_call=absent,host_abi=$host_abi,plugin_abi=2.0,service_name=goapp"
  echo "$fam $labels $(pprof_totals "$in" "$ncols" 3)" >> "$T/want"
done
while IFS=$'\t' read -r path labels types _; do
  echo "$(basename "$(dirname "$path")") $labels $(pprof_totals "$T/out/$path" "$(awk -F, '{print NF}' <<<"$types")")" >> "$T/got"
done < "$T/summary"
sort -o "$T/want" "$T/want"; sort -o "$T/got" "$T/got"
diff -u "$T/want" "$T/got" || fail "what came out of the 2.0 plugin differs (labels or pprof totals x3)"
pass "a plugin built against ABI 2.0 runs on host $host_abi: labels and pprof totals (x3) match"
pass "a plugin of ABI $host_major.$((host_minor + 1)) that sets nothing this host lacks loads and sees the newer call absent"

# --- refused: a newer minor's member set, another major ---------------------
# refused PLUGIN TEXT...: validate exits 2 and the error holds every TEXT
refused() {
  local so=$1 rc=0 out; shift
  printf 'exporters: {file: {directory: %s}}\nreceivers: {file: {include: ["%s/*"]}}\nservice:\n  plugins: [%s]\n  pipelines: {profiles: {receivers: [file], exporters: [file]}}\n' \
    "$T/never" "$T/in" "$so" > "$T/refused.yaml"
  out=$("$PROFPIPE" validate -c "$T/refused.yaml" 2>&1) || rc=$?
  [ "$rc" = 2 ] || fail "$so: validate exit $rc, want 2: $out"
  for text in "$@"; do grep -qF -- "$text" <<<"$out" || fail "$so: no '$text' in: $out"; done
}
refused "$DIR/libfuture_member.so" \
  "built for plugin ABI version $host_major.$((host_minor + 1))" "speaks $host_abi" \
  "component future_minor" "pp_component callbacks it sets"
pass "a plugin of ABI $host_major.$((host_minor + 1)) setting a callback this host lacks is refused, naming both versions"
refused "$DIR/libbad_abi.so" "built for plugin ABI version 1," "speaks $host_abi" "another major"
pass "a plugin of ABI major 1 is refused, naming its version and the host's"
