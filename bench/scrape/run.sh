#!/usr/bin/env bash
# pprof_scrape's cost for N local targets, next to a plain Go scraper doing
# the same requests, in the same run.
#
# One Go service (tests/e2e/scrape/go/target, no workload, Go's default
# MemProfileRate) listens on N consecutive ports; each port is one target.
# Its heap and allocs profiles hold STACKS distinct stacks from the start
# (the target's -alloc-stacks: pseudo-random call paths 21 frames deep;
# 1,200 stacks make ~17 KB gzip'd bodies), the same for both sides and
# through the run; they used to grow from what the target allocated
# while serving, so that the side measured second got larger profiles.
# It serves each profile type from a rendering at most RENDER_EVERY old
# (the target's -render-every): one process answering for 500 services
# renders 500 profiles a second otherwise, which took it to 1.5-1.6 of
# this machine's two cores, and the scraper measured then waited in its
# backlog (transfers in flight, each holding its connection and buffers,
# rose and fell with the target's queue). RENDER_EVERY=0 renders every
# request, as before. The target's CPU over each side's measured time is
# printed below the row: well under 2 cores, its answers are prompt.
# Five profile types per target: memory, goroutine, block, mutex and a
# custom `heap` (/debug/pprof/heap): all but goroutine go through the
# delta path (the custom type too: its sample types are cumulative), and
# with no workload block and mutex are empty, so each target has two
# delta series that hold stacks. process_cpu is left out because a Go
# process serves one CPU profile at a time, and all targets here are one
# process.
# profpipe's pipeline drops every profile right after the receiver
# (relabel `drop`), so what is measured is scraping, not an exporter.
#
# The peer (bench/scrape/go/peer) runs the same schedule against the same
# URLs with Go's net/http (keep-alive), reads every body and inflates it:
# the least any scraper does (no deltas, no profile built). Both give a
# request the same time (profpipe's scrape_timeout, the peer's -timeout:
# the interval): a side that waited longer would see fewer timeouts, and
# each timeout closes a connection that the next scrape opens again.
#
# For each N: CPU time (user + system) over DURATION seconds after a
# warm-up of two intervals, and RSS sampled every second over the same
# time: first sample, peak, last (flat memory means last ~ first).
# On a loaded machine the target answers late and scrapes time out, on
# each side differently, so the work done differs; the last column is
# therefore each side's CPU per MiB of response bodies received over its
# whole run (profpipe's scrape_bytes_total; the peer counts its own).
# Below each row: what profpipe's delta baselines held at the end
# (scrape_delta_baseline_bytes), the part of its RSS that grows with the
# targets' profiles, and the span of the mapping that holds them
# (scrape_delta_baseline_heap_bytes: with their slack and holes).
#
# usage: bench/scrape/run.sh [BUILD_DIR]        (default: build)
# env:   NS="10 100 500"  INTERVAL=10 (seconds)  DURATION=40 (seconds)
#        RENDER_EVERY=1s  STACKS=1200
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "${1:-$SOURCE_DIR/build}" && pwd)
PROFPIPE=$BUILD_DIR/profpipe
NS=${NS:-"10 100 500"}
INTERVAL=${INTERVAL:-10}
DURATION=${DURATION:-40}
RENDER_EVERY=${RENDER_EVERY:-1s}
STACKS=${STACKS:-1200}
PATHS="/debug/pprof/allocs,/debug/pprof/goroutine,/debug/pprof/block,/debug/pprof/mutex,/debug/pprof/heap"
[ -x "$PROFPIPE" ] || { echo "no $PROFPIPE: build first" >&2; exit 1; }
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD_DIR/gocache"

T=$(mktemp -d "${TMPDIR:-/tmp}/profpipe-bench-scrape.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
# 500 targets x 5 types can hold 2,500 sockets on each side
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

(cd "$SOURCE_DIR/tests/e2e/scrape/go/target" && go build -o "$T/target" .)
(cd "$SOURCE_DIR/bench/scrape/go/peer" && go build -o "$T/peer" .)

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# A run of N free consecutive ports, below the kernel's ephemeral range
# (where outgoing connections of anything else on the machine take
# ports), and used by no socket at all.
free_base() { # n
  local base p top
  top=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range)
  for _ in $(seq 1 50); do
    base=$(( 10000 + RANDOM % (top - 10000 - $1 - 1) ))
    p=$(ss -Htan | awk -v lo="$base" -v hi=$((base + $1 + 1)) '{n = split($4, a, ":"); if (a[n] >= lo && a[n] < hi) print}' | wc -l)
    [ "$p" = 0 ] && { echo "$base"; return 0; }
  done
  return 1
}

