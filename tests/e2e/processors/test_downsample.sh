#!/usr/bin/env bash
# Real Go runtime profiles (profgen: cpu, heap, allocs, goroutine, block,
# mutex, threadcreate) through downsample, one pipeline per option, read
# back with go tool pprof -raw:
#  - max_stack_depth 3: no stack deeper than 3, per-type totals unchanged;
#  - min_fraction 0.05: no call-tree node (a path of frames by function
#    and line) below 5% of the total except the [other] markers, totals
#    unchanged;
#  - sample_types [inuse_space]: only that type, its total unchanged;
#  - window 2s over 4 copies of one CPU profile: one profile, 4x totals;
#  - window 1h: emitted at shutdown all the same, never lost;
#  - keep_one_in 2 over the 4 copies: 2 profiles.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/processors/processors_lib.sh"

go_profiles "$T/in"
mkdir -p "$T/copies"
for i in 1 2 3 4; do cp "$T/in/goapp.cpu.pb.gz" "$T/copies/goapp.cpu$i.pb.gz"; done
telemetry_port
pipe() { echo "    profiles/$1: {receivers: [$2], processors: [downsample/$1], exporters: [file/$1]}"; }
{
  cat <<YAML
receivers:
  file/types: {include: ["$T/in/*.pb.gz"], min_file_age: 0s}
  file/copies: {include: ["$T/copies/*.pb.gz"], min_file_age: 0s}
processors:
  downsample/depth: {max_stack_depth: 3}
  downsample/frac: {min_fraction: 0.05}
  downsample/types: {sample_types: [inuse_space]}
  downsample/window: {window: 2s}
  downsample/final: {window: 1h}
  downsample/one: {keep_one_in: 2}
exporters:
YAML
  for p in depth frac types window final one; do echo "  file/$p: {directory: $T/$p}"; done
  cat <<YAML
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
YAML
  for p in depth frac types; do pipe $p file/types; done
  for p in window final one; do pipe $p file/copies; done
} > "$T/config.yaml"

start_profpipe run "$T/config.yaml"
wait_index "$T/depth" 7 30
wait_index "$T/frac" 7 30
wait_index "$T/types" 2 30
wait_index "$T/one" 2 30
wait_index "$T/window" 1 30
# the 1h window took all 4 copies (1 opened it, 3 merged) and let
# nothing out while the 2s window closed
wait_metric 30 profpipe_downsample_merged_profiles_total downsample/final 3
[ "$(metric profpipe_processor_outgoing_profiles_total downsample/final)" = 0 ] ||
  fail "the 1h window closed before shutdown"
[ "$(index_lines "$T/final")" = 0 ] || fail "the 1h window closed before shutdown"
stop_profpipe "$PROFPIPE_PID"
for d in depth frac types window final one; do
  indexcheck "$T/$d" > "$T/$d.summary" || fail "$d: index does not match its files"
done

family() { case $1 in cpu) echo process_cpu;; heap|allocs) echo memory;; goroutine) echo goroutines;; *) echo "$1";; esac; }
ncols() { go tool pprof -raw "$1" 2>/dev/null | awk '/^Samples:/ {getline; print NF; exit}'; }
totals() { # file [multiplier]
  local c out=""
  for c in $(seq 1 "$(ncols "$1")"); do out="$out${out:+,}$(( $(raw_total "$1" "$c") * ${2:-1} ))"; done
  echo "$out"
}
: > "$T/want"
for type in cpu heap allocs goroutine block mutex threadcreate; do
  echo "$(family $type) $(totals "$T/in/goapp.$type.pb.gz")" >> "$T/want"
done
sort -o "$T/want" "$T/want"
outputs_match() { # dir
  local path labels
  : > "$T/got"
  while IFS=$'\t' read -r path labels _; do
    echo "$(basename "$(dirname "$path")") $(totals "$1/$path")" >> "$T/got"
  done < "$1.summary"
  sort -o "$T/got" "$T/got"
  diff -u "$T/want" "$T/got"
}

