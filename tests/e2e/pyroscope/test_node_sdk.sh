#!/usr/bin/env bash
# The real @pyroscope/nodejs SDK (npm) pushes wall/CPU and heap profiles
# with tags and a tenant to profpipe A's pyroscope receiver; A's pyroscope
# exporter forwards them (push API, the SDK's tenant as X-Scope-OrgID,
# basic auth) to profpipe B's pyroscope receiver, which writes files. A
# also writes what it received to files, so every profile B wrote is
# compared with the one A got from the SDK: same labels (service_name,
# tags), same `go tool pprof -raw` content. No step depends on the SDK's
# cadence or the machine's speed: the SDK runs until A has what the test
# needs, and every wait is for a condition.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/pyroscope/pyro_lib.sh"

node_ready || fail "cannot install the Node SDK (npm)"

b_config() {
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
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
}
echo -n s3cret >"$T/password"
a_config() {
  cat <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$1
    tenant_label: sdk_tenant
exporters:
  pyroscope:
    endpoint: http://127.0.0.1:$pb/
    tenant_id: fallback
    tenant_label: sdk_tenant
    basic_auth: {username: agent, password_file: $T/password}
    retry_on_failure: {initial_interval: 200ms}
    # B, slowed by load or ASan, must not make A give up on a push B then
    # takes: the retry would give B a profile twice
    timeout: 30s
  file:
    directory: $T/out_a
service:
  telemetry: {address: ""}
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [pyroscope, file]
YAML
}
start_listening b b_config; pid_b=$PROFPIPE_PID; pb=$LISTEN_PORT
start_listening a a_config; pid_a=$PROFPIPE_PID; pa=$LISTEN_PORT

# The SDK pushes every second but skips a round while its previous push is
# unanswered, so under load (ASan, a busy machine) a fixed run may yield
# only one heap profile. It runs until A has written at least two wall and
# two heap profiles (or 50 s), then is told to stop; DEBUG makes the SDK
# log every push it could not deliver, which must be none.
idx_a="$T/out_a/index.jsonl"
a_has_enough() {
  [ "$(count_lines "$idx_a" '"__name__":"wall"')" -ge 2 ] &&
    [ "$(count_lines "$idx_a" '"__name__":"memory"')" -ge 2 ]
}
(cd "$PYRO_DIR/node" && PYROSCOPE_URL="http://127.0.0.1:$pa" RUN_SECONDS=50 PYRO_TENANT=team-node \
   STOP_FILE="$T/stop_node" DEBUG=pyroscope exec node push.js) >"$T/node.log" 2>&1 &
node_pid=$!
PIDS+=("$node_pid")
wait_for 50 a_has_enough ||
  fail "A has $(count_lines "$idx_a" '"__name__":"wall"') wall and" \
       "$(count_lines "$idx_a" '"__name__":"memory"') memory profiles after 50s; SDK: $(tail -5 "$T/node.log") A: $(tail -5 "$T/a.log")"
touch "$T/stop_node"
node_gone() { ! kill -0 "$node_pid" 2>/dev/null; }
wait_for 30 node_gone || fail "the Node SDK program did not stop: $(tail -5 "$T/node.log")"
node_rc=0; wait "$node_pid" || node_rc=$?
[ "$node_rc" = 0 ] || fail "the Node SDK program exited $node_rc: $(head -30 "$T/node.log")"
! grep -E 'Server rejected|Error sending|Unknown error sending' "$T/node.log" ||
  fail "the SDK could not deliver every push to A (above)"

# The SDK had every push answered, so A holds them all (A answers once the
# pipeline took a batch). Stopping A drains its exporters into B, which
# is still up; B is stopped after. The waits only let it settle first.
n_a() { wc -l <"$idx_a" 2>/dev/null || echo 0; }
n_b() { wc -l <"$T/out_b/index.jsonl" 2>/dev/null || echo 0; }
b_caught_up() { [ "$(n_b)" = "$(n_a)" ]; }
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

# B's profiles of each type are A's: the same `go tool pprof -raw`
# contents, as many times each. They are matched by content, not by file
# name: A names a file by the SDK's from/until (whole seconds, a -N suffix
# if two fall in one second), B by the pprof's time_nanos/duration_nanos
# (the push API carries no window, so B takes it from the pprof, as
# Pyroscope does), so sorting the names need not pair them.
bodies() { # DIR: one line per profile, "<sha256 of its pprof -raw body> <file>"
  local f
  for f in "$1"/*.pb.gz; do
    pprof_body "$f" >"$T/body.raw" || fail "go tool pprof cannot read $f"
    grep -q '^Samples:' "$T/body.raw" || fail "$f: no samples section"
    echo "$(sha256sum <"$T/body.raw" | cut -d' ' -f1) $f"
  done | sort
}
checked=0
for type in wall memory; do
  bodies "$T/out_a/node-e2e/$type" >"$T/a.$type"
  bodies "$T/out_b/node-e2e/$type" >"$T/b.$type"
  na=$(wc -l <"$T/a.$type"); nb=$(wc -l <"$T/b.$type")
  [ "$na" = "$nb" ] || fail "$type: A has $na files, B $nb"
  cmp -s <(cut -d' ' -f1 "$T/a.$type") <(cut -d' ' -f1 "$T/b.$type") ||
    fail "$type: B's profiles differ from A's; only in B: $(join -v2 <(cut -d' ' -f1 "$T/a.$type") \
          <(cut -d' ' -f1 "$T/b.$type") | sed -n 1,3p) (files: $(cat "$T/b.$type"))"
  checked=$((checked + nb))
done
[ "$checked" = "$(n_b)" ] || fail "checked $checked files for $(n_b) index lines"
hot=0
for f in "$T"/out_b/node-e2e/wall/*.pb.gz; do
  go tool pprof -raw "$f" >"$T/w.raw" 2>/dev/null || fail "go tool pprof cannot read $f"
  grep -q burnCpuInNamedFunction "$T/w.raw" && hot=$((hot + 1))
done
[ "$hot" -gt 0 ] || fail "the SDK's hot function is in no wall profile"
pass "$checked profiles identical after SDK -> A -> B (go tool pprof -raw)"
