#!/usr/bin/env bash
# config/grafana: structure checks of the provisioning files and the
# dashboard, since Grafana itself is not packaged in Debian. The YAML is
# read with gopkg.in/yaml.v3 (Debian golang-gopkg-yaml.v3-dev, the parser
# of Grafana's dashboard provisioning) into JSON; jq checks what Grafana's
# provisioning code (pkg/services/provisioning/{datasources,dashboards},
# read for this test) and dashboard model require: apiVersion 1, known
# keys only, name/type, access proxy|direct, one default per org, a file
# provider with options.path, a dashboard title and a uid of at most 40
# [a-zA-Z0-9_-], unique panel ids inside the 24-column grid, every panel
# and target on a provisioned data source of the right type, the
# Pyroscope flame graph's query model (queryType, profileTypeId,
# labelSelector, groupBy), every $variable defined, every metric one the
# profile_metrics exporter writes. Then mutated copies must fail.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"

G="$SOURCE_DIR/config/grafana"
go_build "$T/yaml2json" "$SOURCE_DIR/tests/e2e/profile_metrics/go/yaml2json" || fail "cannot build yaml2json"
# the metric names the exporter renders, from its source
METRICS=$(grep -ohE '"profile_[a-z_]+"' "$SOURCE_DIR/exporters/profile_metrics/pm_store.c" | tr -d '"' | sort -u | jq -R . | jq -sc .)
[ "$(jq length <<<"$METRICS")" -ge 10 ] || fail "found only $METRICS in pm_store.c"

