# Helpers for the pyroscope end-to-end tests; sourced after lib.sh.

PYRO_DIR="$SOURCE_DIR/tests/e2e/pyroscope"

# Builds the recording server (recorder/main.go) into $T/recorder.
build_recorder() {
  go_build "$T/recorder" "$PYRO_DIR/recorder" || fail "cannot build the recorder"
}

# start_recorder PORT LOG [flags...]: a stand-in Pyroscope on 127.0.0.1:PORT.
start_recorder() {
  local port=$1 log=$2; shift 2
  : >"$log"
  bg "$T/recorder" -addr "127.0.0.1:$port" -log "$log" "$@"
  local pid=${PIDS[${#PIDS[@]}-1]}
  wait_for 10 listens "$port" "$pid" ||
    fail "recorder did not listen on $port: $(ss -Htlnp "sport = :$port")"
}

# listens PORT PID: PID itself listens on PORT (not another test's process
# that took the port first).
listens() { ss -Htlnp "sport = :$1" | grep "pid=$2," >/dev/null; }

# free_port, skipping ports any socket holds (not only listeners): with
# many tests on one machine, a client's ephemeral port or a TIME_WAIT one
# in free_port's range cannot be bound either.
unused_port() {
  local p
  for _ in $(seq 1 20); do
    p=$(free_port) || return 1
    if ! ss -Htan "sport = :$p" | grep . >/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# start_listening NAME WRITE_CONFIG: starts profpipe NAME with the config
# `WRITE_CONFIG PORT` prints, its receiver on a fresh port, and waits until
# it listens there. A port free_port chose can still be taken by another
# test before profpipe binds it: then it tries another (3 tries); a port
# an earlier start_listening of this test took is never chosen again. Sets
# LISTEN_PORT and PROFPIPE_PID.
USED_PORTS=()
start_listening() {
  local name=$1 write=$2 try port
  for try in 1 2 3; do
    port=$(unused_port) || fail "no free port"
    [[ " ${USED_PORTS[*]} " != *" $port "* ]] || continue
    USED_PORTS+=("$port")
    "$write" "$port" >"$T/$name.yaml"
    start_profpipe "$name" "$T/$name.yaml"
    LISTEN_PORT=$port
    wait_for 30 listening_or_dead "$T/$name.log" "$port" "$PROFPIPE_PID" ||
      fail "$name did not listen on $port within 30s: $(tail -5 "$T/$name.log")"
    logged "$T/$name.log" "listening on 127.0.0.1:$port" && return 0
    logged "$T/$name.log" "cannot listen" ||
      fail "$name exited before listening: $(tail -5 "$T/$name.log")"
    wait "$PROFPIPE_PID" 2>/dev/null || true
  done
  fail "$name: no port to listen on after $try tries: $(tail -3 "$T/$name.log")"
}

listening_or_dead() {
  logged "$1" "listening on 127.0.0.1:$2" || ! kill -0 "$3" 2>/dev/null
}

# logged LOG TEXT: LOG has a line containing TEXT (fixed string).
logged() { grep -qF -- "$2" "$1" 2>/dev/null; }

# Lines of FILE matching an extended regex (0 when none).
count_lines() { grep -cE "$2" "$1" 2>/dev/null || true; }

# The Node SDK program's packages; scripts/test.sh installs them, this
# covers a ctest run without it (npm reaches its registry or fails).
node_ready() {
  [ -d "$PYRO_DIR/node/node_modules/@pyroscope/nodejs" ] && return 0
  (cd "$PYRO_DIR/node" && timeout 120 npm install --no-audit --no-fund --loglevel=error >/dev/null)
}

# metric_value PORT NAME_AND_LABELS_REGEX: sum of the matching samples of
# profpipe's /metrics on 127.0.0.1:PORT.
metric_value() {
  curl -fsS "http://127.0.0.1:$1/metrics" |
    awk -v re="$2" '$0 !~ /^#/ && $1 ~ re { s += $NF } END { print s + 0 }'
}

# go tool pprof -raw without the lines that name the file.
pprof_body() { go tool pprof -raw "$1" 2>/dev/null | grep -v '^Profile\|^Duration\|^Time:' ; }

# Real Go profiles (one of each runtime type) into DIR.
go_profiles_into() {
  go_build "$T/profgen" "$SOURCE_DIR/tests/e2e/go/profgen" || fail "cannot build profgen"
  timeout 30 "$T/profgen" "$1" >/dev/null || fail "profgen failed"
}

# file_sink_config PORT DIR [RECEIVER_OPTIONS]: a config of one pyroscope
# receiver on 127.0.0.1:PORT (plus options, one YAML line each) writing to
# a file exporter in DIR, for start_listening.
file_sink_config() {
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
$(printf '%s\n' "${@:3}" | sed '/^$/d; s/^/    /')
exporters:
  file:
    directory: $2
service:
  telemetry: {address: ""}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [file]
YAML
}

# ingest_client PORT MAX: a steady client (run it in the background): one
# /ingest request at a time, each $T/in/cpu.pb.gz labelled with its own
# seq, "seq status" per request appended to $T/answers (000: refused or
# cut), until $T/stop exists or MAX requests were sent.
ingest_client() {
  local port=$1 max=$2 seq=0 code now
  while [ ! -e "$T/stop" ] && [ $seq -lt "$max" ]; do
    seq=$((seq + 1))
    now=$(date +%s)
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
      --data-binary @"$T/in/cpu.pb.gz" -H 'Content-Type: application/octet-stream' \
      "http://127.0.0.1:$port/ingest?name=app%7Bseq%3D$seq%7D&from=$((now - 10))&until=$now&format=pprof") || true
    echo "$seq $code" >> "$T/answers"
  done
}

# start_ingest_client PORT MAX: ingest_client in the background (its pid
# in CLIENT, killed at exit), once it has its first answer.
start_ingest_client() {
  ingest_client "$1" "$2" & CLIENT=$!
  PIDS+=("$CLIENT")
  wait_for 30 test -s "$T/answers" || fail "the client got no answer"
}

# more_answers N WHAT: waits for N more answers than now, failing with
# "no answers WHAT", then stops the client.
more_answers() {
  local want=$(($(wc -l < "$T/answers") + $1))
  answered() { [ "$(wc -l < "$T/answers")" -ge "$want" ]; }
  wait_for 60 answered || fail "the client got no answers $2"
  touch "$T/stop"
  wait "$CLIENT"
}

# answered_once INDEX: every answer in $T/answers is 200, 429 or 503
# (none refused at the TCP level), and the seqs answered 200 are those in
# the file exporter's INDEX (index.jsonl), each exactly once. Sets OKS to
# their number.
answered_once() {
  local bad dups
  bad=$(awk '$2 != 200 && $2 != 429 && $2 != 503' "$T/answers" | sed -n 1,3p)
  [ -z "$bad" ] || fail "answers other than 200/429/503 (000: refused or cut): $bad"
  awk '$2 == 200 {print $1}' "$T/answers" | sort -n > "$T/ok"
  OKS=$(wc -l < "$T/ok")
  [ "$OKS" -gt 0 ] || fail "no request answered 200"
  grep -o '"seq":"[0-9]*"' "$1" | cut -d'"' -f4 | sort -n > "$T/written"
  dups=$(uniq -d "$T/written" | sed -n 1,3p)
  [ -z "$dups" ] || fail "written more than once: seq $dups"
  diff -q "$T/ok" "$T/written" > /dev/null ||
    fail "200'd and written differ: $(diff "$T/ok" "$T/written" | sed -n 1,5p)"
}
