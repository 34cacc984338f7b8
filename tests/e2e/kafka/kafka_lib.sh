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

# mock_cmd COMMAND...: sends a command and waits for its `ok` reply.
mock_cmd() {
  echo "$*" >&7
  MOCK_REPLIES=$((MOCK_REPLIES + 1))
  wait_for 10 test "$(wc -l <"$T/mock.out")" -ge "$MOCK_REPLIES" || fail "mock: no reply to $*"
  tail -n 1 "$T/mock.out" | grep -q '^ok' || fail "mock: $* -> $(tail -n 1 "$T/mock.out")"
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
