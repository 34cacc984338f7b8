#!/usr/bin/env bash
# 2,000 idle connections to each listener, while a good client pushes and
# scrapes. First from two addresses (the per-IP limit, 16 and 8, holds
# them to a few dozen), then from 40 addresses at once, past the total
# limits (64 and 32): each new connection then closes the oldest one that
# has not sent a request, so the good client's fresh connection is served
# instead of waiting in the kernel's queue behind the idle ones. Bounded:
# each wave lasts 15 s, the test about a minute.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/security/sec_lib.sh"

ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4500 ] || fail "need 4500 descriptors for 2 x 2,000 connections; ulimit -n is $(ulimit -n)"
good_profile
sec_start f
fds_before=$(ls /proc/$PROFPIPE_PID/fd | wc -l)

wave() { # NAME SOURCES...: 2,000 idle connections to each listener, spread over SOURCES
  local name=$1; shift
  local per=$(( 2000 / $# )) src
  start_good_client
  for src in "$@"; do
    "$ATTACK" hold -p "$RPORT" -s "$src" -n "$per" -t 15 >"$T/$name.r.$src" & PIDS+=($!)
    "$ATTACK" hold -p "$MPORT" -s "$src" -n "$per" -t 15 >"$T/$name.m.$src" & PIDS+=($!)
  done
  sleep 5
  local fds
  fds=$(ls /proc/$PROFPIPE_PID/fd | wc -l)
  # 64 + 32 tracked at most, twice that accepted for a moment
  [ "$fds" -le $(( fds_before + 2 * (64 + 32) )) ] ||
    fail "$name: profpipe holds $fds descriptors during the attack ($fds_before before)"
  echo "  $name: profpipe holds $fds descriptors during the attack ($fds_before before)"
  wait_for 40 all_done "$name" "$@" || fail "$name: attack clients did not finish"
  stop_good_client "$name"
  local total=0 f
  for f in "$T/$name".*; do total=$(( total + $(attack_field "$(cat "$f")" connected) )); done
  echo "  $name: $total attack connections were accepted by the kernel"
}
all_done() { local name=$1 src; shift; for src in "$@"; do [ -s "$T/$name.r.$src" ] && [ -s "$T/$name.m.$src" ] || return 1; done; }

wave two 127.0.0.2 127.0.0.3
pass "2,000 idle connections per listener from two addresses: good clients served"
sources=()
for i in $(seq 10 49); do sources+=("127.0.1.$i"); done
wave forty "${sources[@]}"
cut=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MPORT/metrics" |
  awk '$1 ~ /^profpipe_http_connections_cut_total.*max_connections/ { s += $NF } END { print s + 0 }')
[ "$cut" -gt 0 ] || fail "no connection closed to make room past max_connections"
pass "2,000 idle connections per listener from 40 addresses: $cut closed for room, good clients served"
check_rss "idle flood"
[ "$(count_lines "$T/f.log" 'level=warn')" -le 2 ] ||
  fail "the attack flooded the log with warnings: $(grep -m3 'level=warn' "$T/f.log")"
check_nothing_lost
