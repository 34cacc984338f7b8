#!/usr/bin/env bash
# A Go program labels its CPU work with pprof.Do the way Pyroscope's Go
# integration does (span_id, span_name; plus trace_id); its real CPU
# profile goes through span_correlation three ways:
#  - defaults: every per-span and per-trace total equals the input's;
#  - keep_ratio 0.5: the traces that keep their ids are exactly those the
#    Go program's own copy of OpenTelemetry Go's TraceIDRatioBased rule
#    keeps, kept spans keep their totals, the rest lose their ids, and
#    the profile total does not change;
#  - span_name_to_series with max_span_names 2: one profile per admitted
#    span name (+ `other`, + the unlabelled rest), whose totals add up.
# Everything is read back with go tool pprof -raw.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/processors/processors_lib.sh"

go_build "$T/spanapp" "$SOURCE_DIR/tests/e2e/processors/spanapp"
timeout 30 "$T/spanapp" "$T/in" 0.5 || fail "spanapp failed"
IN="$T/in/spanapp.cpu.pb.gz"
telemetry_port
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$IN"]
    min_file_age: 0s
processors:
  span_correlation/all: {}
  span_correlation/keep:
    keep_ratio: 0.5
  span_correlation/names:
    span_name_to_series: true
    max_span_names: 2
exporters:
  file/all: {directory: $T/all}
  file/keep: {directory: $T/keep}
  file/names: {directory: $T/names}
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles/all: {receivers: [file], processors: [span_correlation/all], exporters: [file/all]}
    profiles/keep: {receivers: [file], processors: [span_correlation/keep], exporters: [file/keep]}
    profiles/names: {receivers: [file], processors: [span_correlation/names], exporters: [file/names]}
YAML

# how many profiles the split must give: admitted names, other, unlabelled
raw_label_totals "$IN" 2 span_name > "$T/in.names"
n_names=$(grep -vc '^-' "$T/in.names" || true)
want_split=$(( n_names < 2 ? n_names : 2 ))
[ "$n_names" -gt 2 ] && want_split=$((want_split + 1))
grep -q '^-' "$T/in.names" && want_split=$((want_split + 1))
[ "$n_names" -ge 2 ] || fail "the input has samples of only $n_names span names"

start_profpipe run "$T/config.yaml"
wait_index "$T/all" 1 30
wait_index "$T/keep" 1 30
wait_index "$T/names" "$want_split" 30
stop_profpipe "$PROFPIPE_PID"
for d in all keep names; do indexcheck "$T/$d" > "$T/$d.summary" || fail "$d: index does not match"; done

# --- defaults: per span, per trace and in total nothing moves ---
ALL="$T/all/$(cut -f1 "$T/all.summary")"
for col in 1 2; do
  for key in span_id trace_id span_name; do
    raw_label_totals "$IN" "$col" "$key" > "$T/want"
    raw_label_totals "$ALL" "$col" "$key" > "$T/got"
    diff -u "$T/want" "$T/got" || fail "defaults: per-$key totals (column $col) differ"
  done
done
pass "defaults: per-span, per-trace and per-name totals equal the input's"
cmp -s "$IN" "$ALL" || fail "defaults: canonical, kept ids but the payload was re-encoded"
pass "defaults: ids already canonical, so the payload passed through byte for byte"

# --- keep_ratio 0.5 against the Go SDK rule ---
KEEP="$T/keep/$(cut -f1 "$T/keep.summary")"
raw_label_totals "$IN" 2 trace_id | grep -v '^-' > "$T/in.traces"
raw_label_totals "$KEEP" 2 trace_id > "$T/keep.traces"
[ "$(wc -l < "$T/in.traces")" -ge 4 ] || fail "too few traces sampled in the input"
kept_total=0; n_kept=0; n_dropped=0
while IFS=$'\t' read -r trace total; do
  decision=$(awk -v t="$trace" '$1 == t {print $2}' "$T/in/decisions.txt")
  got=$(awk -F'\t' -v t="$trace" '$1 == t {print $2}' "$T/keep.traces")
  if [ "$decision" = 1 ]; then
    [ "$got" = "$total" ] || fail "trace $trace kept by the OTel rule: total $got, want $total"
    kept_total=$((kept_total + total)); n_kept=$((n_kept + 1))
  else
    [ -z "$got" ] || fail "trace $trace dropped by the OTel rule but still on $got ns"
    n_dropped=$((n_dropped + 1))
  fi
done < "$T/in.traces"
[ "$n_kept" -ge 1 ] && [ "$n_dropped" -ge 1 ] || fail "want kept and dropped traces: $n_kept/$n_dropped"
in_total=$(raw_total "$IN" 2); keep_total=$(raw_total "$KEEP" 2)
[ "$in_total" = "$keep_total" ] || fail "keep_ratio changed the total: $keep_total vs $in_total"
with_span=$(raw_label_totals "$KEEP" 2 span_id | awk -F'\t' '$1 != "-" {t += $2} END {print t+0}')
[ "$with_span" = "$kept_total" ] || fail "span ids left on $with_span ns, want $kept_total (kept traces)"
pass "keep_ratio 0.5: $n_kept kept and $n_dropped stripped traces match OpenTelemetry Go's TraceIDRatioBased decisions, totals kept"

# --- span names as series, bounded ---
[ "$(index_lines "$T/names")" = "$want_split" ] || fail "names: $(index_lines "$T/names") profiles, want $want_split"
sum=0
while IFS=$'\t' read -r path labels _; do
  f="$T/names/$path"
  total=$(raw_total "$f" 2); sum=$((sum + total))
  name=$(tr ',' '\n' <<<"$labels" | sed -n 's/^span_name=//p')
  case "$name" in
    "") want=$(awk -F'\t' '$1 == "-" {print $2}' "$T/in.names") ;;
    other) want=$(cut -f2 "$T/names.summary" | tr ',' '\n' | sed -n 's/^span_name=//p' |
             grep -vx other | awk -F'\t' 'NR == FNR {admitted[$0] = 1; next}
               $1 != "-" && !($1 in admitted) {t += $2} END {print t+0}' - "$T/in.names") ;;
    *) want=$(awk -F'\t' -v n="$name" '$1 == n {print $2}' "$T/in.names")
       left=$(raw_label_totals "$f" 2 span_name | awk -F'\t' '$1 != "-"' | wc -l)
       [ "$left" = 0 ] || fail "span name $name still on the samples of its own series" ;;
  esac
  [ "$total" = "$want" ] || fail "span_name=${name:-<none>}: total $total, want $want"
done < "$T/names.summary"
[ "$sum" = "$in_total" ] || fail "split profiles add up to $sum, want $in_total"
pass "span_name_to_series: $want_split profiles, per-name totals equal, sum equals the input"

if grep -q 'level=error' "$T/run.log"; then fail "errors in the log: $(grep level=error "$T/run.log")"; fi
pass "no errors logged"
