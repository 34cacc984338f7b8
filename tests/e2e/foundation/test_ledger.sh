#!/usr/bin/env bash
# The accounting ledger over a real run: the file receiver feeds two
# pipelines. profiles/a drops goroutine profiles in relabel and fans out to
# a file exporter that writes and one that cannot (its folder sits under a
# regular file; no retry), profiles/b goes to the writing one only. Once
# every file is read and in flight is 0, /metrics must show, per pipeline,
#   in × fan_out = Σ out (every exporter, every outcome) + in_flight
# with each outcome's exact count, and the written index must hold exactly
# the profiles the ledger says were exported.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

ROUNDS=3
go_profiles "$T/gen"
mkdir -p "$T/in"
touch "$T/not_a_dir"
telemetry_port
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 100ms
    min_file_age: 0s
processors:
  relabel/no_goroutines:
    rules:
      - source_labels: [__name__]
        regex: goroutines
        action: drop
exporters:
  file/ok:
    directory: $T/ok
  file/broken:
    directory: $T/not_a_dir/x
    retry_on_failure: {enabled: false}
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles/a:
      receivers: [file]
      processors: [relabel/no_goroutines]
      exporters: [file/ok, file/broken]
    profiles/b:
      receivers: [file]
      exporters: [file/ok]
YAML

