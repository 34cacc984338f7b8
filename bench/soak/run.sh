#!/usr/bin/env bash
# A chaos soak of one profpipe (see bench/soak/README.md for what runs,
# what is checked, the environment variables and the figures of a 1-hour
# run).
#
# usage: bench/soak/run.sh DURATION [BUILD_DIR]
#        DURATION: 90s, 3m, 1h, 24h or plain seconds; BUILD_DIR default build
# Exits 0 when every check holds, 1 when one fails, 2 on a setup error.
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 DURATION [BUILD_DIR]" >&2; exit 2; }
BUILD_DIR=$(cd "${2:-$SOURCE_DIR/build}" && pwd)
PROFPIPE=$BUILD_DIR/profpipe
KAFKA_MOCK=$BUILD_DIR/tests/e2e/kafka/kafka_mock
for f in "$PROFPIPE" "$KAFKA_MOCK"; do
  [ -x "$f" ] || { echo "no $f: build profpipe with tests first (scripts/setup.sh test)" >&2; exit 2; }
done

seconds() { # 90, 90s, 3m, 1h, 1h30m -> seconds
  local s=$1 total=0 n
  [[ $s =~ ^[0-9]+$ ]] && { echo "$s"; return 0; }
  [[ $s =~ ^([0-9]+[hms])+$ ]] || return 1
  while [[ $s =~ ^([0-9]+)([hms])(.*)$ ]]; do
    n=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[2]} in h) n=$((n * 3600)) ;; m) n=$((n * 60)) ;; esac
    total=$((total + n)) s=${BASH_REMATCH[3]}
  done
  echo "$total"
}
DURATION=$(seconds "$1") || { echo "bad DURATION '$1' (90s, 3m, 1h, 24h)" >&2; exit 2; }

# the knobs (bench/soak/README.md)
TARGETS=${SOAK_TARGETS:-50}
SCRAPE_INTERVAL=${SOAK_SCRAPE_INTERVAL:-15}
CPU_SECONDS=${SOAK_CPU_SECONDS:-5}
PUSH_INTERVAL=${SOAK_PUSH_INTERVAL:-20}
RELAY_INTERVAL=${SOAK_RELAY_INTERVAL:-30}
RELOAD_INTERVAL=${SOAK_RELOAD_INTERVAL:-45}
RECORDER_UP=${SOAK_RECORDER_UP:-240}
RECORDER_DOWN=${SOAK_RECORDER_DOWN:-120}
KILL_EVERY=${SOAK_KILL_EVERY:-2}
SAMPLE_INTERVAL=${SOAK_SAMPLE_INTERVAL:-10}
WARMUP=${SOAK_WARMUP:-180}
UI_RETENTION=${SOAK_UI_RETENTION:-2m}
FLAT_MIN_SPAN=${SOAK_FLAT_MIN_SPAN:-1800}
RSS_TOL_KIB=${SOAK_RSS_TOL_KIB:-4096}
FDS_TOL=${SOAK_FDS_TOL:-8}
THREADS_TOL=${SOAK_THREADS_TOL:-2}
DRAIN_TIMEOUT=${SOAK_DRAIN_TIMEOUT:-300}
LOG_LINES=${SOAK_LOG_LINES:-20000}