# measure PID: waits two intervals, then samples DURATION seconds;
# prints "cpu_seconds rss_first_kb rss_peak_kb rss_last_kb
# cpu_seconds_since_start target_cpu_seconds" (the target's, $tpid, over
# the same DURATION).
measure() {
  local pid=$1 c0 c1 t0 t1 r first="" peak=0
  sleep $((2 * INTERVAL))
  c0=$(cpu_ticks "$pid")
  t0=$(cpu_ticks "$tpid")
  for _ in $(seq 1 "$DURATION"); do
    sleep 1
    r=$(rss_kb "$pid")
    [ -n "$first" ] || first=$r
    [ "$r" -gt "$peak" ] && peak=$r
  done
  c1=$(cpu_ticks "$pid")
  t1=$(cpu_ticks "$tpid")
  echo "$(awk -v d=$((c1 - c0)) -v t="$TICK" 'BEGIN {printf "%.2f", d / t}') $first $peak $r" \
    "$(awk -v d="$c1" -v t="$TICK" 'BEGIN {printf "%.2f", d / t}')" \
    "$(awk -v d=$((t1 - t0)) -v t="$TICK" 'BEGIN {printf "%.2f", d / t}')"
}

run_profpipe() { # n base mport -> measure line
  local n=$1 base=$2 mport=$3 i
  {
    echo "receivers:"
    echo "  pprof_scrape/bench:"
    echo "    scrape_interval: ${INTERVAL}s"
    echo "    scrape_timeout: ${INTERVAL}s"
    echo "    targets:"
    for i in $(seq 0 $((n - 1))); do echo "      - 127.0.0.1:$((base + i))"; done
    echo "    profiling_config:"
    echo "      profile.process_cpu: {enabled: false}"
    echo "      profile.custom: [{name: heap, path: /debug/pprof/heap}]"
    echo "processors:"
    echo "  relabel/drop_all:"
    echo "    rules: [{source_labels: [__name__], regex: '.*', action: drop}]"
    echo "exporters:"
    echo "  file: {directory: $T/out}"
    echo "service:"
    echo "  telemetry: {address: \"127.0.0.1:$mport\"}"
    echo "  pipelines:"
    echo "    profiles/bench:"
    echo "      receivers: [pprof_scrape/bench]"
    echo "      processors: [relabel/drop_all]"
    echo "      exporters: [file]"
  } >"$T/bench.yaml"
  "$PROFPIPE" run -c "$T/bench.yaml" >"$T/profpipe-$n.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  measure "$pid"
  curl -sf "http://127.0.0.1:$mport/metrics" >"$T/metrics-$n.txt" || true
  kill -TERM "$pid"
  wait "$pid" || true
}

run_peer() { # n base -> measure line
  local n=$1 base=$2 i targets=""
  for i in $(seq 0 $((n - 1))); do targets="$targets${targets:+,}127.0.0.1:$((base + i))"; done
  "$T/peer" -targets "$targets" -paths "$PATHS" -interval "${INTERVAL}s" -timeout "${INTERVAL}s" \
    -duration "$((2 * INTERVAL + DURATION + 1))s" 2>"$T/peer-$n.log" &
  local pid=$!
  PIDS+=("$pid")
  measure "$pid"
  wait "$pid" || true
}

sum_metric() { # file name
  awk -v m="$2" 'index($0, m "{") == 1 {s += $NF} END {printf "%d", s}' "$1"
}

printf 'pprof_scrape vs a plain Go scraper: 5 profile types per target, interval %ss, %ss measured\n' \
  "$INTERVAL" "$DURATION"
