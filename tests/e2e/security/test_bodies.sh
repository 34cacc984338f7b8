#!/usr/bin/env bash
# Hostile bodies and heads against the receiver while a good client pushes
# and scrapes: 256 KiB JSON of empty strings (and deep nesting, a huge
# number), 16 concurrent gzip bombs (as Content-Encoding and as a
# profile), a bomb while four half-sent uploads hold the whole memory
# budget (503 with Retry-After), a 2 GB Content-Length, 100 KB of
# headers, and chunked-encoding abuse. Each gets a 4xx/503 (or the
# connection closed, for what is not HTTP), profpipe's RSS peak stays
# under the bound, good requests keep being answered within the latency
# bound, and every accepted profile is written. Bounded: every client has
# a timeout; the test ends within 2 minutes.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/security/sec_lib.sh"

good_profile
sec_start b
push="http://127.0.0.1:$RPORT/push.v1.PusherService/Push"
ingest="http://127.0.0.1:$RPORT/ingest?name=bad&format=pprof"

# status FILE_OR_ARGS: curl's status code for one hostile request
status() { curl -sS -o "$T/reply" -w '%{http_code}' --max-time 60 -u sdk:pw "$@" 2>/dev/null || true; }
expect() { # WHAT WANTED_CODES_REGEX GOT
  [[ "$3" =~ ^($2)$ ]] || fail "$1: HTTP $3, want $2: $(head -c 300 "$T/reply" 2>/dev/null)"
  echo "  $1: HTTP $3"
}

lines_are() { [ "$(wc -l <"$1")" = "$2" ]; }
start_good_client

# --- JSON shapes -----------------------------------------------------
awk 'BEGIN { printf "{\"series\":["; for (i = 0; i < 88000; i++) printf "\"\","; printf "\"\"]}" }' >"$T/strings.json"
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "["; }' >"$T/deep.json"
awk 'BEGIN { printf "{\"series\":[],\"n\":"; for (i = 0; i < 262144; i++) printf "9"; printf "}" }' >"$T/number.json"
awk 'BEGIN { printf "{\"series\":[{\"labels\":["; for (i = 0; i < 20000; i++) printf "{\"name\":\"\",\"value\":\"\"},"; printf "{}],\"samples\":[{\"rawProfile\":\"AAAA\"}]}]}" }' >"$T/labels.json"
[ "$(stat -c %s "$T/strings.json")" -ge 262144 ] || fail "strings.json too small"
for i in $(seq 1 16); do
  curl -sS -o /dev/null -w '%{http_code}\n' --max-time 60 -u sdk:pw -H 'Content-Type: application/json' \
    --data-binary @"$T/strings.json" "$push" >>"$T/strings.codes" 2>/dev/null &
done
wait_for 60 lines_are "$T/strings.codes" 16 || fail "16 JSON requests not answered in 60 s"
codes=$(sort "$T/strings.codes" | uniq -c | tr '\n' ' ')
[ "$(grep -cvE '^(400|503)$' "$T/strings.codes")" = 0 ] || fail "16 x 256 KiB of empty strings: $codes"
echo "  16 concurrent 256 KiB many-strings JSON: $codes"
expect "deep nesting" 400 "$(status -H 'Content-Type: application/json' --data-binary @"$T/deep.json" "$push")"
grep -q "nested deeper" "$T/reply" || fail "deep nesting: $(cat "$T/reply")"
expect "a 256 KiB number" "200|400" "$(status -H 'Content-Type: application/json' --data-binary @"$T/number.json" "$push")"
expect "20,000 empty labels" 400 "$(status -H 'Content-Type: application/json' --data-binary @"$T/labels.json" "$push")"
check_rss "JSON shapes"

