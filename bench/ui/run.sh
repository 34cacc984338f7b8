#!/usr/bin/env bash
# First paint of the built-in page's flame graph for a 5,000-location CPU
# profile (tests/e2e/ui/bigprof: 5,000 functions, 20,000 samples, stacks
# 8-40 deep), in Debian's chromium headless at 1400x900, against the
# peer: the flame graph of `go tool pprof -http` (Go's own pprof web UI,
# d3-flame-graph) on the same file, in the same browser, in the same run.
#
# Counted, for each of RUNS page loads (fresh browser profile each time):
#   profpipe: performance.now() when the page has drawn the frames (the
#     page records it itself: navigation start -> frames in the DOM; this
#     includes fetching /api/v1/series and the flame graph JSON, which the
#     server builds by decoding the kept payload), and the page's own
#     fetch+layout time;
#   pprof: performance.now() at the first poll (every 20 ms) that finds
#     the chart's rects in the DOM (so up to 20 ms late).
# Medians are printed, and profpipe/pprof as a ratio.
#   bench/ui/run.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=$(cd "${1:-build}" && pwd)
RUNS=${2:-5}
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BUILD_DIR/gocache" CDP_POLL_MS=20
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$T"' EXIT
export CDP_TMP=$T
CDP=tests/e2e/ui/cdp.js

(cd tests/e2e/ui/bigprof && go build -o "$T/bigprof" .)
mkdir -p "$T/in"
"$T/bigprof" "$T/in/big.pb.gz" 5000 20000 1
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MP=$(port)
PP=$(port)
cat >"$T/c.yaml" <<YAML
receivers:
  file: {include: ["$T/in/*.pb.gz"]}
exporters:
  file: {directory: "$T/out"}
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles/default: {receivers: [file], exporters: [file]}
YAML
"$BUILD_DIR/profpipe" -c "$T/c.yaml" 2>"$T/profpipe.log" & PIDS+=($!)
go tool pprof -http="127.0.0.1:$PP" -no_browser "$T/in/big.pb.gz" 2>"$T/pprof.log" & PIDS+=($!)
for _ in $(seq 1 100); do
  SERIES=$(curl -sf "http://127.0.0.1:$MP/api/v1/series" | jq -r '.series[0].id // empty' || true)
  [ -n "$SERIES" ] && curl -sf "http://127.0.0.1:$PP/ui/flamegraph" >/dev/null 2>&1 && break
  sleep 0.2
done
[ -n "$SERIES" ] || { cat "$T/profpipe.log"; echo "no series"; exit 1; }
size=$(curl -s "http://127.0.0.1:$MP/api/v1/profile?series=$SERIES" | wc -c)
nodes=$(curl -s "http://127.0.0.1:$MP/api/v1/profile?series=$SERIES" | jq '"\(.nodes_shown) of \(.nodes_total)"')

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ours=() ours_render=() peer=()
for i in $(seq 1 "$RUNS"); do
  r=$(node "$CDP" "http://127.0.0.1:$MP/#profiles?series=$SERIES" \
    "document.body.dataset.ready === '1' && document.querySelector('#flame .frame')" \
    "({paint: +document.body.dataset.firstPaintMs, render: +document.body.dataset.renderMs, frames: +document.body.dataset.frames})" 2>/dev/null)
  ours+=("$(echo "$r" | jq .paint)"); ours_render+=("$(echo "$r" | jq .render)")
  frames=$(echo "$r" | jq .frames)
  r=$(node "$CDP" "http://127.0.0.1:$PP/ui/flamegraph" "document.querySelectorAll('#chart rect').length > 0" \
    "({paint: performance.now(), rects: document.querySelectorAll('#chart rect').length})" 2>/dev/null)
  peer+=("$(echo "$r" | jq .paint)")
  rects=$(echo "$r" | jq .rects)
done
o=$(printf '%s\n' "${ours[@]}" | median)
orender=$(printf '%s\n' "${ours_render[@]}" | median)
p=$(printf '%s\n' "${peer[@]}" | median)
echo "profile: 5000 locations, 20000 samples; flame graph JSON $size bytes, nodes $nodes"
echo "profpipe page: first paint ${o} ms (median of $RUNS), of which fetch+layout ${orender} ms; $frames frames drawn"
echo "go tool pprof -http flame graph: first paint ${p} ms (median of $RUNS); $rects rects drawn"
awk -v o="$o" -v p="$p" 'BEGIN { printf "ratio profpipe/pprof: %.2f\n", o / p }'
