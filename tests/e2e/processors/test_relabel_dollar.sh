#!/usr/bin/env bash
# `$` in relabel templates means what it means in Prometheus: the same
# rules, written once, go to the real Prometheus (Debian's prometheus
# 2.42; its targets API shows the labels its relabelling produced) and to
# profpipe's relabel processor (file receiver -> relabel -> file
# exporter); every resulting label must be equal, and equal to what
# Prometheus' regexp.Expand gives (`x$$y` -> `x$y`, `$$` unescaped by the
# template, not by the config loader). ${env:...} still expands in
# profpipe, and `$${env:...}` stays literal.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/processors/processors_lib.sh"

command -v prometheus >/dev/null || fail "prometheus missing (Debian prometheus; scripts/setup.sh test)"
RULES=$(cat <<'YAML'
      - {source_labels: [a], target_label: r1, replacement: 'x$$y'}
      - {source_labels: [a], target_label: r2, replacement: 'cost$$1'}
      - {source_labels: [a], regex: '(.*)', target_label: r3, replacement: '${1}-$$-$1'}
      - {source_labels: [a], target_label: r4, replacement: '$$$$$1'}
      - {source_labels: [a], regex: '(v)', target_label: 'r5_${1}', replacement: '$1$'}
      - {source_labels: [a], target_label: r6, replacement: '$${HOME}z'}
YAML
)
PP=$(free_port)
cat >"$T/prometheus.yml" <<YAML
global: {scrape_interval: 1h}
scrape_configs:
  - job_name: dollar
    static_configs: [{targets: ['127.0.0.1:9'], labels: {a: v}}]
    relabel_configs:
$RULES
YAML
promtool check config "$T/prometheus.yml" >"$T/promtool.out" 2>&1 ||
  { cat "$T/promtool.out"; fail "promtool refuses the rules"; }
bg prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
  --web.listen-address="127.0.0.1:$PP" >"$T/prometheus.log" 2>&1
prom_labels() {
  curl -sf "http://127.0.0.1:$PP/api/v1/targets" >"$T/targets.json" &&
    jq -e '.data.activeTargets[0].labels.r1' "$T/targets.json" >/dev/null
}
wait_for 60 prom_labels || { tail -20 "$T/prometheus.log"; fail "no target labels from prometheus"; }
jq -r '.data.activeTargets[0].labels | to_entries[] | select(.key | test("^r")) |
  "\(.key)=\(.value)"' "$T/targets.json" | sort >"$T/prom.txt"

mkdir -p "$T/in"
cp "$SOURCE_DIR/config/samples/example.goroutine.pb.gz" "$T/in/"
telemetry_port
cat >"$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    min_file_age: 0s
    labels: {a: v}
processors:
  relabel:
    rules:
$RULES
      - {source_labels: [a], target_label: r7, replacement: '\${env:PP_DOLLAR_TEST}-\$\${env:PP_DOLLAR_TEST}'}
exporters:
  file: {directory: $T/out}
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles: {receivers: [file], processors: [relabel], exporters: [file]}
YAML
PP_DOLLAR_TEST=from-env start_profpipe run "$T/config.yaml"
wait_index "$T/out" 1 30
stop_profpipe "$PROFPIPE_PID"
jq -r '.labels | to_entries[] | select(.key | test("^r")) | "\(.key)=\(.value)"' \
  "$T/out/index.jsonl" | sort >"$T/profpipe.txt"

cat >"$T/want.txt" <<'TXT'
r1=x$y
r2=cost$1
r3=v-$-v
r4=$$v
r5_v=v$
r6=${HOME}z
TXT
diff "$T/want.txt" "$T/prom.txt" || fail "Prometheus' labels are not the expected ones (above)"
pass "Prometheus $(prometheus --version 2>&1 | sed -n 1p | awk '{print $3}'): $(tr '\n' ' ' <"$T/prom.txt")"
grep -v '^r7=' "$T/profpipe.txt" | diff "$T/prom.txt" - || fail "profpipe's labels differ from Prometheus' (above)"
grep -qxF 'r7=from-env-${env:PP_DOLLAR_TEST}' "$T/profpipe.txt" ||
  fail "\${env:} in a template: $(grep '^r7=' "$T/profpipe.txt")"
pass "profpipe's relabel gives Prometheus' labels, label for label; \${env:} expands and \$\${env:} stays literal in templates"