# --- 16 concurrent gzip bombs ------------------------------------------
head -c $((64 << 20)) /dev/zero | gzip -9 >"$T/bomb.gz" # 64 MiB in ~64 KiB
: >"$T/bomb.codes"
for i in $(seq 1 16); do
  src=127.0.0.$(( 2 + i % 4 ))
  if [ $((i % 2)) = 0 ]; then
    curl -sS -o /dev/null -D "$T/bombhdr.$i" -w '%{http_code}\n' --max-time 60 --interface $src -u sdk:pw \
      -H 'Content-Encoding: gzip' -H 'Content-Type: application/proto' \
      --data-binary @"$T/bomb.gz" "$push" >>"$T/bomb.codes" 2>/dev/null &
  else
    curl -sS -o /dev/null -D "$T/bombhdr.$i" -w '%{http_code}\n' --max-time 60 --interface $src -u sdk:pw \
      -H 'Content-Type: application/octet-stream' \
      --data-binary @"$T/bomb.gz" "$ingest" >>"$T/bomb.codes" 2>/dev/null &
  fi
done
wait_for 60 lines_are "$T/bomb.codes" 16 || fail "gzip bombs not answered in 60 s"
codes=$(sort "$T/bomb.codes" | uniq -c | tr '\n' ' ')
[ "$(grep -cvE '^(413|503)$' "$T/bomb.codes")" = 0 ] || fail "16 gzip bombs: $codes"
echo "  16 concurrent gzip bombs: $codes"
check_rss "gzip bombs"
# a bomb that found the budget spent was told when to retry (the SDKs do).
# Whether any did depends on timing: a bomb whose gzip trailer already
# says it is too large is refused within microseconds.
grep -l '^HTTP/1.1 503' "$T"/bombhdr.* >"$T/h503" || true
while read -r f; do grep -qi '^Retry-After: 1' "$f" || fail "503 without Retry-After: $(cat "$f")"; done <"$T/h503"

# --- the budget spent --------------------------------------------------
# Four uploads that stop part-way hold the whole memory_budget: past 2 MiB
# a body's buffer is 4 MiB, and 4 x 4 MiB is the 16 MiB budget. While
# they hold it, a bomb is told to retry; once they end, it is refused for
# what it is. request_timeout (5 s) cuts a holder, so a round that a busy
# machine made too slow to see the 503 is tried again, up to 5 times.
hold_body() { # a chunked upload of 2.2 MB, then a byte a second until $T/release
  { head -c 2200000 /dev/zero
    for _ in $(seq 1 60); do [ -e "$T/release" ] && break; sleep 1; printf a; done
  } | curl -sS -o /dev/null -w '%{http_code}\n' --max-time 70 -u sdk:pw -X POST -T - -H 'Expect:' \
      -H 'Content-Type: application/octet-stream' "$ingest" >>"$T/hold.codes" 2>/dev/null
}
bomb() { status "$@" -H 'Content-Encoding: gzip' -H 'Content-Type: application/proto' --data-binary @"$T/bomb.gz" "$push"; }
bomb_busy() { [ "$(bomb -D "$T/busyhdr")" = 503 ]; }
bomb_refused() { [ "$(bomb)" = 413 ]; }
spent=0
for round in 1 2 3 4 5; do
  rm -f "$T/release"
  : >"$T/hold.codes"
  for _ in 1 2 3 4; do hold_body & done
  if wait_for 30 bomb_busy; then spent=$round; fi
  touch "$T/release"
  wait_for 70 lines_are "$T/hold.codes" 4 || fail "the budget holders did not end"
  [ "$spent" = 0 ] || break
done
[ "$spent" != 0 ] || fail "4 x 2.2 MB uploads never spent the 16 MiB memory_budget in 5 rounds"
grep -qi '^Retry-After: 1' "$T/busyhdr" || fail "503 without Retry-After: $(cat "$T/busyhdr")"
grep -q 'memory_budget is in use' "$T/reply" || fail "503 for the spent budget: $(cat "$T/reply")"
codes=$(sort "$T/hold.codes" | uniq -c | tr '\n' ' ') # (000: cut by request_timeout)
# the holders' budget comes back when the server has closed their requests
wait_for 30 bomb_refused || fail "a bomb once the holders ended: $(cat "$T/reply")"
echo "  budget spent (round $spent): a bomb answered 503 with Retry-After; holders: $codes"
check_rss "budget spent"

