#!/usr/bin/env bash
# pprof_scrape across SIGHUP reloads that keep it: its delta baselines
# (cumulative profiles: allocs, block, mutex) live on, so the windows it
# exports chain with no missing piece. The Go target is scraped every
# second (memory, block and mutex; CPU and goroutine off) while profpipe
# is reloaded six times, in turn:
#   - changing the relabel processor (the label `gen` it sets);
#   - changing the file exporter (fsync), so the exporter is replaced;
#   - changing nothing.
# Every reload keeps the receiver running (the log says so), and per
# profile type the exported windows chain: sorted by end, each window's
# `from` is the previous window's `until`, exactly (a receiver started
# again would take a fresh baseline, not exported, and leave a gap), and
# the chain spans every reload. No value is negative.
# temp files under our build dir: other suites clean /tmp
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

RELOADS=6
TYPES="memory block mutex"
build_target
P=$(free_port)
MP=$(free_port)
start_target plain -addr "127.0.0.1:$P"

GEN=g0 FSYNC=false
config() {
  cat >"$T/c.yaml" <<EOF
receivers:
  pprof_scrape/e2e:
    targets:
      - address: 127.0.0.1:$P
        labels: {service_name: rl}
    scrape_interval: 1s
    scrape_timeout: 1s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.goroutine: {enabled: false}
processors:
  relabel:
    rules:
      - {target_label: gen, replacement: "$GEN"}
exporters:
  file:
    directory: $T/out
    fsync: $FSYNC
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles/default:
      receivers: [pprof_scrape/e2e]
      processors: [relabel]
      exporters: [file]
EOF
}
config
start_profpipe scrape "$T/c.yaml"
for d in $TYPES; do
  wait_for 30 files_at_least "$T/out/rl/$d" 2 ||
    { tail -20 "$T/scrape.log"; fail "fewer than 2 $d profiles before the first reload"; }
done

first_reload=0 last_reload=0
for i in $(seq 1 $RELOADS); do
  case $((i % 3)) in
    1) GEN=g$i ;;
    2) [ "$FSYNC" = false ] && FSYNC=true || FSYNC=false ;;
    0) ;; # the same config again
  esac
  config
  before=$(find "$T/out/rl/memory" -name '*.pb.gz' | wc -l)
  now=$(date +%s%N)
  [ "$first_reload" != 0 ] || first_reload=$now
  last_reload=$now
  kill -HUP "$PROFPIPE_PID"
  reloaded() { [ "$(grep -c 'msg="reloaded ' "$T/scrape.log")" -ge "$i" ]; }
  wait_for 30 reloaded || fail "reload $i not done: $(tail -3 "$T/scrape.log")"
  # a window or two after each reload
  wait_for 30 files_at_least "$T/out/rl/memory" $((before + 2)) ||
    fail "no memory profile after reload $i"
done
for d in $TYPES; do
  n=$(find "$T/out/rl/$d" -name '*.pb.gz' | wc -l)
  wait_for 30 files_at_least "$T/out/rl/$d" $((n + 1)) || fail "no $d profile after the last reload"
done
stop_profpipe "$PROFPIPE_PID"

kept=$(grep -c 'reload swapped the graph: 1 receivers (1 kept running)' "$T/scrape.log")
[ "$kept" = $RELOADS ] || fail "the receiver was kept in $kept of $RELOADS reloads"
replaced=$(grep -c 'reload swapped the graph: .* 1 exporters (0 kept running)' "$T/scrape.log")
[ "$replaced" = $((RELOADS / 3)) ] || fail "want the exporter replaced in $((RELOADS / 3)) reloads, got $replaced"

idx="$T/out/index.jsonl"
for d in $TYPES; do
  # "from until gen" of every window of this type, by end
  jq -r --arg d "$d" 'select(.labels.__name__ == $d and .labels.service_name == "rl")
      | "\(.from) \(.until) \(.labels.gen)"' "$idx" | sort -n -k2 >"$T/$d.windows"
  n=$(wc -l <"$T/$d.windows")
  [ "$n" -ge $((RELOADS + 2)) ] || fail "$d: only $n windows"
  gap=$(awk 'NR > 1 && $1 != prev { print "window " NR " starts at " $1 ", the one before ended at " prev; exit }
             $1 >= $2 { print "window " NR " is empty or reversed: " $1 " .. " $2; exit }
             { prev = $2 }' "$T/$d.windows")
  [ -z "$gap" ] || fail "$d: the delta chain breaks: $gap"
  read -r chain_from _ < "$T/$d.windows"
  chain_until=$(tail -1 "$T/$d.windows" | cut -d' ' -f2)
  [ "$chain_from" -lt "$first_reload" ] && [ "$chain_until" -gt "$last_reload" ] ||
    fail "$d: the chain ($chain_from .. $chain_until) does not span the reloads ($first_reload .. $last_reload)"
  gens=$(cut -d' ' -f3 "$T/$d.windows" | sort -u | wc -l)
  [ "$gens" -ge 3 ] || fail "$d: only $gens gen values: the processor changes did not take effect"
  pass "$d: $n windows chained without a gap across $RELOADS reloads, $gens processor versions"
done
assert_no_negative
pass "pprof_scrape kept through $RELOADS reloads (processor changed, exporter replaced, nothing changed): its delta baselines lived on"
