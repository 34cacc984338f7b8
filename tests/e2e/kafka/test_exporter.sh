#!/usr/bin/env bash
# Real Go profiles -> file receiver -> kafka exporter -> 3 mock brokers;
# kcat (the independent client) reads the topic back: every value is the
# input file byte for byte and opens in `go tool pprof` with the same
# totals, the headers carry the series labels and window, and every
# message of one series has the same key and partition. Then `profpipe
# validate` on bad kafka options reports every one with file:line:col.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/kafka/kafka_lib.sh"

start_mock profiles:4
go_profiles "$T/in"
n_in=$(ls "$T/in"/*.pb.gz | wc -l)

cat >"$T/agent.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
    service_name: checkout
    labels: {env: test, region: eu-west}
exporters:
  kafka:
    brokers: [${BOOTSTRAP//,/, }]
    topic: profiles
    timeout: 10s
service:
  telemetry: {address: ""}
  pipelines:
    profiles:
      receivers: [file]
      exporters: [kafka]
YAML
start_profpipe agent "$T/agent.yaml"
wait_for 30 topic_has profiles "$n_in" ||
  fail "only $(kcat_count profiles) of $n_in messages arrived; log: $(tail -5 "$T/agent.log")"
stop_profpipe "$PROFPIPE_PID"
kcat_meta profiles >"$T/meta.tsv"
[ "$(wc -l <"$T/meta.tsv")" = "$n_in" ] || fail "expected $n_in messages: $(cat "$T/meta.tsv")"

declare -A key_partition
while IFS=$'\t' read -r part off key headers size; do
  kcat_value profiles "$part" "$off" "$T/msg-$part-$off.pb.gz"
  value="$T/msg-$part-$off.pb.gz"
  [ "$(stat -c %s "$value")" = "$size" ] || fail "value $part/$off: size differs from kcat's"
  src=""
  for f in "$T/in"/*.pb.gz; do cmp -s "$f" "$value" && src=$f; done
  [ -n "$src" ] || fail "value $part/$off is not one of the input files byte for byte"
  for col in 1 2; do
    want=$(pprof_total "$src" "$col"); got=$(pprof_total "$value" "$col")
    [ "$want" = "$got" ] || fail "$src column $col: total $want, from kafka $got"
  done
  [ "$(header_value "$headers" profpipe.label.service_name)" = checkout ] ||
    fail "$part/$off: service_name header missing: $headers"
  [ "$(header_value "$headers" profpipe.label.env)" = test ] || fail "$part/$off: env: $headers"
  [ "$(header_value "$headers" profpipe.label.region)" = eu-west ] || fail "$part/$off: region"
  name=$(header_value "$headers" profpipe.label.__name__)
  [ -n "$name" ] && [ "$(header_value "$headers" profpipe.profile_type)" = "$name" ] ||
    fail "$part/$off: __name__/profile_type headers: $headers"
  from=$(header_value "$headers" profpipe.from); until=$(header_value "$headers" profpipe.until)
  [[ "$from" =~ ^[0-9]{19}$ && "$until" =~ ^[0-9]{19}$ && "$until" -ge "$from" ]] ||
    fail "$part/$off: window headers from=$from until=$until"
  [ "$(header_value "$headers" profpipe.encoding)" = pprof ] || fail "$part/$off: encoding"
  [[ "$key" =~ ^[0-9a-f]{16}$ ]] || fail "$part/$off: key $key is not a fingerprint"
  if [ -n "${key_partition[$key]:-}" ] && [ "${key_partition[$key]}" != "$part" ]; then
    fail "series $key on partitions ${key_partition[$key]} and $part"
  fi
  key_partition[$key]=$part
  pass "$(basename "$src") -> partition $part offset $off, __name__=$name, key $key"
done <"$T/meta.tsv"

# Several profiles per series (heap and allocs are both `memory`): one key each.
series=$(cut -f3 "$T/meta.tsv" | sort -u | wc -l)
[ "$series" -lt "$n_in" ] || fail "expected some series with more than one profile"
pass "$n_in profiles in $series series, each series on one partition"

# Bad options: `profpipe validate` names every one, with file:line:col.
cat >"$T/bad.yaml" <<YAML
receivers:
  kafka:
    brokers: [127.0.0.1:9]
    initial_offset: middle
    consumer: {bogus.prop: x}
exporters:
  kafka:
    brokers: [127.0.0.1:9]
    compression: brotli
    key: series
    producer: {no.such: "1"}
service:
  pipelines:
    profiles: {receivers: [kafka], exporters: [kafka]}
YAML
! "$PROFPIPE" validate -c "$T/bad.yaml" >"$T/bad.out" 2>&1 || fail "bad options validated"
for want in "bad.yaml:4:[0-9]*: receivers.kafka: initial_offset: must be earliest or latest, not \"middle\"" \
  "bad.yaml:5:[0-9]*: receivers.kafka: consumer.bogus.prop: No such configuration property" \
  "bad.yaml:9:[0-9]*: exporters.kafka: compression: must be none, gzip, snappy, lz4 or zstd, not \"brotli\"" \
  "bad.yaml:10:[0-9]*: exporters.kafka: key: \"series\"" \
  "bad.yaml:11:[0-9]*: exporters.kafka: producer.no.such: No such configuration property"; do
  grep -q "$want" "$T/bad.out" || fail "validate did not report /$want/: $(cat "$T/bad.out")"
done
pass "validate names every bad kafka option with its file:line:col"
