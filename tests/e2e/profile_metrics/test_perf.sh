#!/usr/bin/env bash
# perf receiver -> profile_metrics (series on the telemetry /metrics) and
# file: a C workload (tests/e2e/perf/split_workload.c, frame
# pointers) burns CPU_S seconds of CPU in burn() (called from heavy_work and
# light_work) and reports its own CPU time (CLOCK_PROCESS_CPUTIME_ID).
# Checked, for its service_name:
# - profile_cpu_seconds_total equals that CPU time within 25% (perf samples
#   at 99 Hz, ~600 samples: their own spread is ~4%; the rest is room for
#   the last ≤ 300 ms the wait below may leave out and the gap fill);
# - the series carries the window's end as its timestamp, not in the future;
# - burn, the leaf function, is first in profile_function_cpu_seconds_total
#   with most of the CPU (never more than all of it), and its callers
#   heavy_work, light_work and main have at most a tenth of it each (self
#   CPU only: what a sample in their own few instructions gives);
# - it equals exactly the cpu/nanoseconds total (go tool pprof) of the
#   profiles a file exporter in the same pipeline wrote, up to the window
#   named by the series' timestamp (windows are contiguous: no gap fill);
# - the perf receiver lost no records, profile_metrics ignored none.
# No fixed sleeps: after the workload exits, the test waits until a window
# ending at (or ≤ 300 ms before) its exit has been counted; the receiver
# emits each process's profile at the end of the interval it was seen in.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/perf/perf_lib.sh"
perf_require_access

CPU_S=6    # CPU seconds the workload burns: ~600 samples at 99 Hz
WALL_S=40  # ... unless this much wall time passes first (overloaded machine)
perf_build_workload "$T/pmburn"
MP=$(free_port)
cat >"$T/c.yaml" <<YAML
receivers:
  perf:
    interval: 2s
    frequency: 99
    comm: pmburn
exporters:
  profile_metrics:
    function_top_n: 5
  file:
    directory: $T/out
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles/default:
      receivers: [perf]
      exporters: [profile_metrics, file]
YAML
start_profpipe perf "$T/c.yaml"
perf_wait_sampling perf

# nice execs the workload in the same process (a warning, no failure,
# where a negative niceness is not allowed)
nice -n -10 "$T/pmburn" "$WALL_S" "$CPU_S" >"$T/workload.out" 2>"$T/workload.err" &
wpid=$!
PIDS+=("$wpid")
wait "$wpid" || fail "workload failed: $(cat "$T/workload.err")"
exit_ms=$(date +%s%3N)
read -r _ _ process_ns < <(sed 's/[a-z_]*=//g' "$T/workload.out")
own=$(awk -v ns="$process_ns" 'BEGIN { printf "%.3f", ns / 1e9 }')
pass "workload pid $wpid: ${own}s of CPU by its own clock"

page() { curl -sf "http://127.0.0.1:$MP/metrics" >"$T/page.txt"; }
# sample KEY: "value timestamp" of the series KEY (name{labels}) on the page
sample() { awk -v k="$1" 'index($0, k " ") == 1 { print $2, $3 }' "$T/page.txt"; }
CPU='profile_cpu_seconds_total{service_name="pmburn"}'
counted_to_exit() {
  page || return 1
  local v ts
  read -r v ts < <(sample "$CPU") || return 1
  [ -n "$ts" ] && [ "$ts" -ge $((exit_ms - 300)) ]
}
wait_for $((30 * PERF_SLOW)) counted_to_exit ||
  { grep '^profile_' "$T/page.txt" >&2; tail -5 "$T/perf.log" >&2
    fail "no window up to the workload's exit (${exit_ms} ms) counted in $CPU"; }
read -r got ts < <(sample "$CPU")
now_ms=$(date +%s%3N)
[ "$ts" -le "$now_ms" ] || fail "$CPU timestamp $ts is in the future (now $now_ms)"
within "$got" "$own" "$(awk -v o="$own" 'BEGIN { print o * 0.25 }')" ||
  fail "$CPU = $got, the workload measured ${own}s (tolerance 25%)"
pass "$CPU = $got (timestamp $ts), workload ${own}s: $(awk -v g="$got" -v o="$own" 'BEGIN { printf "%+.1f%%", 100 * (g - o) / o }')"

# the per-function series of pmburn, largest first: "function value"
grep -F 'profile_function_cpu_seconds_total{service_name="pmburn",function="' "$T/page.txt" |
  sed 's/.*function="\([^"]*\)"} \([^ ]*\).*/\1 \2/' | sort -k2,2 -g -r >"$T/functions"
[ -s "$T/functions" ] || { grep '^profile_' "$T/page.txt" >&2; fail "no function series for pmburn"; }
read -r top top_s <"$T/functions"
[ "$top" = burn ] || { cat "$T/functions" >&2; fail "first function is $top, not burn"; }
awk -v t="$top_s" -v g="$got" 'BEGIN { exit !(t > 0.5 * g && t <= g * 1.000001) }' ||
  fail "burn has ${top_s}s of the ${got}s: not most of it, or more than all"
# a caller's series is its self CPU only: a sample lands in main's own
# loop (or the wrappers' few instructions) now and then, one in ~600 in a
# CI run, but its time with burn's would be nearly all of the total
awk -v g="$got" '$1 ~ /^(heavy_work|light_work|main)$/ && $2 > 0.1 * g { bad = 1 } END { exit bad }' \
  "$T/functions" ||
  { cat "$T/functions" >&2; fail "a caller of burn has more than a tenth of the CPU (leaf frame expected)"; }
pass "first function: burn ${top_s}s of ${got}s; functions: $(tr '\n' ' ' <"$T/functions")"

lost=$(awk '/^profpipe_perf_lost_samples_total/ {print $2}' "$T/page.txt")
[ "$lost" = 0 ] || fail "the perf receiver lost $lost records at 99 Hz"
ignored=$(awk '/^profpipe_profile_metrics_ignored_profiles_total/ { s += $2 } END { print s + 0 }' "$T/page.txt")
[ "$ignored" = 0 ] || fail "$ignored perf profiles ignored by profile_metrics"
pass "no record lost, no profile ignored"
stop_profpipe "$PROFPIPE_PID"

# the same profiles as the file exporter wrote them, up to the window the
# counter's timestamp names: their cpu/nanoseconds total is the counter
mapfile -t files < <(jq -r --argjson ts "$ts" \
  'select(.labels.service_name == "pmburn" and (.until / 1000000 | floor) <= $ts) | .path' "$T/out/index.jsonl")
[ "${#files[@]}" -ge 2 ] || fail "expected pmburn profiles every 2s up to $ts, got ${#files[@]}"
sum_ns=0
for f in "${files[@]}"; do sum_ns=$((sum_ns + $(pprof_total "$T/out/$f" 2))); done
want=$(awk -v n="$sum_ns" 'BEGIN { printf "%.9f", n / 1e9 }')
awk -v a="$got" -v b="$want" 'BEGIN { exit !((a - b) * (a - b) < 1e-12 * (b * b + 1)) }' ||
  fail "$CPU = $got, the ${#files[@]} profiles up to $ts hold ${want}s (go tool pprof)"
pass "$CPU = ${want}s, the cpu/nanoseconds total of the ${#files[@]} profiles up to its timestamp (go tool pprof)"
