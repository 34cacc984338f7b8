#!/usr/bin/env bash
# The real @pyroscope/nodejs SDK (npm) pushes wall/CPU and heap profiles
# with tags and a tenant to profpipe A's pyroscope receiver; A's pyroscope
# exporter forwards them (push API, the SDK's tenant as X-Scope-OrgID,
# basic auth) to profpipe B's pyroscope receiver, which writes files. A also writes what it received to files,
# so every profile B wrote is compared with the one A got from the SDK:
# same labels (service_name, tags), same `go tool pprof -raw` content.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

node_ready || fail "cannot install the Node SDK (npm)"
pa=$(unused_port); pb=$(unused_port)

cat >"$T/b.yaml" <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$pb
    basic_auth: {username: agent, password: s3cret}
    tenant_label: tenant
exporters:
  file:
    directory: $T/out_b
service:
  telemetry: {address: ""}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [file]
YAML
echo -n s3cret >"$T/password"
cat >"$T/a.yaml" <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$pa
    tenant_label: sdk_tenant
exporters:
  pyroscope:
    endpoint: http://127.0.0.1:$pb/
    tenant_id: fallback
    tenant_label: sdk_tenant
    basic_auth: {username: agent, password_file: $T/password}
    retry_on_failure: {initial_interval: 200ms}
  file:
    directory: $T/out_a
service:
  telemetry: {address: ""}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [pyroscope, file]
YAML
start_profpipe b "$T/b.yaml"; pid_b=$PROFPIPE_PID
start_profpipe a "$T/a.yaml"; pid_a=$PROFPIPE_PID
wait_for 10 logged "$T/a.log" "listening on 127.0.0.1:$pa" || fail "A did not listen: $(cat "$T/a.log")"
wait_for 10 logged "$T/b.log" "listening on 127.0.0.1:$pb" || fail "B did not listen: $(cat "$T/b.log")"

(cd "$PYRO_DIR/node" && PYROSCOPE_URL="http://127.0.0.1:$pa" RUN_SECONDS=4 PYRO_TENANT=team-node \
   timeout 60 node push.js) || fail "the Node SDK program failed"

n_a() { wc -l <"$T/out_a/index.jsonl" 2>/dev/null || echo 0; }
n_b() { wc -l <"$T/out_b/index.jsonl" 2>/dev/null || echo 0; }
a_wrote() { [ "$(n_a)" -gt 0 ]; }
b_caught_up() { [ "$(n_b)" = "$(n_a)" ]; }
wait_for 30 a_wrote || fail "A wrote nothing; log: $(tail -5 "$T/a.log")"
wait_for 30 b_caught_up ||
  fail "B has $(n_b) of A's $(n_a) profiles; A: $(tail -5 "$T/a.log") B: $(tail -5 "$T/b.log")"
stop_profpipe "$pid_a"
stop_profpipe "$pid_b"
[ "$(n_b)" = "$(n_a)" ] || fail "B has $(n_b) profiles, A $(n_a) after shutdown"

idx_b="$T/out_b/index.jsonl"
n_wall=$(count_lines "$idx_b" '"__name__":"wall"')
n_mem=$(count_lines "$idx_b" '"__name__":"memory"')
[ "$n_wall" -ge 2 ] && [ "$n_mem" -ge 2 ] || fail "want >=2 wall and >=2 memory, got $n_wall, $n_mem"
[ $((n_wall + n_mem)) = "$(n_b)" ] || fail "unexpected profile types in $(cat "$idx_b")"
for want in '"service_name":"node-e2e"' '"region":"eu-north-1"' '"team":"profiling"' \
            '"tenant":"team-node"' '"__delta__":"false"' '"pyroscope_spy":"nodespy"' \
            '"otel_scope_name":"com.grafana.pyroscope/nodejs"' '"process_runtime_name":"nodejs"'; do
  [ "$(count_lines "$idx_b" "$want")" = "$(n_b)" ] || fail "not every profile has $want: $(head -2 "$idx_b")"
done
! grep -q sdk_tenant "$idx_b" || fail "A sent its tenant label as a label, not as X-Scope-OrgID"
[ "$(count_lines "$T/out_a/index.jsonl" '"sdk_tenant":"team-node"')" = "$(n_a)" ] ||
  fail "A did not keep the SDK's X-Scope-OrgID: $(head -1 "$T/out_a/index.jsonl")"
pass "labels: service_name, tags, tenant forwarded, __delta__ on all $(n_b) profiles"

# Every B profile equals the A profile in the same place of its type's
# sequence. (Windows differ: the push API carries none, so B takes each
# from the pprof's time_nanos/duration_nanos, as Pyroscope does.)
checked=0
for type in wall memory; do
  mapfile -t fa < <(ls "$T/out_a/node-e2e/$type"/*.pb.gz | sort)
  mapfile -t fb < <(ls "$T/out_b/node-e2e/$type"/*.pb.gz | sort)
  [ "${#fa[@]}" = "${#fb[@]}" ] || fail "$type: A has ${#fa[@]} files, B ${#fb[@]}"
  for i in "${!fb[@]}"; do
    pprof_body "${fb[$i]}" >"$T/b.raw" || fail "go tool pprof cannot read ${fb[$i]}"
    pprof_body "${fa[$i]}" >"$T/a.raw"
    grep -q '^Samples:' "$T/b.raw" || fail "${fb[$i]}: no samples section"
    cmp -s "$T/a.raw" "$T/b.raw" ||
      fail "${fb[$i]} differs from ${fa[$i]}: $(diff "$T/a.raw" "$T/b.raw" | head -5)"
    checked=$((checked + 1))
  done
done
[ "$checked" = "$(n_b)" ] || fail "checked $checked files for $(n_b) index lines"
hot=0
for f in "$T"/out_b/node-e2e/wall/*.pb.gz; do
  go tool pprof -raw "$f" >"$T/w.raw" 2>/dev/null || fail "go tool pprof cannot read $f"
  grep -q burnCpuInNamedFunction "$T/w.raw" && hot=$((hot + 1))
done
[ "$hot" -gt 0 ] || fail "the SDK's hot function is in no wall profile"
pass "$checked profiles identical after SDK -> A -> B (go tool pprof -raw)"
