#!/usr/bin/env bash
# The pyroscope exporter against a recording stand-in Pyroscope that
# decodes every request (push.v1.PushRequest, or /ingest's query and body),
# parses each pprof with github.com/google/pprof and checks tenant and
# credentials. Input: one real profile of each Go runtime type (profgen)
# read by the file receiver. Scenarios:
#   503 x3 then 200   every profile delivered exactly once, retries counted,
#                     the configured extra header on every request
#   400               nothing retried, every profile counted as rejected
#   503 for ever      every profile given up on after max_elapsed_time,
#                     counted as failed, none as sent or rejected
#   timeout           an answer 5 s late is given up on after timeout
#                     (500ms) and retried; bearer_token_file
#   429 Retry-After 2 the next attempt waits at least 2 s; batch puts
#                     several series in one PushRequest
#   api: ingest       legacy /ingest: name{labels}, from/until s, pprof body
#   label/size limits what Pyroscope would refuse is rejected before sending
#   tenant_label      one PushRequest per tenant, the label as X-Scope-OrgID
#   TLS               ca_file and a client certificate (mutual TLS), or
#                     insecure_skip_verify; an unknown CA is retried, not sent
#   http client       lib/http_client's options as Alloy's pyroscope.write
#                     has them: inline ca_pem/cert_pem/key_pem, min_version,
#                     authorization from credentials_file, list-valued
#                     headers; HTTP/2 by default, HTTP/1.1 with
#                     enable_http2: false (the Go server reports which)
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

