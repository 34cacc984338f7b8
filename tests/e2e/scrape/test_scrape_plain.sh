#!/usr/bin/env bash
# pprof_scrape against a plain net/http/pprof Go service with a known
# workload, into the file exporter; `go tool pprof` reads what came out:
# - CPU: main.hotFunction is the top function;
# - goroutine: the 50 goroutines parked in main.parked, in every profile;
# - memory: the alloc deltas of main.growOnce over all emitted profiles
#   add up exactly to the allocator's own cumulative count between the
#   first (baseline) and the last emitted scrape. The server runs with
#   MemProfileRate=1 (no sampling, no scaling) and takes a snapshot of
#   its counters inside each /debug/pprof/allocs request, after a GC and
#   with the allocator paused, which is exactly what that profile shows
#   (its 4096-byte objects: the runtime may charge a rare allocation of
#   its own, e.g. on preemption, to the frame it interrupted);
# - block and mutex: main.contend's contention, as deltas;
# - no negative value anywhere; the series labels of the index;
# - defaults: threadcreate and the godeltaprof paths never requested.
# temp files under our build dir: other suites clean /tmp
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

build_target
P=$(free_port)
MP=$(free_port)
start_target plain -addr "127.0.0.1:$P"

write_config "$T/c.yaml" "$MP" <<EOF
    targets:
      - address: 127.0.0.1:$P
        labels: {service_name: plain-svc, team: e2e}
    scrape_interval: 2s
    scrape_timeout: 3s
EOF
start_profpipe scrape "$T/c.yaml"
wait_for 40 files_at_least "$T/out/plain-svc/memory" 4 ||
  { cat "$T/scrape.log"; fail "fewer than 4 memory profiles after 40s"; }
