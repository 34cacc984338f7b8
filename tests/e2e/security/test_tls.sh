#!/usr/bin/env bash
# TLS on both listeners, with certificates made by openssl at test time:
# curl verifies the server certificate (and refuses it against a wrong
# CA); the receiver requires a client certificate (mutual TLS): one from
# the right CA is served, none or one from another CA gets 403; telemetry
# with min_version 1.3 refuses a TLS 1.2-only client; after the files are
# replaced and SIGHUP sent, both listeners present the new certificate.
# Bounded: a handful of requests, well under a minute.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"
source "$SOURCE_DIR/tests/e2e/security/sec_lib.sh"
command -v openssl >/dev/null || fail "openssl is needed (scripts/setup.sh test installs it)"

good_profile
C="$T/certs"; mkdir -p "$C"
ssl() { openssl "$@" >>"$C/openssl.log" 2>&1 || fail "openssl $1 failed: $(tail -3 "$C/openssl.log")"; }
make_ca() { # NAME
  ssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$C/$1.key" -out "$C/$1.pem"
}
make_cert() { # NAME CA EXT
  ssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$C/$1.key" -out "$C/$1.csr"
  printf '%s\n' "$3" >"$C/$1.ext"
  ssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" -CAcreateserial -days 2 \
    -extfile "$C/$1.ext" -out "$C/$1.pem"
}
make_ca ca; make_ca otherca
make_cert server ca "subjectAltName=IP:127.0.0.1"
make_cert client ca "extendedKeyUsage=clientAuth"
make_cert intruder otherca "extendedKeyUsage=clientAuth"
cp "$C/server.pem" "$C/live.pem"; cp "$C/server.key" "$C/live.key"

sec_start t "    tls: {cert_file: $C/live.pem, key_file: $C/live.key, client_ca_file: $C/ca.pem}" \
  "    tls: {cert_file: $C/live.pem, key_file: $C/live.key, min_version: \"1.3\"}"
logged "$T/t.log" "listening on 127.0.0.1:$RPORT (TLS)" || fail "receiver not on TLS: $(grep listening "$T/t.log")"
r="https://127.0.0.1:$RPORT/ingest?name=good%7Bmtls%3Dyes%7D&format=pprof"
m="https://127.0.0.1:$MPORT/metrics"
ingest() { curl -sS -o "$T/reply" -w '%{http_code}' --max-time 20 -u sdk:pw -H 'Content-Type: application/octet-stream' --data-binary @"$GOOD_PROFILE" "$@" 2>"$T/curl.err"; }

# server certificate
code=$(curl -sS -o "$T/metrics" -w '%{http_code}' --max-time 20 --cacert "$C/ca.pem" -H "Authorization: Bearer $TOKEN" "$m")
[ "$code" = 200 ] && grep -q '^profpipe_build_info' "$T/metrics" || fail "telemetry over TLS: HTTP $code"
rc=0; curl -sS -o /dev/null --max-time 20 --cacert "$C/otherca.pem" -H "Authorization: Bearer $TOKEN" "$m" 2>"$T/curl.err" || rc=$?
[ "$rc" = 60 ] || fail "a client trusting another CA was not refused the server certificate (curl exit $rc)"
rc=0; curl -sS -o /dev/null --max-time 20 "http://127.0.0.1:$MPORT/metrics" 2>/dev/null || rc=$?
[ "$rc" != 0 ] || fail "plain HTTP answered on the TLS telemetry port"
pass "telemetry: served over TLS with the server certificate; wrong CA refused (curl 60); plain HTTP refused"
rc=0; curl -sS -o /dev/null --max-time 20 --cacert "$C/ca.pem" --tlsv1.2 --tls-max 1.2 -H "Authorization: Bearer $TOKEN" "$m" 2>/dev/null || rc=$?
[ "$rc" != 0 ] || fail "min_version 1.3: a TLS 1.2-only client was served"
pass "telemetry: min_version 1.3 refuses a TLS 1.2 client (curl $rc)"

# mutual TLS on the receiver
code=$(ingest --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" "$r") || true
[ "$code" = 200 ] || fail "mTLS with the right client certificate: HTTP $code $(cat "$T/reply" "$T/curl.err")"
accepted=1
code=$(ingest --cacert "$C/ca.pem" "$r") || true
[ "$code" = 403 ] || [ "$code" = 000 ] || fail "mTLS without a client certificate: HTTP $code"
[ "$code" != 403 ] || grep -q "client certificate" "$T/reply" || fail "403 without a reason: $(cat "$T/reply")"
echo "  no client certificate: HTTP $code $(head -c 120 "$T/reply")"
code=$(ingest --cacert "$C/ca.pem" --cert "$C/intruder.pem" --key "$C/intruder.key" "$r") || true
[ "$code" = 403 ] || [ "$code" = 000 ] || fail "mTLS with another CA's client certificate: HTTP $code"
echo "  client certificate from another CA: HTTP $code"
pass "receiver: mutual TLS serves the right client certificate, refuses none and another CA's"

# rotation on SIGHUP
fingerprint() { openssl s_client -connect "127.0.0.1:$1" -servername 127.0.0.1 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }
old_r=$(fingerprint "$RPORT"); old_m=$(fingerprint "$MPORT")
[ "$old_r" = "$(openssl x509 -in "$C/server.pem" -noout -fingerprint -sha256)" ] || fail "receiver presents another certificate: $old_r"
make_cert server2 ca "subjectAltName=IP:127.0.0.1"
cp "$C/server2.pem" "$C/live.pem"; cp "$C/server2.key" "$C/live.key"
want=$(openssl x509 -in "$C/server2.pem" -noout -fingerprint -sha256)
kill -HUP "$PROFPIPE_PID"
wait_for 30 logged "$T/t.log" "reloaded" || fail "no reload: $(tail -3 "$T/t.log")"
rotated() { [ "$(fingerprint "$RPORT")" = "$want" ] && [ "$(fingerprint "$MPORT")" = "$want" ]; }
wait_for 30 rotated || fail "after SIGHUP: receiver $(fingerprint "$RPORT"), telemetry $(fingerprint "$MPORT"), want $want (was $old_r / $old_m)"
code=$(ingest --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" "$r") || true
[ "$code" = 200 ] || fail "mTLS after rotation: HTTP $code"
accepted=$((accepted + 1))
pass "SIGHUP: both listeners present the rotated certificate"

GOOD_ACCEPTED=$accepted
check_nothing_lost