# --- max_stack_depth ---
deepest=$(for f in "$T"/in/*.pb.gz; do raw_max_depth "$f"; done | sort -n | tail -1)
[ "$deepest" -gt 3 ] || fail "no input stack is deeper than 3: nothing to cut"
outputs_match "$T/depth" || fail "max_stack_depth changed totals"
while IFS=$'\t' read -r path _; do
  d=$(raw_max_depth "$T/depth/$path")
  [ "$d" -le 3 ] || fail "$path: a stack of depth $d > 3"
done < "$T/depth.summary"
for path in $(cut -f1 "$T/depth.summary"); do raw_location_id "$T/depth/$path" '[truncated]'; done |
  grep -q . || fail "no [truncated] frame in any output"
pass "max_stack_depth 3: depths <= 3, [truncated] marks the cut, every type's totals equal"

# --- min_fraction ---
outputs_match "$T/frac" || fail "min_fraction changed totals"
check_fraction() { # type column: the output of that type is told apart from
  # allocs (same family, same totals) by allocs' default sample type
  local in="$T/in/goapp.$1.pb.gz" out p
  for p in $(awk -F'\t' -v f="__name__=$(family "$1")," 'index($2, f) {print $1}' "$T/frac.summary"); do
    go tool pprof -raw "$T/frac/$p" 2>/dev/null | sed -n '/^Samples:/{n;p}' | grep dflt >/dev/null || out="$T/frac/$p"
  done
  [ -n "$out" ] || fail "$1: no output of its family"
  read -r min total < <(raw_smallest_node "$in" "$2" none)
  # the cutoff go tool pprof -nodefraction uses: the product cut to an integer
  if ! awk -v m="$min" -v t="$total" 'BEGIN {exit !(m < int(0.05 * t))}'; then
    [ -z "$(raw_location_id "$out" '[other]')" ] || fail "$1: [other] but no input node below 5%"
    return 0
  fi
  folded=$((folded + 1))
  other=$(raw_location_id "$out" '[other]')
  [ -n "$other" ] || fail "$1: no [other] frame in the output"
  read -r min total < <(raw_smallest_node "$out" "$2" "$other")
  awk -v m="$min" -v t="$total" 'BEGIN {exit !(m >= int(0.05 * t))}' ||
    fail "$1: a node of $min is below 5% of $total"
}
folded=0
check_fraction cpu 2
check_fraction heap 4
[ "$folded" -ge 1 ] || fail "no input had a node below 5%: nothing was tested"
pass "min_fraction 0.05: every node but [other] holds >= 5% of the total, totals equal"

# --- sample_types ---
[ "$(index_lines "$T/types")" = 2 ] || fail "sample_types: want heap and allocs only"
want=$(for t in heap allocs; do raw_total "$T/in/goapp.$t.pb.gz" 4; done | sort | tr '\n' ' ')
got=$(while IFS=$'\t' read -r path _ types _; do
  [ "$types" = "inuse_space/bytes" ] || fail "sample types left: $types"
  raw_total "$T/types/$path" 1; done < "$T/types.summary" | sort | tr '\n' ' ')
[ "$want" = "$got" ] || fail "inuse_space totals $got, want $want"
pass "sample_types [inuse_space]: only inuse_space left, totals equal"

# --- window and keep_one_in over 4 copies ---
cpu4=$(totals "$T/in/goapp.cpu.pb.gz" 4)
for d in window final; do
  [ "$(index_lines "$T/$d")" = 1 ] || fail "$d: $(index_lines "$T/$d") profiles, want 1"
  got=$(totals "$T/$d/$(cut -f1 "$T/$d.summary")")
  [ "$got" = "$cpu4" ] || fail "$d: totals $got, want 4x the input: $cpu4"
done
pass "window: 4 profiles of a series merged into one with 4x the totals (2s tick, and 1h at shutdown)"
[ "$(index_lines "$T/one")" = 2 ] || fail "keep_one_in 2: $(index_lines "$T/one") of 4 kept, want 2"
pass "keep_one_in 2: 2 of 4 kept"

if grep -q 'level=error' "$T/run.log"; then fail "errors in the log: $(grep level=error "$T/run.log")"; fi
pass "no errors logged"
