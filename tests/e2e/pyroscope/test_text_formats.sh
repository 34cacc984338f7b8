#!/usr/bin/env bash
# Folded and lines bodies written by a tool other than profpipe: `perf
# record -g` samples a small C program, `perf script` prints the stacks,
# and an awk script collapses them (leaf-first frames reversed, offsets
# cut, as flamegraph's stackcollapse-perf does) into the folded body
# `comm;main;hot_loop N` and the lines body (one stack per sample). Both
# go to /ingest as Pyroscope's SDKs and agents send them; the file
# exporter's output is checked: __name__ and type from the app name and
# sampleRate, the sample total equal to perf's sample count (scaled by the
# 1e9/sampleRate period for folded CPU), and hot_loop the top function by
# `go tool pprof -top`.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

command -v perf >/dev/null || fail "perf (linux-perf) is not installed"
cat >"$T/burn.c" <<'C'
#include <time.h>
static volatile unsigned long sink;
__attribute__((noinline)) static void hot_loop(void)
{
    for (unsigned long i = 0; i < 200000; i++)
        sink += i * i;
}
int main(void)
{
    struct timespec s, n;
    clock_gettime(CLOCK_MONOTONIC, &s);
    do {
        hot_loop();
        clock_gettime(CLOCK_MONOTONIC, &n);
    } while ((n.tv_sec - s.tv_sec) * 1000000000L + (n.tv_nsec - s.tv_nsec) < 1000000000L);
    return 0;
}
C
cc -O1 -g -fno-omit-frame-pointer -o "$T/burn" "$T/burn.c" || fail "cannot build the workload"
perf record -q -g -F 499 -o "$T/perf.data" -- "$T/burn" >"$T/perf.log" 2>&1 ||
  fail "perf record: $(tail -3 "$T/perf.log")"
perf script -i "$T/perf.data" >"$T/perf.txt" 2>>"$T/perf.log" || fail "perf script: $(tail -3 "$T/perf.log")"
n_samples=$(grep -c '^[^[:space:]]' "$T/perf.txt" || true)
[ "$n_samples" -gt 10 ] || fail "perf recorded only $n_samples samples"

# perf script: a header line per sample, then its frames leaf first
# ("addr sym+off (dso)"), then an empty line.
collapse() { # MODE: folded (stack count) or lines (one stack per sample)
  awk -v mode="$1" '
    function flush() {
      if (stack != "") { if (mode == "lines") print stack; else n[stack]++ }
      stack = ""; comm = ""
    }
    /^[^[:space:]]/ { flush(); comm = $1; stack = comm; frames = ""; next }
    /^[[:space:]]+[0-9a-f]+ / {
      sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym)
      frames = sym (frames == "" ? "" : ";" frames)
      stack = comm ";" frames; next
    }
    /^$/ { flush() }
    END { flush(); if (mode != "lines") for (s in n) print s, n[s] }' "$T/perf.txt"
}
collapse folded >"$T/body.folded"
collapse lines >"$T/body.lines"
[ "$(awk '{t += $NF} END {print t}' "$T/body.folded")" = "$n_samples" ] ||
  fail "the collapse lost samples"
grep -q 'main;hot_loop [0-9]' "$T/body.folded" || fail "no main;hot_loop stack: $(head -3 "$T/body.folded")"

config() { file_sink_config "$1" "$T/out"; }
start_listening p config; pid=$PROFPIPE_PID; port=$LISTEN_PORT
now=$(date +%s)
ingest() { # query body-file
  local code
  code=$(curl -sS -o "$T/resp" -w '%{http_code}' --data-binary @"$2" "http://127.0.0.1:$port/ingest?$1")
  [ "$code" = 200 ] || fail "/ingest?$1: HTTP $code $(cat "$T/resp")"
}
# folded is the default format; perf sampled at 499 Hz
ingest "name=perfapp%7Bhost%3Dci%7D&from=$now&until=$((now + 1))&sampleRate=499&spyName=perf_script" "$T/body.folded"
ingest "name=perfapp.cpu%7Bhost%3Dci%7D&format=lines&sampleRate=0&from=$now&until=$((now + 1))" "$T/body.lines"
stop_profpipe "$pid"

idx="$T/out/index.jsonl"
[ "$(wc -l <"$idx")" = 2 ] || fail "want 2 profiles: $(cat "$idx")"
folded=$(sed -n 1p "$idx"); lines=$(sed -n 2p "$idx")
jq -e '.labels == {"__name__":"process_cpu","__delta__":"false","host":"ci",
                    "pyroscope_spy":"perf_script","service_name":"perfapp"}
       and .sample_types == ["cpu/nanoseconds"]' <<<"$folded" >/dev/null ||
  fail "folded: $folded"
jq -e '.labels == {"__name__":"process_cpu","__delta__":"false","host":"ci",
                    "pyroscope_spy":"unknown","service_name":"perfapp"}
       and .sample_types == ["samples/count"]' <<<"$lines" >/dev/null ||
  fail "lines: $lines"
period=$((1000000000 / 499))
f_folded="$T/out/$(jq -r .path <<<"$folded")"
f_lines="$T/out/$(jq -r .path <<<"$lines")"
[ "$(pprof_total "$f_folded" 1)" = $((n_samples * period)) ] ||
  fail "folded total $(pprof_total "$f_folded" 1), want $n_samples x $period"
[ "$(pprof_total "$f_lines" 1)" = "$n_samples" ] ||
  fail "lines total $(pprof_total "$f_lines" 1), want $n_samples"
go tool pprof -raw "$f_folded" 2>/dev/null | grep "^Period: $period" >/dev/null || fail "folded: period is not $period"
for f in "$f_folded" "$f_lines"; do
  top=$(go tool pprof -top "$f" 2>/dev/null | awk '/flat%/ {getline; print $NF; exit}')
  [ "$top" = hot_loop ] || fail "$f: top function is '$top', want hot_loop"
done
pass "perf script collapsed to folded ($n_samples samples x $period ns) and lines: totals, types, names, hot_loop on top"
