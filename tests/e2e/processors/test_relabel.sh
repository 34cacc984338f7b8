#!/usr/bin/env bash
# relabel in the real binary:
#  - series rules (replace with groups, labelmap + labeldrop, hashmod,
#    drop by __name__) on every Go runtime profile type: the index holds
#    exactly the labels Prometheus' semantics give, dropped types are
#    gone, and each payload is byte-identical to its input (series
#    relabelling never decodes);
#  - sample_labels labeldrop of span_id/trace_id on a pprof.Do-labelled
#    CPU profile: the ids are gone, samples merged, every per-span-name
#    total and the profile total equal the input's; rules that change no
#    sample leave the payload byte for byte;
#  - `profpipe validate` names rules[i].regex and the position of a bad
#    regex.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/processors/processors_lib.sh"

go_profiles "$T/in"
go_build "$T/spanapp" "$SOURCE_DIR/tests/e2e/processors/spanapp"
timeout 30 "$T/spanapp" "$T/spans" 1 || fail "spanapp failed"
SPANS="$T/spans/spanapp.cpu.pb.gz"
telemetry_port
cat > "$T/config.yaml" <<YAML
receivers:
  file/go:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
    labels: {meta_region: eu-west, meta_zone: b}
  file/spans:
    include: ["$SPANS"]
    min_file_age: 0s
processors:
  relabel/series:
    rules:
      - source_labels: [__name__]
        regex: goroutines|threadcreate
        action: drop
      - source_labels: [service_name]
        regex: '(\w+?)app'
        target_label: team
        replacement: '\${1}-team'
      - regex: 'meta_(.+)'
        action: labelmap
      - regex: 'meta_.*'
        action: labeldrop
      - source_labels: [service_name]
        modulus: 4
        target_label: shard
        action: hashmod
  relabel/samples:
    sample_labels:
      - regex: span_id|trace_id
        action: labeldrop
  relabel/noop:
    sample_labels:
      - regex: no_such_label
        action: labeldrop
exporters:
  file/series: {directory: $T/series}
  file/samples: {directory: $T/samples}
  file/noop: {directory: $T/noop}
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles/series: {receivers: [file/go], processors: [relabel/series], exporters: [file/series]}
    profiles/samples: {receivers: [file/spans], processors: [relabel/samples], exporters: [file/samples]}
    profiles/noop: {receivers: [file/spans], processors: [relabel/noop], exporters: [file/noop]}
YAML

start_profpipe run "$T/config.yaml"
wait_index "$T/series" 5 30
wait_index "$T/samples" 1 30
wait_index "$T/noop" 1 30
# all 7 inputs went through relabel/series, 5 came out and all 5 reached
# the exporter: no further line can come, so the count below is final
wait_metric 30 profpipe_processor_incoming_profiles_total relabel/series 7
wait_metric 30 profpipe_processor_outgoing_profiles_total relabel/series 5
wait_metric 30 profpipe_exporter_sent_profiles_total file/series 5
[ "$(metric profpipe_relabel_dropped_profiles_total relabel/series)" = 2 ] ||
  fail "relabel_dropped_profiles_total is not 2 (goroutine, threadcreate)"
stop_profpipe "$PROFPIPE_PID"
for d in series samples; do indexcheck "$T/$d" > "$T/$d.summary" || fail "$d: index does not match"; done

# --- series labels ---
[ "$(index_lines "$T/series")" = 5 ] || fail "want 5 profiles (goroutine, threadcreate dropped)"
# md5("goapp") last 8 bytes mod 4 = 0 (computed with Python's hashlib)
want_labels() { echo "__name__=$1,region=eu-west,service_name=goapp,shard=0,team=go-team,zone=b"; }
: > "$T/want"; : > "$T/got"
for fam in process_cpu memory memory block mutex; do want_labels $fam >> "$T/want"; done
cut -f2 "$T/series.summary" >> "$T/got"
sort -o "$T/want" "$T/want"; sort -o "$T/got" "$T/got"
diff -u "$T/want" "$T/got" || fail "series labels differ from the Prometheus semantics"
for type in cpu heap allocs block mutex; do
  in="$T/in/goapp.$type.pb.gz"
  match=$(cd "$T/series" && find . -name '*.pb.gz' -exec cmp -s "$in" {} \; -print | sed -n 1p)
  [ -n "$match" ] || fail "$type: no output is byte-identical to the input (was it decoded?)"
done
pass "series rules: labels as Prometheus defines them, 2 types dropped, payloads untouched"

# --- sample labels ---
OUT="$T/samples/$(cut -f1 "$T/samples.summary")"
for key in span_id trace_id; do
  left=$(raw_label_totals "$OUT" 2 "$key" | grep -vc '^-' || true)
  [ "$left" = 0 ] || fail "$key still on $left sample label values"
done
for col in 1 2; do
  raw_label_totals "$SPANS" "$col" span_name > "$T/want"
  raw_label_totals "$OUT" "$col" span_name > "$T/got"
  diff -u "$T/want" "$T/got" || fail "per-span-name totals (column $col) changed"
done
# samples equal but for their ids must have become one each
n_in=$(raw_samples "$SPANS" | wc -l); n_out=$(raw_samples "$OUT" | wc -l)
n_want=$(raw_samples "$SPANS" | sed -E 's/^[^|]*\| //; s/(span|trace)_id:\[[^]]*\] ?//g; s/ +$//' | sort -u | wc -l)
[ "$n_out" = "$n_want" ] || fail "$n_out samples left of $n_in, want $n_want (equal ones merged)"
pass "sample_labels labeldrop: ids gone, $n_in samples merged into $n_out, totals equal"
cmp -s "$SPANS" "$(find "$T/noop" -name '*.pb.gz' | sed -n 1p)" ||
  fail "sample rules that change nothing still re-encoded the payload"
pass "sample rules that change nothing leave the payload byte for byte"

# --- a bad regex is a config error with its place ---
cat > "$T/bad.yaml" <<YAML
receivers:
  file: {include: ["$T/in/*.pb.gz"]}
processors:
  relabel:
    rules:
      - {source_labels: [a], target_label: b}
      - {source_labels: [a], regex: 'ab(c', target_label: b}
exporters:
  file: {directory: $T/bad}
service:
  pipelines:
    profiles: {receivers: [file], processors: [relabel], exporters: [file]}
YAML
rc=0; "$PROFPIPE" validate -c "$T/bad.yaml" > "$T/validate.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "validate exited $rc, want 2: $(cat "$T/validate.out")"
grep -q 'bad.yaml:7:.*relabel.*rules\[1\]\.regex.*position 4' "$T/validate.out" ||
  fail "validate output lacks file:line, rules[1].regex or the position: $(cat "$T/validate.out")"
pass "a bad regex is reported with file:line, rules[1].regex and its position"

if grep -q 'level=error' "$T/run.log"; then fail "errors in the log: $(grep level=error "$T/run.log")"; fi
pass "no errors logged"