printf '%6s | %24s | %29s | %11s | %17s | %s\n' "" "CPU s (% of one core)" "RSS MiB first/peak/last" "ratio" "CPU ms per MiB in" ""
printf '%6s | %11s %12s | %14s %14s | %5s %5s | %5s %5s %5s | %s\n' N profpipe peer profpipe peer CPU RSS pp peer ratio "profiles emitted / scrape errors; the peer's ok / failed"
for n in $NS; do
  base=$(free_base "$n") || { echo "no $n free ports" >&2; exit 1; }
  mport=$((base + n))
  "$T/target" -workload=false -exact-allocs=false -mem-rate 524288 -render-every "$RENDER_EVERY" \
    -alloc-stacks "$STACKS" \
    -addr "127.0.0.1:$base" -port-count "$n" \
    >"$T/target-$n.log" 2>&1 &
  tpid=$!
  PIDS+=("$tpid")
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$base/stats" >/dev/null && break; sleep 0.1; done
  read -r pc pf pp pl pt ptc < <(run_profpipe "$n" "$base" "$mport")
  read -r gc gf gp gl gt gtc < <(run_peer "$n" "$base")
  # the peer prints its counts as it exits, a moment after the measure
  for _ in $(seq 1 100); do grep -q '^peer:' "$T/peer-$n.log" 2>/dev/null && break; sleep 0.1; done
  kill -TERM "$tpid"
  wait "$tpid" 2>/dev/null || true
  okp=$(sum_metric "$T/metrics-$n.txt" profpipe_receiver_accepted_profiles_total)
  errs=$(sum_metric "$T/metrics-$n.txt" profpipe_scrape_errors_total)
  pbytes=$(sum_metric "$T/metrics-$n.txt" profpipe_scrape_bytes_total)
  gbytes=$(awk '/^peer:/ {print $6}' "$T/peer-$n.log")
  gok=$(awk '/^peer:/ {print $2}' "$T/peer-$n.log")
  gfail=$(awk '/^peer:/ {print $4}' "$T/peer-$n.log")
  awk -v n="$n" -v pc="$pc" -v gc="$gc" -v pf="$pf" -v pp="$pp" -v pl="$pl" \
    -v gf="$gf" -v gp="$gp" -v gl="$gl" -v d="$DURATION" -v ok="$okp" -v e="$errs" \
    -v pt="$pt" -v gt="$gt" -v pb="${pbytes:-0}" -v gb="${gbytes:-0}" \
    -v gok="${gok:-?}" -v gfail="${gfail:-?}" 'BEGIN {
      pm = pb > 0 ? 1000 * pt / (pb / 1048576) : 0
      gm = gb > 0 ? 1000 * gt / (gb / 1048576) : 0
      printf "%6d | %5.2f (%3.0f%%) %5.2f (%3.0f%%) | %4.1f/%4.1f/%4.1f %4.1f/%4.1f/%4.1f | %5.2f %5.2f | %5.0f %5.0f %5.2f | %s / %s; %s / %s\n",
        n, pc, 100 * pc / d, gc, 100 * gc / d,
        pf / 1024, pp / 1024, pl / 1024, gf / 1024, gp / 1024, gl / 1024,
        (gc > 0 ? pc / gc : 0), (gp > 0 ? pp / gp : 0), pm, gm, (gm > 0 ? pm / gm : 0), ok, e, gok, gfail
    }'
  held=$(sum_metric "$T/metrics-$n.txt" profpipe_scrape_delta_baseline_bytes)
  span=$(sum_metric "$T/metrics-$n.txt" profpipe_scrape_delta_baseline_heap_bytes)
  printf '%6s   profpipe: delta baselines %.1f MiB at the end (scrape_delta_baseline_bytes), in %.1f MiB of mapping\n' "" \
    "$(awk -v b="${held:-0}" 'BEGIN {print b / 1048576}')" "$(awk -v b="${span:-0}" 'BEGIN {print b / 1048576}')"
  awk -v p="$ptc" -v g="$gtc" -v d="$DURATION" -v r="$RENDER_EVERY" 'BEGIN {
    printf "%6s   the target (render-every %s): %.0f%% of one core while profpipe scraped, %.0f%% while the peer did\n", "", r, 100 * p / d, 100 * g / d }'
done
echo "ratio: profpipe / peer (below 1: profpipe cheaper). Emitted profiles exclude the"
echo "first scrape of each cumulative type, kept as a delta baseline. The baselines"
echo "grow with the distinct stacks the target reports, and its allocs profile gains"
echo "stacks while it serves the scrapes: compare peaks of runs of the same length."