start_profpipe run "$T/config.yaml"
n=0 goroutines=0
for r in $(seq 1 $ROUNDS); do
  for f in "$T"/gen/goapp.*.pb.gz; do
    type=$(basename "$f" .pb.gz); type=${type#goapp.}
    drop "$f" "$T/in" "goapp.$type.r$r.pb.gz"
    n=$((n + 1))
    [ "$type" = goroutine ] && goroutines=$((goroutines + 1))
  done
done
expect_metric 'profpipe_file_receiver_files_total{component_id="file",result="read"}' $n
expect_metric 'profpipe_ledger_in_flight_profiles{pipeline="profiles/a"}' 0
expect_metric 'profpipe_ledger_in_flight_profiles{pipeline="profiles/b"}' 0
page=$(curl -sf "http://$TELEMETRY/metrics") || fail "no /metrics"

# the identity, per pipeline, from the page alone
identity=$(awk '
  /^profpipe_ledger_in_profiles_total\{/ { match($0, /pipeline="[^"]*"/); p = substr($0, RSTART, RLENGTH); in_[p] += $2 }
  /^profpipe_ledger_out_profiles_total\{/ { match($0, /pipeline="[^"]*"/); p = substr($0, RSTART, RLENGTH); out[p] += $2 }
  /^profpipe_ledger_fan_out\{/ { match($0, /pipeline="[^"]*"/); p = substr($0, RSTART, RLENGTH); fan[p] = $2 }
  /^profpipe_ledger_owed_profiles_total\{/ { match($0, /pipeline="[^"]*"/); p = substr($0, RSTART, RLENGTH); owed[p] = $2 }
  /^profpipe_ledger_in_flight_profiles\{/ { match($0, /pipeline="[^"]*"/); p = substr($0, RSTART, RLENGTH); fl[p] = $2 }
  END { for (p in fan) printf "%s in=%d fan_out=%d out=%d in_flight=%d %s\n", p, in_[p], fan[p], out[p], fl[p],
                               (in_[p] * fan[p] == out[p] + fl[p] && owed[p] == in_[p] * fan[p]) ? "holds" : "BROKEN" }' <<<"$page" | sort)
echo "$identity"
[ "$(grep -c holds <<<"$identity")" = 2 ] || fail "ledger identity: $identity"
grep -q "pipeline=\"profiles/a\" in=$n fan_out=2 out=$((2 * n)) in_flight=0 holds" <<<"$identity" ||
  fail "profiles/a: $identity"
grep -q "pipeline=\"profiles/b\" in=$n fan_out=1 out=$n in_flight=0 holds" <<<"$identity" ||
  fail "profiles/b: $identity"

# each outcome, exactly
kept=$((n - goroutines))
out() { metric_value "profpipe_ledger_out_profiles_total{pipeline=\"$1\",exporter=\"$2\",outcome=\"$3\"}"; }
expect_out() { [ "$(out "$1" "$2" "$3")" = "$4" ] || fail "$1 -> $2 $3 = '$(out "$1" "$2" "$3")', want $4"; }
expect_out profiles/a file/ok exported $kept
expect_out profiles/a file/ok filtered $goroutines
expect_out profiles/a file/ok failed 0
expect_out profiles/a file/broken failed $kept
expect_out profiles/a file/broken filtered $goroutines
expect_out profiles/a file/broken exported 0
expect_out profiles/b file/ok exported $n
for o in rejected dropped merged; do
  expect_out profiles/a file/ok $o 0
  expect_out profiles/a file/broken $o 0
  expect_out profiles/b file/ok $o 0
done
# the ledger agrees with the exporters' own counters
expect_metric 'profpipe_exporter_sent_profiles_total{component_id="file/ok"}' $((kept + n))
expect_metric 'profpipe_exporter_failed_profiles_total{component_id="file/broken"}' $kept

# a reload that takes file/broken out of profiles/a: the fan-out drops to
# 1, the counters go on, and owed (in × fan-out as profiles came in) still
# equals out + in flight
sed -i 's/exporters: \[file\/ok, file\/broken\]/exporters: [file\/ok]/' "$T/config.yaml"
kill -HUP "$PROFPIPE_PID"
expect_metric 'profpipe_config_reloads_total{result="success"}' 1
more=0
for f in "$T"/gen/goapp.*.pb.gz; do
  type=$(basename "$f" .pb.gz); type=${type#goapp.}
  [ "$type" = goroutine ] && continue
  drop "$f" "$T/in" "goapp.$type.after.pb.gz"
  more=$((more + 1))
done
expect_metric 'profpipe_file_receiver_files_total{component_id="file",result="read"}' $((n + more))
expect_metric 'profpipe_ledger_in_flight_profiles{pipeline="profiles/a"}' 0
expect_metric 'profpipe_ledger_in_flight_profiles{pipeline="profiles/b"}' 0
expect_metric 'profpipe_ledger_fan_out{pipeline="profiles/a"}' 1
expect_metric 'profpipe_ledger_owed_profiles_total{pipeline="profiles/a"}' $((2 * n + more))
expect_out profiles/a file/ok exported $((kept + more))
expect_out profiles/a file/broken failed $kept
sum_out=$(curl -sf "http://$TELEMETRY/metrics" |
  awk '/^profpipe_ledger_out_profiles_total\{pipeline="profiles\/a"/ { s += $2 } END { print s }')
[ "$sum_out" = $((2 * n + more)) ] || fail "profiles/a after the reload: out $sum_out, owed $((2 * n + more))"
kept=$((kept + more))

# and with what was written: every exported profile is in the index, by type
stop_profpipe "$PROFPIPE_PID"
[ "$(index_lines "$T/ok")" = $((kept + n + more)) ] || fail "index has $(index_lines "$T/ok") lines, want $((kept + n + more))"
# goroutine profiles only by profiles/b; every other family twice per file
# (the files dropped after the reload too: once by each pipeline)
got=$(grep -c '"__name__":"goroutines"' "$T/ok/index.jsonl" || true)
[ "$got" = "$goroutines" ] || fail "index: $got goroutine profiles, want $goroutines"
others=$(grep -v '"__name__":"goroutines"' "$T/ok/index.jsonl" | grep -o '"__name__":"[^"]*"' | sort | uniq -c)
awk -v r=$((ROUNDS + 1)) '$1 % (2 * r) != 0 { bad = 1 } END { exit bad }' <<<"$others" ||
  fail "index families not twice per file: $others"
while read -r path; do
  [ -s "$T/ok/$path" ] || fail "index lists $path, not written"
done < <(grep -o '"path":"[^"]*"' "$T/ok/index.jsonl" | cut -d'"' -f4)
grep -v '"service_name":"goapp"' "$T/ok/index.jsonl" | grep . >/dev/null && fail "index holds a profile of another service"
pass "ledger: $n in per pipeline, $more more after a reload to fan-out 1; a: $kept exported + $goroutines filtered per edge, file/broken $kept failed; b: $n exported; index $((kept + n)) lines"
