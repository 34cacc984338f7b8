#!/usr/bin/env bash
# pprof_scrape's profile types beyond the defaults, against the Go target:
# - godeltaprof (profile.godeltaprof_memory/_block/_mutex, at
#   /debug/pprof/delta_heap, delta_block, delta_mutex): the target serves
#   already-delta profiles with known values (go/target/godelta.go: one
#   sample, value[0] = request number n, value[i] = n*1000 + i*saw(n),
#   saw going down every other request). Every profile must come out with
#   exactly those values (passed as they are: no baseline dropped, so n=1
#   is there; no client-side delta or reset), named memory/block/mutex
#   with __delta__=false, and job = job_name;
# - threadcreate (off by default: the plain test checks it is never
#   requested then): enabled, it comes out as __name__=threadcreate with
#   its threadcreate/count sample type and no __delta__;
# - custom entries: {name, path} scraped at that path under that name
#   (heap: alloc_* made deltas, so __delta__=false); {delta: true}
#   requested with ?seconds=N; {enabled: false} never requested;
# - schedule: the six paths' first requests spread over the first
#   interval (hash-derived offsets), not all at once.
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
        labels: {service_name: gd}
    job_name: gd-job
    scrape_interval: 2s
    scrape_timeout: 3s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.memory: {enabled: false}
      profile.goroutine: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
      profile.godeltaprof_memory: {enabled: true}
      profile.godeltaprof_block: {enabled: true}
      profile.godeltaprof_mutex: {enabled: true}
      profile.threadcreate: {enabled: true}
      profile.custom:
        - {name: heap_custom, path: /debug/pprof/heap}
        - {name: block_window, path: /debug/pprof/block, delta: true}
        - {name: never, path: /debug/pprof/never, enabled: false}
EOF
t_start=$(date +%s%3N)
start_profpipe scrape "$T/c.yaml"
for d in memory block mutex threadcreate heap_custom block_window; do
  wait_for 40 files_at_least "$T/out/gd/$d" 3 ||
    { cat "$T/scrape.log"; fail "fewer than 3 $d profiles after 40s"; }
done
stop_profpipe "$PROFPIPE_PID"
target_requests "$P" >"$T/requests.txt"
idx="$T/out/index.jsonl"

# --- godeltaprof: values exactly as served, first one included ---
check_godelta() { # dir fn ntypes path
  local dir=$1 fn=$2 ntypes=$3 path=$4 f n i v want saw line seen=" " first=0 count=0
  for f in "$T"/out/gd/$dir/*.pb.gz; do
    n=$(raw_sum "$f" 1 "$fn")
    [ "$n" -ge 1 ] || fail "$f: no sample in $fn"
    for i in $(seq 1 $((ntypes - 1))); do
      saw=$(( n % 2 ? 300 : 700 ))
      want=$(( n * 1000 + i * saw ))
      v=$(raw_sum "$f" $((i + 1)) "$fn")
      [ "$v" = "$want" ] || fail "$f: value $((i + 1)) of $fn is $v, the target served $want (request $n)"
    done
    case "$seen" in *" $n "*) fail "$dir: request $n emitted twice" ;; esac
    seen="$seen$n "
    [ "$n" = 1 ] && first=1
    line=$(grep -F "\"path\":\"gd/$dir/$(basename "$f")\"" "$idx")
    case "$line" in *"\"__name__\":\"$dir\""*'"__delta__":"false"'* | *'"__delta__":"false"'*"\"__name__\":\"$dir\""*) ;;
      *) fail "$f: want __name__=$dir and __delta__=false: $line" ;; esac
    case "$line" in *'"job":"gd-job"'*) ;; *) fail "$f: job label is not job_name gd-job: $line" ;; esac
    count=$((count + 1))
  done
  [ "$first" = 1 ] || fail "$dir: the first served profile (n=1) was not emitted: seen$seen"
  grep -q " $path 200\$" "$T/requests.txt" || fail "$path never requested"
  pass "$dir from $path: $count profiles (requests$seen) with the served values, __delta__=false"
}
check_godelta memory main.deltaHeapSite 4 /debug/pprof/delta_heap
check_godelta block main.deltaBlockSite 2 /debug/pprof/delta_block
check_godelta mutex main.deltaMutexSite 2 /debug/pprof/delta_mutex
for p in /debug/pprof/allocs /debug/pprof/goroutine /debug/pprof/mutex /debug/pprof/profile; do
  ! grep -q " $p " "$T/requests.txt" || fail "$p requested though disabled"
done

# --- schedule: the six paths start spread over the first interval ---
awk -v t0="$t_start" -v limit=3500 '
  !($2 in first) { first[$2] = $1; if (!n++ || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
  END {
    if (n != 6) { print n " paths requested, want 6"; exit 1 }
    if (hi - t0 > limit) { print "a path first requested " hi - t0 " ms after start"; exit 1 }
    if (hi - lo < 100) { print "first requests within " hi - lo " ms: not spread"; exit 1 }
    printf "first requests spread over %d ms, all within %d ms of start\n", hi - lo, hi - t0
  }' "$T/requests.txt" >"$T/spread.txt" || fail "$(cat "$T/spread.txt")"
pass "schedule: $(cat "$T/spread.txt") (interval 2 s)"

# --- threadcreate ---
for f in "$T"/out/gd/threadcreate/*.pb.gz; do
  # whole output first: grep -q closing the pipe early fails it under pipefail
  raw=$(go tool pprof -raw "$f" 2>/dev/null)
  grep -q '^threadcreate/count' <<<"$raw" || fail "$f: no threadcreate/count sample type"
  [ "$(pprof_total "$f" 1)" -gt 0 ] || fail "$f: no thread creations"
done
tc=$(grep -F '"__name__":"threadcreate"' "$idx")
grep -qF '"service_name":"gd"' <<<"$tc" || fail "no threadcreate series"
! grep -qF '__delta__' <<<"$tc" || fail "threadcreate with __delta__: $tc"
pass "threadcreate: $(ls "$T/out/gd/threadcreate" | wc -l) profiles of threadcreate/count, no __delta__"

# --- custom entries ---
grep -q ' /debug/pprof/heap 200$' "$T/requests.txt" || fail "custom heap path never requested"
hc=$(grep -F '"__name__":"heap_custom"' "$idx")
grep -qF '"__delta__":"false"' <<<"$hc" || fail "heap_custom: alloc_* not made deltas (no __delta__=false)"
for f in "$T"/out/gd/heap_custom/*.pb.gz; do
  raw=$(go tool pprof -raw "$f" 2>/dev/null)
  grep -q 'alloc_space/bytes' <<<"$raw" || fail "$f: not a heap profile"
done
curl -sf "http://127.0.0.1:$P/requests" | tr '{' '\n' | grep '"path":"/debug/pprof/block"' >"$T/block_req.txt"
[ -s "$T/block_req.txt" ] || fail "custom block_window path never requested"
[ "$(grep -vc '"query":"seconds=1"' "$T/block_req.txt")" = 0 ] ||
  fail "block_window (delta: true) requested without ?seconds=1: $(head -1 "$T/block_req.txt")"
! grep -q '/debug/pprof/never' "$T/requests.txt" || fail "disabled custom entry requested"
! grep -qF '"__name__":"never"' "$idx" || fail "disabled custom entry emitted"
assert_no_negative
pass "custom: heap_custom at its path as deltas, block_window with ?seconds=1, disabled entry never requested"