# --- 2 GB Content-Length -----------------------------------------------
printf 'POST /ingest?name=x&format=pprof HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c2RrOnB3\r\nContent-Length: 2000000000\r\n\r\n' >"$T/big_head"
out=$("$ATTACK" raw -p "$RPORT" -s 127.0.0.2 -f "$T/big_head" -z -t 20)
[[ "$(attack_field "$out" status)" == "HTTP/1.1 413"* ]] || fail "2 GB Content-Length: $out"
sent=$(attack_field "$out" sent)
[ "$sent" -lt $((64 << 20)) ] || fail "2 GB Content-Length: the server read $sent bytes before refusing"
echo "  2 GB Content-Length: $(attack_field "$out" status) after $sent bytes"
printf 'POST /ingest?name=x&format=pprof HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n' >"$T/big_anon"
out=$("$ATTACK" raw -p "$RPORT" -s 127.0.0.2 -f "$T/big_anon" -z -t 20)
[[ "$(attack_field "$out" status)" == "HTTP/1.1 401"* ]] || fail "2 GB Content-Length without credentials: $out"
echo "  2 GB Content-Length without credentials: $(attack_field "$out" status)"

# --- 100 KB of headers -------------------------------------------------
big=$(head -c 100000 /dev/zero | tr '\0' a)
expect "100 KB header, receiver" "413|414|431|000" "$(status -H "X-Big: $big" --data-binary @"$GOOD_PROFILE" "$ingest")"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $TOKEN" -H "X-Big: $big" "http://127.0.0.1:$MPORT/metrics" 2>/dev/null || true)
expect "100 KB header, telemetry" "413|414|431|000" "$code"
check_rss "100 KB headers"

# --- chunked abuse -----------------------------------------------------
chunked_head='POST /ingest?name=x&format=pprof HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c2RrOnB3\r\nTransfer-Encoding: chunked\r\n\r\n'
printf "$chunked_head"'FFFFFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n' >"$T/ch_huge"
printf "$chunked_head"'zz\r\nabc\r\n0\r\n\r\n' >"$T/ch_garbage"
printf "$chunked_head"'7fffffffffffffff\r\n' >"$T/ch_maxsize"
{ printf "$chunked_head"; for i in $(seq 1 80); do printf '10000\r\n'; head -c 65536 /dev/zero; printf '\r\n'; done; printf '0\r\n\r\n'; } >"$T/ch_toolarge"
{ printf "$chunked_head"; awk 'BEGIN { for (i = 0; i < 100000; i++) printf "1;ext=%d\r\na\r\n", i }'; printf '0\r\n\r\n'; } >"$T/ch_tiny"
for f in ch_huge ch_garbage ch_maxsize ch_toolarge ch_tiny; do
  out=$("$ATTACK" raw -p "$RPORT" -s 127.0.0.3 -f "$T/$f" -t 20)
  st=$(attack_field "$out" status)
  case "$f:$st" in
    ch_toolarge:"HTTP/1.1 413"*) ;;
    ch_tiny:"HTTP/1.1 400"*) ;; # 100,000 bytes of "a" are no pprof
    ch_huge:* | ch_garbage:* | ch_maxsize:*) [[ "$st" == closed || "$st" == "HTTP/1.1 4"* ]] || fail "$f: $out" ;;
    *) fail "$f: $out" ;;
  esac
  echo "  chunked $f: $st"
done
check_rss "chunked abuse"

sleep 1
stop_good_client "hostile bodies"
pass "hostile bodies refused, good clients served"
check_nothing_lost