export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD_DIR/gocache"
W=${SOAK_DIR:-}
if [ -n "$W" ]; then mkdir -p "$W"; else W=$(mktemp -d "${TMPDIR:-/tmp}/profpipe-soak.XXXXXX"); fi
W=$(cd "$W" && pwd)
mkdir -p "$W/logs" "$W/spool" "$W/sdk" "$W/relay" "$W/lives"
HELPERS=()  # pids of the harness' long-lived processes and loops
P_PID=""
cleanup() {
  local pid
  for pid in $P_PID ${A_PID:-} ${REC_PID:-} "${HELPERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in $P_PID ${A_PID:-} ${REC_PID:-} "${HELPERS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${SOAK_DIR:-}" ] || [ "${SOAK_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
say() { printf '%s soak: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { say "setup failed: $*" >&2; exit 2; }

# --- building the harness' programs -------------------------------------
go_build() { (cd "$2" && go build -o "$1" .); }
go_build "$W/targets" "$SOURCE_DIR/bench/soak/targets" || die "cannot build bench/soak/targets"
go_build "$W/recorder" "$SOURCE_DIR/tests/e2e/pyroscope/recorder" || die "cannot build the recorder"
go_build "$W/gosdk" "$SOURCE_DIR/tests/e2e/pyroscope/gosdk" || die "cannot build gosdk"

# --- ports ----------------------------------------------------------------
port_free() { ! ss -Htan "( sport = :$1 or dport = :$1 )" | grep . >/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((10000 + RANDOM % 22000))
    port_free "$p" && [[ " ${TAKEN:-} " != *" $p "* ]] && { TAKEN="${TAKEN:-} $p"; echo "$p"; return 0; }
  done
  return 1
}
free_base() { # n consecutive free ports
  local base p
  for _ in $(seq 1 50); do
    base=$((20000 + RANDOM % (12000 - $1)))
    p=$(ss -Htan | awk -v lo="$base" -v hi=$((base + $1)) '{n = split($4, a, ":"); if (a[n] >= lo && a[n] < hi) print}' | wc -l)
    [ "$p" = 0 ] && { echo "$base"; return 0; }
  done
  return 1
}
TBASE=$(free_base "$TARGETS") || die "no $TARGETS free consecutive ports"
for i in $(seq 0 $((TARGETS - 1))); do TAKEN="${TAKEN:-} $((TBASE + i))"; done
P_PORT=$(free_port) && P_TEL=$(free_port) && A_PORT=$(free_port) && A_TEL=$(free_port) &&
  REC_PORT=$(free_port) || die "no free ports"

wait_until() { # seconds command...
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
listens() { ss -Htln "sport = :$1" | grep . >/dev/null; }

# bounded logs: each stream goes to FILE, and after LOG_LINES lines FILE
# becomes FILE.1 (the one before is removed)
rotate() { awk -v f="$1" -v max="$LOG_LINES" '{ print > f; fflush(f); if (++n >= max) { close(f); system("mv -f \"" f "\" \"" f ".1\""); n = 0 } }'; }

# --- the peers -------------------------------------------------------------
"$W/targets" -port "$TBASE" -n "$TARGETS" > >(rotate "$W/logs/targets.log") 2>&1 &
TARGETS_PID=$!
HELPERS+=("$TARGETS_PID")
wait_until 30 listens $((TBASE + TARGETS - 1)) || die "targets did not listen"

mkfifo "$W/mock.in"
exec 7<>"$W/mock.in"
"$KAFKA_MOCK" -b 3 -t profiles:4 <&7 >"$W/mock.out" 2> >(rotate "$W/logs/mock.log") &
MOCK_PID=$!
HELPERS+=("$MOCK_PID")
wait_until 30 grep -q '^ready' "$W/mock.out" || die "mock cluster did not start"
BOOTSTRAP=$(awk '$1 == "bootstrap" {print $2}' "$W/mock.out")

# the recorder: each time it is up it logs to its own segment; when it
# goes down the segment's 200'd profiles are folded into received.keys
# (gzip'd, one line per profile: the sha of its pprof and its labels) and
# the segment is removed
REC_PID="" REC_SEG=0 REC_UP_SINCE=0
: >"$W/received.keys.gz"
: >"$W/rec.counts"
recorder_up() {
  REC_SEG=$((REC_SEG + 1))
  "$W/recorder" -addr "127.0.0.1:$REC_PORT" -log "$W/rec.$REC_SEG.log" \
    > >(rotate "$W/logs/recorder.log") 2>&1 &
  REC_PID=$!
  wait_until 30 listens "$REC_PORT" || die "recorder did not listen on $REC_PORT"
  REC_UP_SINCE=$(date +%s)
  RECORDER_STATE=up
}
fold_segment() { # segment number
  local f="$W/rec.$1.log"
  [ -f "$f" ] || return 0
  awk '$1 == "profile" && $3 == "status=200" {
         l = ""; s = ""
         for (i = 4; i <= NF; i++) { if ($i ~ /^labels=/) l = $i; if ($i ~ /^sha=/) s = $i }
         print s, l }
       $1 == "req" { reqs++ } $1 == "error" { errs++ }
       END { printf "%d %d\n", reqs, errs > "/dev/stderr" }' "$f" 2>>"$W/rec.counts" | gzip -1 >>"$W/received.keys.gz"
  rm -f "$f"
}
recorder_down() {
  kill -KILL "$REC_PID" 2>/dev/null || true
  wait "$REC_PID" 2>/dev/null || true
  REC_PID=""
  fold_segment "$REC_SEG"
  RECORDER_STATE=down
}

# --- the configs -----------------------------------------------------------
# variant 0 and 1 differ in the relabel processor (a reload then replaces
# it and re-wires the pipeline); `broken` is refused and the running
# config must go on
write_config() { # variant file
  local v=$1 i
  {
    echo "receivers:"
    echo "  pprof_scrape/soak:"
    echo "    scrape_interval: ${SCRAPE_INTERVAL}s"
    echo "    scrape_timeout: $((SCRAPE_INTERVAL < 10 ? SCRAPE_INTERVAL : 10))s"
    echo "    targets:"
    for i in $(seq 0 $((TARGETS - 1))); do echo "      - 127.0.0.1:$((TBASE + i))"; done
    echo "    profiling_config:"
    echo "      profile.process_cpu: {enabled: false}"
    echo "      profile.block: {enabled: false}"
    echo "      profile.mutex: {enabled: false}"
    echo "  pprof_scrape/cpu:"
    echo "    scrape_interval: ${SCRAPE_INTERVAL}s"
    echo "    delta_profiling_duration: ${CPU_SECONDS}s"
    echo "    targets: [127.0.0.1:$TBASE]"
    echo "    profiling_config:"
    echo "      profile.memory: {enabled: false}"
    echo "      profile.goroutine: {enabled: false}"
    echo "      profile.block: {enabled: false}"
    echo "      profile.mutex: {enabled: false}"
    echo "  pyroscope:"
    echo "    endpoint: 127.0.0.1:$P_PORT"
    echo "  kafka:"
    echo "    brokers: [${BOOTSTRAP//,/, }]"
    echo "    topics: [profiles]"
    echo "    group_id: soak"
    echo "    initial_offset: earliest"
    echo "    consumer:"
    echo "      session.timeout.ms: \"6000\""
    echo "      heartbeat.interval.ms: \"500\""
    echo "processors:"
    echo "  relabel/soak:"
    echo "    rules:"
    echo "      - {target_label: soak_config, replacement: \"v$v\", action: replace}"
    [ "$v" = broken ] && echo "      - {action: no_such_action}"
    echo "exporters:"
    echo "  pyroscope:"
    echo "    endpoint: http://127.0.0.1:$REC_PORT"
    echo "    timeout: 10s"
    echo "    retry_on_failure: {initial_interval: 1s, max_interval: 10s, max_elapsed_time: 0s}"
    echo "    sending_queue: {storage: $W/spool, queue_size: 256MiB}"
    echo "service:"
    echo "  telemetry: {address: \"127.0.0.1:$P_TEL\"}"
    echo "  ui: {retention: $UI_RETENTION}"
    echo "  pipelines:"
    echo "    profiles/scrape:"
    echo "      receivers: [pprof_scrape/soak, pprof_scrape/cpu]"
    echo "      processors: [relabel/soak]"
    echo "      exporters: [pyroscope]"
    echo "    profiles/push:"
    echo "      receivers: [pyroscope, kafka]"
    echo "      exporters: [pyroscope]"
  } >"$2.tmp"
  mv "$2.tmp" "$2"
}

cat >"$W/agent.yaml" <<YAML
receivers:
  pyroscope: {endpoint: "127.0.0.1:$A_PORT"}
exporters:
  kafka:
    brokers: [${BOOTSTRAP//,/, }]
    topic: profiles
    timeout: 5s
    retry_on_failure: {initial_interval: 500ms, max_interval: 5s, max_elapsed_time: 0s}
service:
  telemetry: {address: "127.0.0.1:$A_TEL"}
  ui: {retention: $UI_RETENTION}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [kafka]
YAML

metrics() { curl -fsS -m 5 "http://127.0.0.1:$1/metrics"; }

# --- the soaked profpipe: one life per start ------------------------------
LIFE=0 LIFE_START=0 VARIANT=0
start_p() {
  LIFE=$((LIFE + 1))
  "$PROFPIPE" run -c "$W/p.yaml" >/dev/null 2> >(rotate "$W/logs/profpipe.$LIFE.log") &
  P_PID=$!
  LIFE_START=$(date +%s)
  wait_until 60 listens "$P_TEL" || die "profpipe (life $LIFE) did not serve /metrics: $(tail -3 "$W/logs/profpipe.$LIFE.log")"
  # keep the logs of the last 3 lives
  rm -f "$W/logs/profpipe.$((LIFE - 3)).log" "$W/logs/profpipe.$((LIFE - 3)).log.1"
}
# a life's last /metrics page is kept as lives/N.prom (the ledger's
# counters of a killed process are gone with it)
snapshot() { local page; page=$(metrics "$P_TEL") && printf '%s\n' "$page" >"$W/lives/$LIFE.prom"; }

# the ledger identity per pipeline of one page:
#   Σ in × fan_out = owed = Σ out + in_flight
# prints one line per pipeline, ending in holds or BROKEN
identity() { # page file
  awk '
    function p() { match($0, /pipeline="[^"]*"/); return substr($0, RSTART + 10, RLENGTH - 11) }
    /^profpipe_ledger_in_profiles_total\{/ { in_[p()] += $NF }
    /^profpipe_ledger_out_profiles_total\{/ { out[p()] += $NF }
    /^profpipe_ledger_fan_out\{/ { fan[p()] = $NF }
    /^profpipe_ledger_owed_profiles_total\{/ { owed[p()] = $NF }
    /^profpipe_ledger_in_flight_profiles\{/ { fl[p()] = $NF }
    END { for (q in fan) printf "%s in=%d fan_out=%d owed=%d out=%d in_flight=%d %s\n", q, in_[q], fan[q], owed[q], out[q], fl[q],
            (owed[q] == out[q] + fl[q] && (q ~ /^spool\// || in_[q] * fan[q] == owed[q])) ? "holds" : "BROKEN" }' "$1" | sort
}
# a ledger counter summed over the page: ledger_sum FILE REGEX
ledger_sum() { awk -v re="$2" '$0 ~ re { s += $NF } END { printf "%d", s }' "$1"; }
in_flight_total() { local f="$W/now.prom"; metrics "$P_TEL" >"$f" && ledger_sum "$f" '^profpipe_ledger_in_flight_profiles\\{'; }

# --- load loops --------------------------------------------------------------
# gosdk uploads one round of the Go SDK's five profile types per run
# (new session id, so every profile is distinct); each loop keeps its
# counts in a file it rewrites
push_loop() { # name url interval outdir
  local ok=0 bad=0 child=""
  trap 'kill -TERM $child 2>/dev/null; exit 0' TERM
  while :; do
    "$W/gosdk" -server "$2" -app "soak-$1" -out "$4" >/dev/null 2>"$W/logs/$1.last-error" &
    child=$!
    if wait "$child"; then
      ok=$((ok + 1))
    else
      bad=$((bad + 1))
    fi
    echo "$ok $bad" >"$W/$1.counts.tmp" && mv "$W/$1.counts.tmp" "$W/$1.counts"
    sleep "$3" &
    child=$!
    wait "$child" || true
  done
}

# --- samples -----------------------------------------------------------------
# samples: t life process rss_kib fds threads
sample_proc() { # name pid life
  local rss thr fds
  [ -r "/proc/$2/status" ] || return 0
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$2/status" 2>/dev/null) || return 0
  thr=$(awk '/^Threads:/ {print $2}' "/proc/$2/status" 2>/dev/null) || return 0
  fds=$(ls "/proc/$2/fd" 2>/dev/null | wc -l)
  [ -n "$rss" ] && echo "$(date +%s) $3 $1 $rss $fds $thr" >>"$W/samples"
}
SAMPLES_OK=0 SAMPLES_BROKEN=0
sample_all() {
  sample_proc profpipe "$P_PID" "$LIFE"
  sample_proc agent "$A_PID" 0
  sample_proc targets "$TARGETS_PID" 0
  sample_proc kafka_mock "$MOCK_PID" 0
  sample_proc harness $$ 0
  echo "$(date +%s) 0 disk_kib $(du -sk "$W" | cut -f1) 0 0" >>"$W/samples"
  # the identity on a live page: the counters are read one by one while
  # profiles move, so a page may catch one between two of them; counted,
  # not judged (the judged checks are on a still pipeline)
  if snapshot; then
    # what the built-in page keeps (bounded by its retention), in KiB
    echo "$(date +%s) $LIFE page_kib $(awk '/^profpipe_ui_bytes / { printf "%d", $NF / 1024 }' "$W/lives/$LIFE.prom") 0 0" >>"$W/samples"
    if identity "$W/lives/$LIFE.prom" | grep BROKEN >/dev/null; then
      SAMPLES_BROKEN=$((SAMPLES_BROKEN + 1))
    else
      SAMPLES_OK=$((SAMPLES_OK + 1))
    fi
  fi
}

# --- run ---------------------------------------------------------------------
say "work dir $W; $TARGETS targets on 127.0.0.1:$TBASE.., profpipe :$P_PORT (/metrics :$P_TEL), agent :$A_PORT, recorder :$REC_PORT, brokers $BOOTSTRAP"
say "duration ${DURATION}s: scrape every ${SCRAPE_INTERVAL}s, SDK push every ${PUSH_INTERVAL}s, relay push every ${RELAY_INTERVAL}s, reload every ${RELOAD_INTERVAL}s, recorder ${RECORDER_UP}s up / ${RECORDER_DOWN}s down, SIGKILL every ${KILL_EVERY} down phase(s)"
write_config 0 "$W/p.yaml"
recorder_up
"$PROFPIPE" run -c "$W/agent.yaml" >/dev/null 2> >(rotate "$W/logs/agent.log") &
A_PID=$!
wait_until 60 listens "$A_PORT" || die "agent did not listen"
start_p
wait_until 60 listens "$P_PORT" || die "profpipe did not listen on $P_PORT"
push_loop sdk "http://127.0.0.1:$P_PORT" "$PUSH_INTERVAL" "$W/sdk" &
HELPERS+=($!)
push_loop relay "http://127.0.0.1:$A_PORT" "$RELAY_INTERVAL" "$W/relay" &
HELPERS+=($!)

START=$(date +%s)
END=$((START + DURATION))
NEXT_SAMPLE=$START NEXT_RELOAD=$((START + RELOAD_INTERVAL)) PHASE_END=$((START + RECORDER_UP))
RELOADS=0 RELOADS_BROKEN=0 KILLS=0 DOWNS=0 KILL_AT=0 LAST_REPORT=$START
RECORDER_STATE=up
while :; do
  now=$(date +%s)
  [ "$now" -lt "$END" ] || break
  kill -0 "$P_PID" 2>/dev/null || { say "profpipe (life $LIFE) died on its own: $(tail -5 "$W/logs/profpipe.$LIFE.log")"; exit 1; }
  kill -0 "$A_PID" 2>/dev/null || { say "the agent died: $(tail -5 "$W/logs/agent.log")"; exit 1; }
  if [ "$now" -ge "$NEXT_SAMPLE" ]; then
    sample_all
    NEXT_SAMPLE=$((now + SAMPLE_INTERVAL))
  fi
  if [ "$now" -ge "$PHASE_END" ]; then
    if [ "$RECORDER_STATE" = up ]; then
      # the end of an up phase: the queue has long drained since the last
      # outage, the page is full; the steady state, compared over the run
      sample_proc profpipe_steady "$P_PID" 0
      recorder_down
      DOWNS=$((DOWNS + 1))
      PHASE_END=$((now + RECORDER_DOWN))
      # SIGKILL halfway through this down phase: the recorder is down, so
      # no export can finish between the last /metrics read and the kill
      [ "$KILL_EVERY" -gt 0 ] && [ $((DOWNS % KILL_EVERY)) = 0 ] && KILL_AT=$((now + RECORDER_DOWN / 2))
      say "recorder down ($DOWNS)"
    else
      recorder_up
      PHASE_END=$((now + RECORDER_UP))
      say "recorder up"
    fi
  fi
  if [ "$KILL_AT" -gt 0 ] && [ "$now" -ge "$KILL_AT" ]; then
    KILL_AT=0
    snapshot || true
    kill -KILL "$P_PID"
    wait "$P_PID" 2>/dev/null || true
    KILLS=$((KILLS + 1))
    spooled=$(find "$W/spool" -name '*.ppspool' 2>/dev/null | wc -l)
    say "SIGKILL profpipe (life $LIFE, $spooled file(s) in the spool); restarting"
    start_p
  fi
  if [ "$now" -ge "$NEXT_RELOAD" ]; then
    RELOADS=$((RELOADS + 1))
    if [ $((RELOADS % 4)) = 0 ]; then
      # a broken config: refused, the running one goes on; the good one
      # is put back at once (a restart must find it)
      write_config broken "$W/p.yaml"
      before=$(metrics "$P_TEL" | awk '/^profpipe_config_reloads_total\{result="failure"\}/ {print $NF}' || true)
      kill -HUP "$P_PID"
      refused() { [ "$(metrics "$P_TEL" | awk '/^profpipe_config_reloads_total\{result="failure"\}/ {print $NF}')" != "${before:-x}" ]; }
      wait_until 30 refused || say "a broken config's reload was not counted as failed"
      RELOADS_BROKEN=$((RELOADS_BROKEN + 1))
      write_config "$VARIANT" "$W/p.yaml"
    else
      VARIANT=$((1 - VARIANT))
      write_config "$VARIANT" "$W/p.yaml"
      kill -HUP "$P_PID"
    fi
    NEXT_RELOAD=$(($(date +%s) + RELOAD_INTERVAL))
  fi
  if [ $((now - LAST_REPORT)) -ge 600 ]; then
    LAST_REPORT=$now
    say "$(((now - START) / 60)) min: life $LIFE, $KILLS kills, $RELOADS reloads, sdk $(cat "$W/sdk.counts" 2>/dev/null) relay $(cat "$W/relay.counts" 2>/dev/null) (ok failed)"
  fi
  sleep 1
done

# --- drain ---------------------------------------------------------------------
say "load stops; draining"
for pid in "${HELPERS[@]}"; do
  [ "$pid" = "$MOCK_PID" ] && continue
  kill -TERM "$pid" 2>/dev/null || true
done
wait "$TARGETS_PID" 2>/dev/null || true
kill -TERM "$A_PID"
wait "$A_PID" 2>/dev/null || true
[ "$RECORDER_STATE" = up ] || recorder_up
# still: nothing in flight, and the counters unchanged over 5 seconds
still() {
  local a b
  metrics "$P_TEL" >"$W/still.1" || return 1
  [ "$(ledger_sum "$W/still.1" '^profpipe_ledger_in_flight_profiles\\{')" = 0 ] || return 1
  sleep 5
  metrics "$P_TEL" >"$W/still.2" || return 1
  a=$(grep '^profpipe_ledger_' "$W/still.1" | md5sum) b=$(grep '^profpipe_ledger_' "$W/still.2" | md5sum)
  [ "$a" = "$b" ]
}
DRAINED=yes
wait_until "$DRAIN_TIMEOUT" still || DRAINED=no
snapshot || true
kill -TERM "$P_PID"
wait "$P_PID" 2>/dev/null || true
P_PID=""
sleep 1
recorder_down
ELAPSED=$(($(date +%s) - START))

# --- checks --------------------------------------------------------------------
FAILED=0
check() { # verdict-bool name detail
  local v=ok
  if [ "$1" != 1 ]; then v=FAIL FAILED=1; fi
  printf '%-6s %-44s %s\n' "$v" "$2" "$3" >>"$W/summary"
}
info() { printf '%-6s %-44s %s\n' "" "$1" "$2" >>"$W/summary"; }
: >"$W/summary"

final="$W/lives/$LIFE.prom"
ident=$(identity "$final")
broken=$(grep -c BROKEN <<<"$ident" || true)
fl=$(ledger_sum "$final" '^profpipe_ledger_in_flight_profiles\\{')
check "$([ "$DRAINED" = yes ] && echo 1)" "drained (in flight 0, counters still)" "in_flight=$fl after the load stopped"
check "$([ "$broken" = 0 ] && [ -n "$ident" ] && echo 1)" "ledger identity, every pipeline (last life)" \
  "$(tr '\n' ';' <<<"$ident" | sed 's/;$//; s/;/; /g')"
info "ledger identity on live pages" "$SAMPLES_OK of $((SAMPLES_OK + SAMPLES_BROKEN)) samples (counters read while profiles move)"

# E: what the ledger says was exported to the recorder, over every life.
# Killed lives are read while the recorder is down, so no export finishes
# between that read and the kill: each life's count is exact.
E=0 IN=0 SPOOL_IN=0 NOT_EXPORTED=0
for f in "$W"/lives/*.prom; do
  E=$((E + $(ledger_sum "$f" '^profpipe_ledger_out_profiles_total\\{.*exporter="pyroscope".*outcome="exported"')))
  NOT_EXPORTED=$((NOT_EXPORTED + $(ledger_sum "$f" '^profpipe_ledger_out_profiles_total\\{.*exporter="pyroscope".*outcome="(rejected|failed|dropped)"')))
  IN=$((IN + $(ledger_sum "$f" '^profpipe_ledger_in_profiles_total\\{.*source="receivers"')))
  SPOOL_IN=$((SPOOL_IN + $(ledger_sum "$f" '^profpipe_ledger_in_profiles_total\\{.*source="spool"')))
done
R=$(gzip -dc "$W/received.keys.gz" | wc -l)
D=$(gzip -dc "$W/received.keys.gz" | sort -u | wc -l)
read -r REQS REC_ERRS < <(awk '{ r += $1; e += $2 } END { print r + 0, e + 0 }' "$W/rec.counts")
# D <= E: every distinct profile the recorder answered 200 was counted
#   exported at least once (its export finished, or was retried after a
#   lost answer or from the spool after a SIGKILL, and nothing was given
#   up on: rejected + failed + dropped = 0);
# E <= R: every export the ledger counted is a 200 the recorder logged.
check "$([ "$NOT_EXPORTED" = 0 ] && echo 1)" "pyroscope exporter gave up on nothing" "rejected+failed+dropped=$NOT_EXPORTED"
check "$([ "$D" -le "$E" ] && [ "$E" -le "$R" ] && [ "$E" -gt 0 ] && echo 1)" "recorder vs ledger: distinct <= exported <= 200s" \
  "distinct=$D ledger_exported=$E recorder_200s=$R"
info "duplicates" "ledger-counted twice (resent after SIGKILL) $((E - D)); 200s never seen by profpipe $((R - E))"
info "recorder" "$REQS requests, $REC_ERRS undecodable; $REC_SEG up phases"
info "profiles in" "from receivers $IN, brought back by spools $SPOOL_IN, over $LIFE lives"
# what came in and was never exported: lost in memory at a SIGKILL (taken
# in, not yet in the spool), net of what came in between a life's last
# read and its kill (not in that read, exported later from the spool)
info "came in - exported" "$((IN - E)) (profiles in memory, not yet spooled, at the SIGKILLs)"
info "chaos" "$RELOADS reloads ($RELOADS_BROKEN broken configs), $KILLS SIGKILLs, $DOWNS recorder outages"
read -r sok sbad <"$W/sdk.counts" || true
read -r rok rbad <"$W/relay.counts" || true
info "SDK pushes (gosdk runs)" "direct: ${sok:-0} ok, ${sbad:-0} failed; via Kafka: ${rok:-0} ok, ${rbad:-0} failed"
info "scrapes" "$(ledger_sum "$final" '^profpipe_scrape_targets') targets in the last life"

# flatness: least-squares slope per hour of each series; for the soaked
# profpipe within each life (a restart starts it over), after WARMUP s
slope() { # process column(4 rss, 5 fds, 6 threads) -> "slope span"
  awk -v proc="$1" -v col="$2" -v warm="$WARMUP" '
    $3 == proc { if (!($2 in t0)) t0[$2] = $1; if ($1 - t0[$2] < warm && (proc == "profpipe" || proc == "agent")) next
                 n[$2]++; sx[$2] += $1; sy[$2] += $col; t[++k] = $1; y[k] = $col; l[k] = $2
                 if (!($2 in first)) first[$2] = $1; last[$2] = $1 }
    END { for (i = 1; i <= k; i++) { mx = sx[l[i]] / n[l[i]]; my = sy[l[i]] / n[l[i]]
                                     sxy += (t[i] - mx) * (y[i] - my); sxx += (t[i] - mx) ^ 2 }
          for (q in first) span += last[q] - first[q]
          printf "%.1f %d\n", (sxx > 0 ? sxy / sxx * 3600 : 0), span }' "$W/samples"
}
first_last() { awk -v proc="$1" -v col="$2" '$3 == proc { if (f == "") f = $col; l = $col; if ($col > m) m = $col } END { printf "%s..%s (peak %s)", f, l, m }' "$W/samples"; }
# halves PROCESS COLUMN -> "peak_first_half peak_second_half": the run's
# samples (after each life's WARMUP) split at the middle of the run
halves() {
  awk -v proc="$1" -v col="$2" -v warm="$WARMUP" -v mid="$(((START + END) / 2))" '
    $3 == proc { if (!($2 in t0)) t0[$2] = $1; if ($1 - t0[$2] < warm && (proc == "profpipe" || proc == "agent")) next
                 if ($1 < mid) { if ($col > a) a = $col } else { if ($col > b) b = $col } }
    END { printf "%d %d\n", a, b }' "$W/samples"
}
# judged: the soaked profpipe's steady samples (taken at the end of each
# up phase) and the agent's samples after its warm-up; the second half's
# peak may exceed the first's by the tolerances. (The soaked profpipe's
# other samples follow the outages: its queue fills while the recorder is
# down and a restart replays the spool, so their peaks are not a trend.)
for proc in profpipe_steady profpipe agent targets kafka_mock harness; do
  read -r rs span < <(slope "$proc" 4)
  read -r fs _ < <(slope "$proc" 5)
  read -r ts _ < <(slope "$proc" 6)
  read -r r1 r2 < <(halves "$proc" 4)
  read -r f1 f2 < <(halves "$proc" 5)
  read -r t1 t2 < <(halves "$proc" 6)
  detail="slope RSS $rs KiB/h, fds $fs/h, threads $ts/h over ${span}s; peak 1st/2nd half RSS $r1/$r2 KiB, fds $f1/$f2, threads $t1/$t2"
  if [ "$proc" = profpipe_steady ] || [ "$proc" = agent ]; then
    if [ "$(($(date +%s) - START))" -lt "$FLAT_MIN_SPAN" ] || [ "$r1" = 0 ] || [ "$r2" = 0 ]; then
      info "$proc flat? (run < ${FLAT_MIN_SPAN}s: not judged)" "$detail"
    else
      ok=$([ "$r2" -le $((r1 + RSS_TOL_KIB)) ] && [ "$f2" -le $((f1 + FDS_TOL)) ] && [ "$t2" -le $((t1 + THREADS_TOL)) ] && echo 1 || true)
      check "$ok" "$proc flat (RSS, fds, threads)" "$detail"
    fi
  else
    info "$proc" "$detail"
  fi
  info "" "first..last (peak): RSS KiB $(first_last "$proc" 4), fds $(first_last "$proc" 5), threads $(first_last "$proc" 6)"
done
info "profpipe's page (ui_bytes)" "KiB $(first_last page_kib 4), retention $UI_RETENTION"
read -r ds _ < <(slope disk_kib 4)
info "work dir on disk" "$(first_last disk_kib 4) KiB, $ds KiB/h"

echo
echo "soak: ${ELAPSED}s ($((ELAPSED / 60)) min), $LIFE lives of profpipe; work dir $W"
cat "$W/summary"
if [ "$FAILED" = 0 ]; then echo "soak: every check holds"; else echo "soak: a check FAILED"; fi
exit "$FAILED"
