#!/usr/bin/env bash
# The shipped alert rules (config/alerts/profpipe.rules.yaml) with Debian's
# promtool: `check rules`, and `test rules` with rules.test.yaml (every
# alert firing with its labels and annotations, and not firing on data
# close to it). Then the tests must bite: copies of the rules with one
# threshold, range or `for` changed each make `promtool test rules` fail.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"

RULES="$SOURCE_DIR/config/alerts/profpipe.rules.yaml"
TESTS="$SOURCE_DIR/tests/e2e/profile_metrics/rules.test.yaml"
command -v promtool >/dev/null || fail "promtool missing (Debian prometheus; scripts/setup.sh test)"

promtool check rules "$RULES" >"$T/check.txt" 2>&1 || { cat "$T/check.txt"; fail "promtool check rules"; }
grep -q "SUCCESS: 12 rules found" "$T/check.txt" || { cat "$T/check.txt"; fail "not 12 rules"; }
pass "promtool check rules: 12 rules"

promtool test rules "$TESTS" >"$T/test.txt" 2>&1 || { cat "$T/test.txt"; fail "promtool test rules"; }
pass "promtool test rules: every alert firing and not firing"

# every alert of the file has a firing test and a not-firing one
for alert in $(sed -n 's/^ *- alert: *//p' "$RULES"); do
  n=$(grep -c "alertname: $alert\$" "$TESTS" || true)
  [ "$n" -ge 2 ] || fail "$alert has $n tests in rules.test.yaml, want firing and not firing"
  awk -v a="$alert" '$0 ~ "alertname: " a "$" { getline; if ($0 ~ /exp_alerts: \[\]/) e = 1; else f = 1 }
    END { exit !(e && f) }' "$TESTS" || fail "$alert lacks a firing or a not-firing case"
done
pass "each of the $(grep -c '^ *- alert:' "$RULES") alerts has a firing and a not-firing case"

# mutation: each change must make the tests fail
mutate() { # description sed-expression
  mkdir -p "$T/m/config/alerts" "$T/m/tests/e2e/profile_metrics"
  sed "$2" "$RULES" >"$T/m/config/alerts/profpipe.rules.yaml"
  cmp -s "$RULES" "$T/m/config/alerts/profpipe.rules.yaml" && fail "mutation '$1' changed nothing"
  cp "$TESTS" "$T/m/tests/e2e/profile_metrics/"
  if promtool test rules "$T/m/tests/e2e/profile_metrics/rules.test.yaml" >"$T/m.txt" 2>&1; then
    fail "promtool test rules passes with $1"
  fi
}
mutate "heap threshold 2 GiB" 's/> 1073741824/> 2147483648/'
mutate "goroutines threshold 15000" 's/(profile_goroutines) > 10000/(profile_goroutines) > 15000/'
mutate "leak slope 0.3/s" 's/(deriv(profile_goroutines\[30m\])) > 0.1/(deriv(profile_goroutines[30m])) > 0.3/'
mutate "leak floor dropped" 's/sum by (service_name) (profile_goroutines) > 1000$/sum by (service_name) (profile_goroutines) > 0/'
mutate "leak range 5m" 's/deriv(profile_goroutines\[30m\])/deriv(profile_goroutines[5m])/'
mutate "CPU threshold 8 cores" 's/\[5m\])) > 4/[5m])) > 8/'
mutate "queue ratio 0.95" 's/_capacity_bytes) > 0.8/_capacity_bytes) > 0.95/'
mutate "scrape down for 20m" '/ProfpipeScrapeTargetDown/,/for:/s/for: 5m/for: 20m/'
mutate "reload alert on success" 's/profpipe_config_last_reload_successful == 0/profpipe_config_last_reload_successful == 1/'
mutate "failed counter renamed" 's/profpipe_exporter_failed_profiles_total/profpipe_exporter_failed_total/'
mutate "description without the service" 's/Service {{ \$labels.service_name }} runs/Service runs/'
pass "11 mutations of the rules each fail the tests"
