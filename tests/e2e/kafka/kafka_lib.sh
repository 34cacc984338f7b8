# Helpers for the kafka e2e tests: a mock cluster (kafka_mock, built from
# kafka_mock.c) kept alive for the whole test, commands to it, and kcat as
# the independent client. Sourced after lib.sh.

KAFKA_MOCK="$BUILD_DIR/tests/e2e/kafka/kafka_mock"
KCAT_TIMEOUT=20

# start_mock TOPIC:PARTITIONS...: starts 3 mock brokers and creates the
# topics; sets BOOTSTRAP and MOCK_PID, and opens fd 7 to send it commands.
start_mock() {
  local args=() t
  for t in "$@"; do args+=(-t "$t"); done
  mkfifo "$T/mock.in"
  exec 7<>"$T/mock.in"
  "$KAFKA_MOCK" -b 3 "${args[@]}" <&7 >"$T/mock.out" 2>"$T/mock.err" &
  MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  wait_for 10 grep -q '^ready' "$T/mock.out" || fail "mock cluster did not start: $(cat "$T/mock.err")"
  BOOTSTRAP=$(awk '$1 == "bootstrap" {print $2}' "$T/mock.out")
  MOCK_REPLIES=2
}

mock_replied() { [ "$(wc -l <"$T/mock.out")" -ge "$MOCK_REPLIES" ]; }

# mock_cmd COMMAND...: sends a command and waits for its `ok` reply.
mock_cmd() {
  echo "$*" >&7
  MOCK_REPLIES=$((MOCK_REPLIES + 1))
  wait_for 10 mock_replied || fail "mock: no reply to $*"
  tail -n 1 "$T/mock.out" | grep '^ok' >/dev/null || fail "mock: $* -> $(tail -n 1 "$T/mock.out")"
}

# kcat_meta TOPIC > FILE: one line per message: partition, offset, key,
# headers, value length (tab-separated), sorted by partition and offset.
kcat_meta() {
  timeout "$KCAT_TIMEOUT" kcat -C -b "$BOOTSTRAP" -t "$1" -e -q \
    -f '%p\t%o\t%k\t%h\t%S\n' | sort -n -k1,1 -k2,2
}

# kcat_value TOPIC PARTITION OFFSET FILE: the message value, byte for byte.
kcat_value() {
  timeout "$KCAT_TIMEOUT" kcat -C -b "$BOOTSTRAP" -t "$1" -p "$2" -o "$3" -c 1 -e -q \
    -f '%s' >"$4"
}

# kcat_count TOPIC: how many messages the topic holds.
kcat_count() { kcat_meta "$1" | wc -l; }

# header_value HEADERS NAME: a header's value from kcat's n=v CSV.
header_value() {
  tr ',' '\n' <<<"$1" | awk -v n="$2" 'index($0, n "=") == 1 { print substr($0, length(n) + 2) }'
}

# go_profiles DIR: real Go profiles from tests/e2e/go/profgen.
go_profiles() {
  go_build "$T/profgen" "$SOURCE_DIR/tests/e2e/go/profgen" || fail "cannot build profgen"
  mkdir -p "$1"
  "$T/profgen" "$1" >/dev/null || fail "profgen failed"
}

# topic_has TOPIC N: the topic holds at least N messages (for wait_for).
topic_has() { [ "$(kcat_count "$1")" -ge "$2" ]; }

# profile_round DIR ROUND: copies the Go profiles as r<ROUND>-<type>.pb.gz
# into DIR (through a temp name, so a reader never sees half a file); the
# file receiver names each one's service r<ROUND>-<type>, so every profile
# the agent sends can be told apart in the gateways' output.
profile_round() {
  local f base
  for f in "$T/go"/*.pb.gz; do
    base=$(basename "$f" .pb.gz)
    cp "$f" "$1/.tmp-$base"
    mv "$1/.tmp-$base" "$1/r$2-$base.pb.gz"
  done
}

# agent_config FILE INPUT_DIR [EXPORTER_EXTRA_YAML]: file receiver polling
# INPUT_DIR -> kafka exporter to topic `profiles`, with short retries.
agent_config() {
  cat >"$1" <<YAML
receivers:
  file:
    include: ["$2/*.pb.gz"]
    poll_interval: 200ms
    min_file_age: 0s
exporters:
  kafka:
    brokers: [${BOOTSTRAP//,/, }]
    topic: profiles
    timeout: 3s
    retry_on_failure: {initial_interval: 500ms, max_interval: 1s, max_elapsed_time: 0s}
${3:-}
service:
  telemetry: {address: "${AGENT_TELEMETRY:-}"}
  pipelines:
    profiles:
      receivers: [file]
      exporters: [kafka]
YAML
}

# gateway_config FILE OUT_DIR [RECEIVER_EXTRA_YAML [EXPORTER_EXTRA_YAML]]:
# kafka receiver in group `gateways` -> file exporter writing OUT_DIR.
gateway_config() {
  cat >"$1" <<YAML
receivers:
  kafka:
    brokers: [${BOOTSTRAP//,/, }]
    topics: [profiles]
    group_id: gateways
    initial_offset: earliest
    consumer:
      session.timeout.ms: "6000"
      heartbeat.interval.ms: "500"
      max.poll.interval.ms: "10000"
${3:-}
exporters:
  file:
    directory: $2
${4:-}
service:
  telemetry: {address: ""}
  pipelines:
    profiles:
      receivers: [kafka]
      exporters: [file]
YAML
}

# services_in OUT_DIR...: the service_name of every profile the file
# exporters listed, one per line (repeated for duplicates).
services_in() {
  local d
  for d in "$@"; do
    [ -f "$d/index.jsonl" ] && jq -r '.labels.service_name' "$d/index.jsonl"
  done
  return 0
}

# all_arrived N OUT_DIR...: N distinct profiles are in the outputs.
all_arrived() { local n=$1; shift; [ "$(services_in "$@" | sort -u | wc -l)" -ge "$n" ]; }

# in_flight_at_revoke LOG...: messages the gateways left to the next owner
# on a rebalance (the only place duplicates may come from).
in_flight_at_revoke() {
  cat "$@" | sed -n 's/.*revoked.*: \([0-9]*\) message(s) in flight or not committed.*/\1/p' |
    awk '{ s += $1 } END { print s + 0 }'
}

# metric URL NAME: the value of a metric (summed over its label sets).
metric() {
  curl -fsS "http://$1/metrics" | awk -v n="$2" '$1 ~ "(^|_)" n "($|{)" { s += $NF } END { print s + 0 }'
}

# metric_above URL NAME N: the metric is above N (for wait_for).
metric_above() { [ "$(metric "$1" "$2")" -gt "$3" ]; }
