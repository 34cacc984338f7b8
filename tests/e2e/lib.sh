# Shared helpers for the end-to-end tests; sourced by tests/e2e/**/test_*.sh.
# ctest sets PROFPIPE (the binary), BUILD_DIR, SOURCE_DIR and SANITIZE.
#
# Two pitfalls these tests have hit: `wait_for N test "$(cmd)"` expands
# $(cmd) once, so pass a function that reads the state on every poll; and
# `cmd | grep -q …` or `cmd | head -1` fails under pipefail when the reader
# leaves before cmd is done writing (SIGPIPE, exit 141): read the input
# whole (`grep … >/dev/null`, `sed -n 1p`); tests/style/check_pipes.sh
# refuses the early readers.
set -euo pipefail

: "${SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BUILD_DIR:=$SOURCE_DIR/build}"
: "${PROFPIPE:=$BUILD_DIR/profpipe}"
: "${SANITIZE:=0}"

export GO111MODULE=off GOPATH=/usr/share/gocode
# one Go build cache for the plain and the sanitizer runs of the suite
export GOCACHE="$SOURCE_DIR/build/gocache"

T=$(mktemp -d "${TMPDIR:-/tmp}/profpipe-e2e.XXXXXX")
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.2
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
# a command that ends a test through `set -e` is named, not silent
trap 'echo "FAIL: line $LINENO of ${BASH_SOURCE[0]}: exit $? from: $BASH_COMMAND" >&2' ERR

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# Runs a command in the background, remembering it for cleanup.
bg() { "$@" & PIDS+=($!); }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1s until it succeeds.
# A deadline under WAIT_FOR_MIN_S is raised to it: with the machine busy
# (scripts/test.sh --under-load) a condition that comes may take that long,
# and waiting longer costs nothing when it comes early. (Never use wait_for
# to show that something does not happen.)
WAIT_FOR_MIN_S=30
wait_for() {
  local secs=$1; shift
  [ "$secs" -ge "$WAIT_FOR_MIN_S" ] || secs=$WAIT_FOR_MIN_S
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# A TCP port on 127.0.0.1 no socket holds, in any state, below the
# kernel's ephemeral range (so no outgoing connection takes it meanwhile).
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$(( 10000 + RANDOM % 22000 ))
    if ! ss -Htan "( sport = :$p or dport = :$p )" | grep . >/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# go_build OUT SRC_DIR: builds a Go test program (standard library and
# Debian's golang-*-dev packages only).
go_build() { (cd "$2" && go build -o "$1" .) ; }

# Starts profpipe with a config; its log goes to $T/<name>.log.
# Sets PROFPIPE_PID.
start_profpipe() { # name config [extra args]
  local name=$1 cfg=$2; shift 2
  "$PROFPIPE" run -c "$cfg" "$@" >"$T/$name.log" 2>&1 &
  PROFPIPE_PID=$!
  PIDS+=("$PROFPIPE_PID")
}

# Sends SIGTERM and waits for exit; fails unless it exits 0 in time.
stop_profpipe() { # pid [seconds]
  local pid=$1 secs=${2:-30} rc=0
  kill -TERM "$pid"
  for _ in $(seq 1 $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then fail "profpipe $pid did not exit within ${secs}s"; fi
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "profpipe $pid exited $rc"
}

# go tool pprof -raw on a file, to $2.
pprof_raw() { go tool pprof -raw "$1" > "$2" 2>"$2.err" || { cat "$2.err" >&2; return 1; }; }

# Sum of sample values (column N, 1-based) in `go tool pprof -raw` output.
pprof_total() { # file column
  go tool pprof -raw "$1" 2>/dev/null | awk -v col="$2" '
    /^Samples:/ {s=1; getline; next}
    /^Locations/ {s=0}
    s && /^ *[0-9-]+/ { sub(/:.*/, ""); n=split($0, v, " "); t += v[col] }
    END { printf "%.0f\n", t }'
}