build_recorder
go_profiles_into "$T/in"
n_in=$(ls "$T/in"/*.pb.gz | wc -l)
[ "$n_in" -ge 5 ] || fail "profgen wrote $n_in profiles"

DEFAULT_HEADERS="headers: {X-Extra: yes}"
# run_agent NAME RECORDER_PORT EXTRA_EXPORTER_YAML: file receiver -> exporter.
run_agent() {
  local name=$1 rport=$2 extra=$3
  mport=$(unused_port)
  cat >"$T/$name.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
    service_name: checkout
    labels: {env: test, __internal: dropped}
exporters:
  pyroscope:
    endpoint: ${scheme:-http}://127.0.0.1:$rport
    tenant_id: tenant-1
    ${auth:-bearer_token: tok3n}
    ${headers:-$DEFAULT_HEADERS}
    retry_on_failure: {initial_interval: 100ms, max_interval: 300ms, max_elapsed_time: ${give_up_after:-60s}}
$extra
service:
  telemetry: {address: "127.0.0.1:$mport"}
  pipelines:
    profiles:
      receivers: [file]
      exporters: [pyroscope]
YAML
  start_profpipe "$name" "$T/$name.yaml"
  wait_for 10 logged "$T/$name.log" "telemetry on http://127.0.0.1:$mport/" ||
    fail "$name: no telemetry; $(cat "$T/$name.log")"
}

# finished: every input profile ended as sent or rejected.
finished() {
  local done
  done=$(( $(metric_value "$mport" 'profpipe_exporter_sent_profiles_total') +
           $(metric_value "$mport" 'profpipe_exporter_rejected_profiles_total') ))
  [ "$done" -ge "$n_in" ]
}

# -- 503 x3, then 200: exactly once --------------------------------------
rp=$(unused_port)
start_recorder "$rp" "$T/r1.log" -script 503,503,503,200 -retry-after 0 -bearer tok3n -tenant tenant-1 \
  -header X-Extra=yes
run_agent a1 "$rp" "    external_labels: {cluster: eu-1}"
wait_for 40 finished || fail "503: not finished; $(tail -5 "$T/a1.log"); $(cat "$T/r1.log" | cut -c1-200)"
retries=$(metric_value "$mport" 'profpipe_exporter_retries_total')
sent=$(metric_value "$mport" 'profpipe_exporter_sent_profiles_total')
stop_profpipe "$PROFPIPE_PID"
! grep -q '^error' "$T/r1.log" || fail "recorder: $(grep '^error' "$T/r1.log" | sed -n 1,3p)"
ok=$(count_lines "$T/r1.log" '^profile .* status=200 ')
uniq=$(grep -E '^profile .* status=200 ' "$T/r1.log" | grep -o 'sha=[0-9a-f]*' | sort -u | wc -l)
[ "$ok" = "$n_in" ] && [ "$uniq" = "$n_in" ] ||
  fail "503: $ok profiles accepted ($uniq distinct), want $n_in each; $(cut -c1-160 "$T/r1.log")"
[ "$sent" = "$n_in" ] || fail "503: sent_profiles_total $sent, want $n_in"
[ "$retries" -ge 1 ] || fail "503: no retries counted"
[ "$(count_lines "$T/r1.log" '^req .*status=503')" -ge 3 ] || fail "503: fewer than 3 refused requests"
bad=$(grep -E '^profile .* status=200 ' "$T/r1.log" |
  grep -v 'service_name="checkout"' | grep -v 'env="test"' || true)
[ -z "$bad" ] || fail "503: labels lost: $bad"
bad=$(grep -E '^profile .* status=200 ' "$T/r1.log" | grep -v 'cluster="eu-1"' || true)
[ -z "$bad" ] || fail "503: external_labels not sent: $bad"
grep -q '__internal' "$T/r1.log" && fail "503: a reserved __ label was sent"
for fam in process_cpu memory goroutines; do
  grep -qE "^profile .*status=200 .*__name__=\"$fam\"" "$T/r1.log" || fail "503: no $fam profile"
done
[ "$(count_lines "$T/r1.log" '^req .*tenant=tenant-1 auth=ok')" = "$(count_lines "$T/r1.log" '^req ')" ] ||
  fail "503: tenant or auth missing on some request"
pass "503 x3 then 200: $n_in profiles delivered exactly once after $retries retries"

# -- 503 for ever: given up on after max_elapsed_time, counted as failed ------
rp=$(unused_port)
start_recorder "$rp" "$T/r0.log" -script 503 -bearer tok3n -tenant tenant-1
give_up_after=1s run_agent a0 "$rp" ""
gave_up() { [ "$(metric_value "$mport" 'profpipe_exporter_failed_profiles_total')" -ge "$n_in" ]; }
wait_for 30 gave_up || fail "503 for ever: not given up; $(tail -5 "$T/a0.log")"
failed=$(metric_value "$mport" 'profpipe_exporter_failed_profiles_total')
sent=$(metric_value "$mport" 'profpipe_exporter_sent_profiles_total')
rejected=$(metric_value "$mport" 'profpipe_exporter_rejected_profiles_total')
stop_profpipe "$PROFPIPE_PID"
[ "$failed" = "$n_in" ] && [ "$sent" = 0 ] && [ "$rejected" = 0 ] ||
  fail "503 for ever: failed $failed sent $sent rejected $rejected, want $n_in 0 0"
[ "$(count_lines "$T/r0.log" '^req ')" -ge 2 ] || fail "503 for ever: not retried"
pass "503 for ever: $n_in profiles given up on after max_elapsed_time, counted as failed"

# -- timeout: a late answer is not waited for ------------------------------------
rp=$(unused_port)
start_recorder "$rp" "$T/rt.log" -script 0,200 -hang 5s -bearer tok3n -tenant tenant-1
echo -n tok3n >"$T/token"
auth="bearer_token_file: $T/token" run_agent at "$rp" "    timeout: 500ms"
wait_for 30 finished || fail "timeout: not finished; $(tail -5 "$T/at.log")"
retries=$(metric_value "$mport" 'profpipe_exporter_retries_total')
stop_profpipe "$PROFPIPE_PID"
t1=$(awk '/^req n=1 /{sub("ms=","",$3); print $3}' "$T/rt.log")
t2=$(awk '/^req n=2 /{sub("ms=","",$3); print $3}' "$T/rt.log")
[ -n "$t1" ] && [ -n "$t2" ] || fail "timeout: want 2 requests: $(cut -c1-120 "$T/rt.log")"
[ $((t2 - t1)) -lt 4000 ] || fail "timeout: next request $((t2 - t1)) ms after the hung one: timeout not applied"
[ "$retries" -ge 1 ] || fail "timeout: no retry counted"
uniq=$(grep -E '^profile .* status=200 ' "$T/rt.log" | grep -o 'sha=[0-9a-f]*' | sort -u | wc -l)
[ "$uniq" = "$n_in" ] || fail "timeout: $uniq of $n_in profiles delivered (bearer_token_file?)"
! grep -q '^error' "$T/rt.log" || fail "timeout: $(grep '^error' "$T/rt.log" | sed -n 1,3p)"
pass "timeout: the hung request given up on, next one $((t2 - t1)) ms later; bearer_token_file sent"

# -- 400: rejected, never retried ---------------------------------------------
rp=$(unused_port)
start_recorder "$rp" "$T/r2.log" -script 400 -bearer tok3n -tenant tenant-1 -body "bad profile for test"
run_agent a2 "$rp" ""
wait_for 30 finished || fail "400: not finished; $(tail -5 "$T/a2.log")"
sleep 1 # a retry, if any, would come now
rejected=$(metric_value "$mport" 'profpipe_exporter_rejected_profiles_total')
retries=$(metric_value "$mport" 'profpipe_exporter_retries_total')
stop_profpipe "$PROFPIPE_PID"
[ "$rejected" = "$n_in" ] || fail "400: rejected_profiles_total $rejected, want $n_in"
[ "$retries" = 0 ] || fail "400: $retries retries"
sentn=$(count_lines "$T/r2.log" '^profile ')
uniq=$(grep '^profile ' "$T/r2.log" | grep -o 'sha=[0-9a-f]*' | sort -u | wc -l)
[ "$sentn" = "$n_in" ] && [ "$uniq" = "$n_in" ] || fail "400: $sentn profiles sent ($uniq distinct), want each once"
grep -q 'rejected profile {.*service_name=.*checkout.*bad profile for test' "$T/a2.log" ||
  fail "400: the server's message is not logged with the series: $(grep -i reject "$T/a2.log" | sed -n 1,3p)"
pass "400: $n_in profiles rejected once each, no retry, server message logged"

# -- 429 with Retry-After: 2 --------------------------------------------------
rp=$(unused_port)
start_recorder "$rp" "$T/r3.log" -script 429,200 -retry-after 2 -bearer tok3n -tenant tenant-1
run_agent a3 "$rp" "    batch: {max_profiles: 100, max_delay: 1s}"
wait_for 30 finished || fail "429: not finished; $(tail -5 "$T/a3.log")"
stop_profpipe "$PROFPIPE_PID"
t1=$(awk '/^req n=1 /{sub("ms=","",$3); print $3}' "$T/r3.log")
t2=$(awk '/^req n=2 /{sub("ms=","",$3); print $3}' "$T/r3.log")
[ -n "$t1" ] && [ -n "$t2" ] || fail "429: want 2 requests: $(cut -c1-120 "$T/r3.log")"
[ $((t2 - t1)) -ge 2000 ] || fail "429: retried after $((t2 - t1)) ms, Retry-After asked 2000"
uniq=$(grep -E '^profile .* status=200 ' "$T/r3.log" | grep -o 'sha=[0-9a-f]*' | sort -u | wc -l)
[ "$uniq" = "$n_in" ] || fail "429: $uniq of $n_in profiles delivered"
most=$(awk '/^profile .* status=200 /{c[$2]++} END{m=0; for(k in c) if(c[k]>m) m=c[k]; print m}' "$T/r3.log")
[ "$most" -ge 2 ] || fail "429: batch: no PushRequest carried more than $most profiles"
pass "429: next attempt after $((t2 - t1)) ms (Retry-After: 2); up to $most series per PushRequest"

# -- api: ingest -----------------------------------------------------------------
rp=$(unused_port)
start_recorder "$rp" "$T/r4.log" -script 200 -bearer tok3n -tenant tenant-1
run_agent a4 "$rp" "    api: ingest"
wait_for 30 finished || fail "ingest: not finished; $(tail -5 "$T/a4.log")"
stop_profpipe "$PROFPIPE_PID"
! grep -q '^error' "$T/r4.log" || fail "ingest: $(grep '^error' "$T/r4.log" | sed -n 1,3p)"
[ "$(count_lines "$T/r4.log" '^ingest .*name=checkout\{env=test\} .*format=pprof spyName=profpipe')" = "$n_in" ] ||
  fail "ingest: $(grep '^ingest' "$T/r4.log" | cut -c1-200 | sed -n 1,3p)"
grep -qE '^ingest .*sampleRate=100 .*types=samples/count,cpu/nanoseconds' "$T/r4.log" ||
  fail "ingest: the CPU profile has no sampleRate=100"
awk '/^ingest /{for(i=1;i<=NF;i++){if($i~/^from=/)f=substr($i,6); if($i~/^until=/)u=substr($i,7)}
     if (f < 1000000000 || f > 9999999999 || u < f) bad=1} END{exit bad}' "$T/r4.log" ||
  fail "ingest: from/until are not Unix seconds"
pass "api: ingest: $n_in /ingest requests with name, window and pprof"

# -- local limits: refused before sending ---------------------------------------
rp=$(unused_port)
start_recorder "$rp" "$T/r5.log" -script 200
run_agent a5 "$rp" "    max_label_names_per_series: 2"
wait_for 30 finished || fail "limits: not finished; $(tail -5 "$T/a5.log")"
local_rej=$(metric_value "$mport" 'profpipe_pyroscope_rejected_profiles_total\{.*reason="max_label_names_per_series"')
stop_profpipe "$PROFPIPE_PID"
[ "$(count_lines "$T/r5.log" '^req ')" = 0 ] || fail "limits: requests were sent"
[ "$local_rej" = "$n_in" ] || fail "limits: $local_rej counted by reason, want $n_in"
grep -q 'rejected profile {.*(max_label_names_per_series)' "$T/a5.log" || fail "limits: not logged"
pass "limits: $n_in profiles over max_label_names_per_series rejected locally, none sent"
rp=$(unused_port)
start_recorder "$rp" "$T/r5b.log" -script 200
run_agent a5b "$rp" "    max_profile_size: 64"
wait_for 30 finished || fail "size limit: not finished; $(tail -5 "$T/a5b.log")"
local_rej=$(metric_value "$mport" 'profpipe_pyroscope_rejected_profiles_total\{.*reason="profile_size_limit"')
stop_profpipe "$PROFPIPE_PID"
[ "$(count_lines "$T/r5b.log" '^req ')" = 0 ] || fail "size limit: requests were sent"
[ "$local_rej" = "$n_in" ] || fail "size limit: $local_rej counted by reason, want $n_in"
grep -q 'rejected profile {.*(profile_size_limit)' "$T/a5b.log" || fail "size limit: not logged: $(grep -i reject "$T/a5b.log" | sed -n 1,2p)"
pass "limits: $n_in profiles over max_profile_size rejected locally, none sent"

# -- tenant_label: one PushRequest per tenant, the label sent as the header -----
rp=$(unused_port)
start_recorder "$rp" "$T/r6.log" -script 200
mport=$(unused_port)
cat >"$T/a6.yaml" <<YAML
receivers:
  file/a:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
    service_name: checkout
    labels: {org: tenant-a}
  file/b:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
    service_name: checkout
    labels: {org: tenant-b}
exporters:
  pyroscope:
    endpoint: http://127.0.0.1:$rp
    tenant_label: org
    batch: {max_profiles: 100, max_delay: 1s}
service:
  telemetry: {address: "127.0.0.1:$mport"}
  pipelines:
    profiles:
      receivers: [file/a, file/b]
      exporters: [pyroscope]
YAML
start_profpipe a6 "$T/a6.yaml"
n_in=$((n_in * 2)) # finished() counts both receivers' profiles
wait_for 30 finished || fail "tenants: not finished; $(tail -5 "$T/a6.log")"
stop_profpipe "$PROFPIPE_PID"
grep -q 'org=' "$T/r6.log" && fail "tenants: the tenant label was sent as a label"
per_tenant=$(awk '/^req /{for(i=1;i<=NF;i++) if($i~/^tenant=/) t[$2]=substr($i,8)}
  /^profile /{sub("req=","n=",$2); c[t[$2]]++}
  END{for(k in c) printf "%s:%d ", k, c[k]}' "$T/r6.log")
for tn in tenant-a tenant-b; do
  grep -q "$tn:$((n_in / 2)) " <<<"$per_tenant" || fail "tenants: per tenant $per_tenant, want $((n_in / 2)) each"
done
pass "tenant_label: profiles sent under their own X-Scope-OrgID ($per_tenant)"

# -- TLS ------------------------------------------------------------------------
n_in=$((n_in / 2))
mkdir -p "$T/tls"
rp=$(unused_port)
start_recorder "$rp" "$T/r7.log" -script 200 -bearer tok3n -tenant tenant-1 -tls "$T/tls"
wait_for 5 test -s "$T/tls/client-key.pem" || fail "TLS: recorder wrote no certificates"
scheme=https
client="cert_file: $T/tls/client.pem, key_file: $T/tls/client-key.pem"
run_agent a7 "$rp" "    tls: {ca_file: $T/tls/ca.pem, $client}"
wait_for 30 finished || fail "TLS: not finished; $(tail -5 "$T/a7.log")"
stop_profpipe "$PROFPIPE_PID"
[ "$(count_lines "$T/r7.log" '^profile .*status=200 ')" = "$n_in" ] || fail "TLS: $(head -3 "$T/r7.log")"
: >"$T/r7.log"
run_agent a8 "$rp" "    tls: {insecure_skip_verify: true, $client}"
wait_for 30 finished || fail "TLS insecure: not finished; $(tail -5 "$T/a8.log")"
stop_profpipe "$PROFPIPE_PID"
[ "$(count_lines "$T/r7.log" '^profile .*status=200 ')" = "$n_in" ] || fail "TLS insecure: $(head -3 "$T/r7.log")"
: >"$T/r7.log"
run_agent a9 "$rp" "    tls: {$client}"
retried() { [ "$(metric_value "$mport" 'profpipe_exporter_retries_total')" -ge 1 ]; }
wait_for 20 retried ||
  fail "TLS unknown CA: no retry; $(tail -3 "$T/a9.log")"
[ "$(metric_value "$mport" 'profpipe_exporter_sent_profiles_total')" = 0 ] || fail "TLS unknown CA: sent"
kill -TERM "$PROFPIPE_PID"
[ "$(count_lines "$T/r7.log" '^req ')" = 0 ] || fail "TLS unknown CA: a request got through"
pass "TLS: mutual TLS with ca_file, insecure_skip_verify, unknown CA retried and never sent"

# -- http client options (lib/http_client) -------------------------------------
: >"$T/r7.log"
printf 'tok3n\n' >"$T/cred"
pem() { sed 's/^/        /' "$1"; } # a PEM file as a YAML block scalar's lines
tls_pem="    tls:
      min_version: TLS12
      ca_pem: |
$(pem "$T/tls/ca.pem")
      cert_pem: |
$(pem "$T/tls/client.pem")
      key_pem: |
$(pem "$T/tls/client-key.pem")"
auth="authorization: {type: Bearer, credentials_file: $T/cred}"
headers="headers: {X-Extra: yes, X-Multi: [m1, m2]}"
run_agent a10 "$rp" "$tls_pem"
wait_for 30 finished || fail "http client: not finished; $(tail -5 "$T/a10.log")"
stop_profpipe "$PROFPIPE_PID"
n_req=$(count_lines "$T/r7.log" '^req ')
n_h2=$(count_lines "$T/r7.log" '^req .*status=200 tenant=tenant-1 auth=ok len=[0-9]+ proto=HTTP/2.0 x-multi=m1,m2$')
[ "$n_req" -ge 1 ] && [ "$n_h2" = "$n_req" ] ||
  fail "http client: $n_h2 of $n_req requests over HTTP/2 with auth and both X-Multi values: $(head -3 "$T/r7.log")"
[ "$(count_lines "$T/r7.log" '^profile .*status=200 ')" = "$n_in" ] || fail "http client: not every profile sent"
: >"$T/r7.log"
run_agent a11 "$rp" "$tls_pem
    enable_http2: false"
wait_for 30 finished || fail "http client h1: not finished; $(tail -5 "$T/a11.log")"
stop_profpipe "$PROFPIPE_PID"
n_req=$(count_lines "$T/r7.log" '^req ')
n_h1=$(count_lines "$T/r7.log" '^req .*status=200 .*auth=ok .*proto=HTTP/1.1 x-multi=m1,m2$')
[ "$n_req" -ge 1 ] && [ "$n_h1" = "$n_req" ] || fail "http client h1: $n_h1 of $n_req over HTTP/1.1"
[ "$(count_lines "$T/r7.log" '^profile .*status=200 ')" = "$n_in" ] || fail "http client h1: not every profile sent"
unset auth headers
pass "http client: inline PEM, min_version, authorization from credentials_file, list-valued headers; HTTP/2 by default, HTTP/1.1 with enable_http2: false"