[ "$(metric "scrape_up{component_id=\"pprof_scrape/e2e\",target=\"http://127.0.0.1:$P\"}" "$MP")" = 1 ] ||
  fail "scrape_up is not 1"
curl -sf "http://127.0.0.1:$MP/metrics" >"$T/metrics.txt" || fail "no /metrics"
bytes=$(grep -F "profpipe_scrape_bytes_total{component_id=\"pprof_scrape/e2e\",target=\"http://127.0.0.1:$P\"" "$T/metrics.txt" | awk '{print $NF}')
awk -v b="${bytes:-0}" 'BEGIN { exit !(b > 10000) }' || fail "scrape_bytes_total is '${bytes:-}'"
for name in process_cpu memory goroutine block mutex; do
  d=$(grep -F "profpipe_scrape_duration_seconds{component_id=\"pprof_scrape/e2e\",target=\"http://127.0.0.1:$P\"" "$T/metrics.txt" |
    grep -F "profile=\"$name\"" | awk '{print $NF}')
  # CPU is taken over ?seconds=1 (interval 2s - 1s): at least a second;
  # every type under its timeout (3s, + 1s for CPU)
  min=0; [ "$name" = process_cpu ] && min=0.9
  awk -v d="${d:--1}" -v m="$min" 'BEGIN { exit !(d > m && d < 5) }' ||
    fail "scrape_duration_seconds of $name is '${d:-}'"
done
pass "metrics: scrape_bytes_total $bytes; scrape_duration_seconds per profile type (CPU ~1 s)"
stop_profpipe "$PROFPIPE_PID"

# --- defaults: threadcreate and the godeltaprof paths are off ---
target_requests "$P" >"$T/requests.txt"
for p in threadcreate delta_heap delta_block delta_mutex; do
  [ "$(grep -c " /debug/pprof/$p " "$T/requests.txt")" = 0 ] || fail "/debug/pprof/$p requested by default"
done
for p in profile allocs goroutine block mutex; do
  [ "$(grep -c " /debug/pprof/$p 200\$" "$T/requests.txt")" -gt 0 ] || fail "/debug/pprof/$p never requested"
done
curl -sf "http://127.0.0.1:$P/requests" | tr '{' '\n' | grep '"path":"/debug/pprof/profile"' >"$T/cpu_req.txt"
[ "$(grep -vc '"query":"seconds=1"' "$T/cpu_req.txt")" = 0 ] ||
  fail "CPU not requested with ?seconds=1 (scrape_interval 2s - 1s): $(head -1 "$T/cpu_req.txt")"
pass "defaults: the five Alloy profile types requested; threadcreate and delta_* never; CPU with ?seconds=1"

# --- CPU: the hot function on top ---
top=$(go tool pprof -top -nodecount=3 "$T"/out/plain-svc/process_cpu/*.pb.gz 2>/dev/null |
  awk '/flat%/ { getline; print $6; exit }')
[ "$top" = main.hotFunction ] || fail "top CPU function is '$top', not main.hotFunction"
pass "CPU: main.hotFunction on top of $(ls "$T/out/plain-svc/process_cpu" | wc -l) profiles"

# --- goroutines ---
n_g=0
for f in "$T"/out/plain-svc/goroutine/*.pb.gz; do
  parked=$(raw_sum "$f" 1 main.parked)
  [ "$parked" = 50 ] || fail "$f: $parked goroutines in main.parked, want 50"
  n_g=$((n_g + 1))
done
pass "goroutine: 50 parked in each of $n_g profiles"

# --- memory: deltas add up to the allocator's own count ---
m=$(ls "$T/out/plain-svc/memory" | wc -l)
curl -sf "http://127.0.0.1:$P/stats" >"$T/stats.json"
snap() { grep -o "\"$1\":[0-9]*" "$T/stats.json" | sed -n "$2p" | cut -d: -f2; }
[ "$(grep -o '"alloc_bytes"' "$T/stats.json" | wc -l)" -gt "$m" ] ||
  fail "the server saw fewer allocs requests than $m + 1"
want_bytes=$(( $(snap alloc_bytes $((m + 1))) - $(snap alloc_bytes 1) ))
want_objects=$(( $(snap alloc_objects $((m + 1))) - $(snap alloc_objects 1) ))
got_bytes=0 got_objects=0 got_all=0
for f in "$T"/out/plain-svc/memory/*.pb.gz; do
  got_objects=$((got_objects + $(raw_sum "$f" 1 main.growOnce leaf 'bytes:[4096]')))
  got_bytes=$((got_bytes + $(raw_sum "$f" 2 main.growOnce leaf 'bytes:[4096]')))
  got_all=$((got_all + $(pprof_total "$f" 2)))
done
[ "$got_bytes" = "$want_bytes" ] ||
  fail "alloc_space of main.growOnce over $m deltas: $got_bytes, allocator counted $want_bytes"
[ "$got_objects" = "$want_objects" ] ||
  fail "alloc_objects of main.growOnce over $m deltas: $got_objects, allocator counted $want_objects"
total_alloc=$(( $(snap total_alloc $((m + 1))) - $(snap total_alloc 1) ))
pass "memory: $m deltas of main.growOnce sum to $got_bytes bytes / $got_objects objects, as counted" \
  "(all stacks: $got_all bytes vs runtime TotalAlloc $total_alloc)"

# --- block and mutex: contention in main.contend, as deltas ---
for kind in block mutex; do
  c=0
  for f in "$T"/out/plain-svc/$kind/*.pb.gz; do
    c=$((c + $(raw_sum "$f" 1 main.contend)))
  done
  [ "$c" -gt 0 ] || fail "$kind: no contention in main.contend"
  pass "$kind: $c contentions in main.contend"
done

assert_no_negative
pass "no negative values"

# --- series labels ---
idx="$T/out/index.jsonl"
for name in process_cpu memory goroutine block mutex; do
  line=$(grep -F "\"__name__\":\"$name\"" "$idx" | sed -n 1p)
  [ -n "$line" ] || fail "no $name in the index"
  for kv in '"service_name":"plain-svc"' '"team":"e2e"' '"job":"pprof_scrape/e2e"' \
    "\"instance\":\"127.0.0.1:$P\""; do
    case "$line" in *"$kv"*) ;; *) fail "$name: label $kv missing: $line" ;; esac
  done
  case "$name:$line" in
    memory:*'"__delta__":"false"'* | block:*'"__delta__":"false"'* | mutex:*'"__delta__":"false"'*) ;;
    memory:* | block:* | mutex:*) fail "$name without __delta__=false: $line" ;;
    *'__delta__'*) fail "$name must not carry __delta__: $line" ;;
  esac
done
pass "labels: service_name, job, instance, target labels; __delta__=false on deltas"
