#!/usr/bin/env bash
# A target written as Alloy's discovery.* components produce it: a map of
# labels with `__address__` (here with a `__meta_*` label, as
# discovery.kubernetes adds). pprof_scrape scrapes that address, labels the
# profiles with the other labels and drops the `__` ones; a map without a
# string __address__ is refused by validate, naming the key.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/scrape/scrape_lib.sh"

build_target
P=$(free_port)
MP=$(free_port)
start_target disc -addr "127.0.0.1:$P"

write_config "$T/c.yaml" "$MP" <<EOF
    targets:
      - {__address__: "127.0.0.1:$P", service_name: disc-svc, env: prod, __meta_kubernetes_pod_name: pod-1}
    scrape_interval: 2s
EOF
start_profpipe scrape "$T/c.yaml"
wait_for 40 files_at_least "$T/out/disc-svc/goroutine" 1 ||
  { cat "$T/scrape.log"; fail "the discovered target was not scraped"; }
stop_profpipe "$PROFPIPE_PID"
line=$(grep -F '"__name__":"goroutine"' "$T/out/index.jsonl" | sed -n 1p)
for kv in '"service_name":"disc-svc"' '"env":"prod"' "\"instance\":\"127.0.0.1:$P\""; do
  [[ "$line" == *"$kv"* ]] || fail "labels lack $kv: $line"
done
[[ "$line" != *__meta* && "$line" != *__address__* ]] || fail "a __ label was kept: $line"
pass "{__address__, labels}: scraped 127.0.0.1:$P with service_name, env, instance; __meta_* dropped"

write_config "$T/bad.yaml" "$MP" <<EOF
    targets:
      - {__address__: [a, b], service_name: x}
EOF
rc=0
"$PROFPIPE" validate -c "$T/bad.yaml" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q '__address__' "$T/bad.out" || fail "bad __address__: exit $rc: $(cat "$T/bad.out")"
pass "a non-string __address__ refused: $(head -1 "$T/bad.out")"