# check DIR: 0 if the tree under DIR passes, else the first failed check on stderr
check() {
  local d=$1 ds dp
  ds=$("$T/yaml2json" <"$d/provisioning/datasources/profpipe.yaml") || { echo "datasources: not YAML" >&2; return 1; }
  dp=$("$T/yaml2json" <"$d/provisioning/dashboards/profpipe.yaml") || { echo "dashboards provider: not YAML" >&2; return 1; }
  jq -e . "$d/dashboards/profpipe-profiles.json" >/dev/null || { echo "dashboard: not JSON" >&2; return 1; }
  jq -e '
    def uidok: type == "string" and test("^[a-zA-Z0-9_-]{1,40}$");
    .apiVersion == 1 and (.datasources | type == "array" and length > 0)
    and all(.datasources[]; (keys - ["orgId","version","uid","name","type","access","url","user",
        "database","basicAuth","basicAuthUser","withCredentials","isDefault","jsonData",
        "secureJsonData","editable","apiVersion","correlations"]) == []
      and (.name | type == "string" and length > 0) and (.type | type == "string" and length > 0)
      and ((.access // "proxy") | IN("proxy","direct")) and (.uid | uidok)
      and ((.jsonData // {}) | type == "object"))
    and ([.datasources[] | select(.isDefault == true)] | length <= 1)
    and ([.datasources[].uid] | length == (unique | length))
    and ([.datasources[].name] | length == (unique | length))
    and ([.datasources[].type] | sort == ["grafana-pyroscope-datasource","prometheus"])
  ' <<<"$ds" >/dev/null || { echo "datasources provisioning" >&2; return 1; }
  jq -e '
    .apiVersion == 1 and (.providers | type == "array" and length > 0)
    and all(.providers[]; (keys - ["name","orgId","folder","folderUid","type","disableDeletion",
        "updateIntervalSeconds","allowUiUpdates","options"]) == []
      and (.name | type == "string" and length > 0) and ((.type // "file") == "file")
      and (.options.path | type == "string" and startswith("/"))
      and ((.options | keys) - ["path","foldersFromFilesStructure"]) == [])
    and ([.providers[].name] | length == (unique | length))
  ' <<<"$dp" >/dev/null || { echo "dashboards provisioning" >&2; return 1; }
  jq -e --argjson ds "$ds" --argjson metrics "$METRICS" '
    def uidok: type == "string" and test("^[a-zA-Z0-9_-]{1,40}$");
    ($ds.datasources | map({key: .uid, value: .type}) | from_entries) as $types
    | def dsok: type == "object" and $types[.uid] != null and $types[.uid] == .type;
    ([.templating.list[].name]) as $vars
    | [.panels[] | select(.type != "row")] as $p
    | (.uid | uidok) and (.title | type == "string" and test("\\S"))
    and (.schemaVersion | type == "number" and . >= 36)
    and ([.panels[].id] | length == (unique | length) and all(.[]; type == "number"))
    and all(.panels[]; .gridPos as $g | ($g.h > 0) and ($g.w > 0) and ($g.x >= 0) and ($g.y >= 0)
      and ($g.x + $g.w <= 24) and (.type | IN("row","timeseries","flamegraph","stat")))
    and all($p[]; (.datasource | dsok) and (.targets | length > 0)
      and ([.targets[].refId] | length == (unique | length))
      and all(.targets[]; .datasource == .datasource and (.datasource | dsok)))
    and all(.templating.list[]; .datasource | dsok)
    and all($p[] | select(.datasource.type == "prometheus") | .targets[];
      (.expr | type == "string" and length > 0)
      and ([.expr | scan("profile_[a-z_]+")] | all(.[]; IN($metrics[]))))
    and all([.. | strings | scan("\\$([a-z][a-z_]*)") | .[0]] | unique | .[]; IN($vars[]))
    and any($p[]; .type == "timeseries"
      and any(.targets[]; .expr | contains("rate(profile_cpu_seconds_total{service_name=\"$service\"}[5m])")))
    and any($p[]; .type == "timeseries" and any(.targets[]; .expr | contains("profile_memory_inuse_bytes")))
    and any($p[]; .type == "timeseries" and any(.targets[]; .expr | contains("profile_goroutines")))
    and ([$p[] | select(.type == "flamegraph")] | length == 1
      and all(.[]; .datasource.type == "grafana-pyroscope-datasource"
        and all(.targets[]; .queryType == "profile"
          and .profileTypeId == "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
          and .labelSelector == "{service_name=\"$service\"}" and (.groupBy | type == "array"))))
    and any(.panels[]; .type == "row" and .repeat == "service")
    and ([$p[] | select(.type == "flamegraph") | .gridPos.y] == [$p[] | select(any(.targets[];
      (.expr // "") | contains("profile_cpu_seconds_total"))) | .gridPos.y])
  ' "$d/dashboards/profpipe-profiles.json" >/dev/null || { echo "dashboard" >&2; return 1; }
}

check "$G" || fail "config/grafana fails its structure check (see above)"
pass "datasources, dashboard provider and dashboard pass the structure checks"

# mutation: each change must fail the check
n=0
mutate() { # description file jq-or-sed program (sed if it starts with s/)
  local m="$T/m$n"; n=$((n + 1))
  rm -rf "$m" && cp -r "$G" "$m"
  if [[ $3 == s/* ]]; then sed -i "$3" "$m/$2"; else jq "$3" "$m/$2" >"$m/x" && mv "$m/x" "$m/$2"; fi
  cmp -s "$G/$2" "$m/$2" && fail "mutation '$1' changed nothing"
  if check "$m" 2>/dev/null; then fail "the check passes with $1"; fi
}
D=dashboards/profpipe-profiles.json
mutate "another profileTypeId" $D '(.panels[] | select(.type == "flamegraph") | .targets[0].profileTypeId) = "memory:alloc_space:bytes:space:bytes"'
mutate "a duplicate panel id" $D '(.panels[2].id) = 2'
mutate "a panel off the grid" $D '(.panels[2].gridPos.x) = 20'
mutate "an unknown data source uid" $D '(.panels[1].datasource.uid) = "nope"'
mutate "a metric the exporter does not write" $D '(.panels[1].targets[0].expr) = "rate(profile_cpu_total[5m])"'
mutate "an undefined variable" $D '(.panels[3].targets[0].expr) |= sub("\\$service"; "$svc")'
mutate "no title" $D '.title = " "'
mutate "a 41-character uid" $D '.uid = "abcdefghijabcdefghijabcdefghijabcdefghijk"'
mutate "no CPU rate" $D '(.panels[1].targets[0].expr) = "sum(profile_goroutines)"'
mutate "a misspelled data source key" provisioning/datasources/profpipe.yaml 's/isDefault:/isdefault:/'
mutate "two default data sources" provisioning/datasources/profpipe.yaml 's/    editable: true/    editable: true\n    isDefault: true/'
mutate "access neither proxy nor direct" provisioning/datasources/profpipe.yaml 's/access: proxy/access: server/'
mutate "a provider without a path" provisioning/dashboards/profpipe.yaml 's/      path:/      paths:/'
mutate "a YAML syntax error" provisioning/dashboards/profpipe.yaml 's/^providers:/providers: [/'
pass "$n mutations each fail the check"
