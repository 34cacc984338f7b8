#!/usr/bin/env bash
# Slowloris on both listeners: 100 connections to the receiver, each
# sending its headers one byte a second, 20 more sending a body one byte a
# second, and 40 dripping headers to telemetry, from four addresses other
# than the good client's. request_timeout (5s) must cut every one of them
# (the idle timeout alone never would: each byte resets it), while a good
# /ingest and /metrics keep being answered. Bounded: the attack lasts 20 s,
# the whole test well under 2 minutes.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/security/sec_lib.sh"

good_profile
sec_start s
printf 'POST /ingest?name=x HTTP/1.1\r\nHost: x\r\n' >"$T/head_drip"
printf 'POST /ingest?name=x&format=pprof HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c2RrOnB3\r\nContent-Length: 100000\r\n\r\n' >"$T/body_drip"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >"$T/tel_drip"

start_good_client
for src in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5; do
  "$ATTACK" hold -p "$RPORT" -s $src -n 25 -r 1 -t 20 -f "$T/head_drip" >"$T/hold_$src" &
  PIDS+=($!)
done
"$ATTACK" hold -p "$RPORT" -s 127.0.0.6 -n 10 -r 1 -t 20 -f "$T/body_drip" >"$T/hold_body1" & PIDS+=($!)
"$ATTACK" hold -p "$RPORT" -s 127.0.0.7 -n 10 -r 1 -t 20 -f "$T/body_drip" >"$T/hold_body2" & PIDS+=($!)
"$ATTACK" hold -p "$MPORT" -s 127.0.0.8 -n 8 -r 1 -t 20 -f "$T/tel_drip" >"$T/hold_tel1" & PIDS+=($!)
"$ATTACK" hold -p "$MPORT" -s 127.0.0.9 -n 8 -r 1 -t 20 -f "$T/tel_drip" >"$T/hold_tel2" & PIDS+=($!)
wait_for 40 test -s "$T/hold_tel2" -a -s "$T/hold_body2" -a -s "$T/hold_127.0.0.5" ||
  fail "the attack clients did not finish in time"
sleep 1
stop_good_client "slowloris"
for f in "$T"/hold_*; do
  out=$(cat "$f")
  connected=$(attack_field "$out" connected)
  open=$(attack_field "$out" open_at_end)
  last=$(attack_field "$out" last_close_s)
  [ "$connected" -gt 0 ] || fail "$(basename "$f"): no connection made: $out"
  [ "$open" = 0 ] || fail "$(basename "$f"): $open dripping connections still open after 20 s: $out"
  # cut by the 5 s deadline (plus the watchdog's period and a busy machine)
  awk -v l="$last" 'BEGIN { exit !(l <= 15) }' || fail "$(basename "$f"): last one cut only at ${last}s"
  echo "  $(basename "$f"): $connected connected, all cut, the last at ${last}s"
done
cut=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MPORT/metrics" |
  awk '$1 ~ /^profpipe_http_connections_cut_total/ { s += $NF } END { print s + 0 }')
[ "$cut" -ge 100 ] || fail "only $cut connections counted as cut by request_timeout"
pass "slowloris: every dripping connection cut by request_timeout ($cut counted), good clients served"
check_rss "slowloris"
[ "$(count_lines "$T/s.log" 'level=warn')" -le 2 ] ||
  fail "the attack flooded the log with warnings: $(grep -m3 'level=warn' "$T/s.log")"
check_nothing_lost
