# Helpers for the processor e2e tests (file receiver -> processor -> file
# exporter, outputs read back with go tool pprof -raw). Sourced after lib.sh.

# go_profiles, indexcheck, index_lines, wait_index, telemetry_port come
# from the foundation tests' helpers.
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

# raw_samples FILE > lines: "<values...> | <location ids leaf first> | <labels>"
# from go tool pprof -raw: one line per sample.
raw_samples() {
  go tool pprof -raw "$1" 2>/dev/null | awk '
    function flush() { if (have) print vals " | " locs " | " labels; have = 0 }
    /^Samples:/ { s = 1; getline; next }
    /^Locations/ { flush(); s = 0 }
    s && /^ *-?[0-9]+( +-?[0-9]+)*: / {
      flush(); have = 1
      i = index($0, ":"); vals = substr($0, 1, i - 1); locs = substr($0, i + 1)
      gsub(/^ +| +$/, "", vals); gsub(/^ +| +$/, "", locs); labels = ""; next }
    s && have { l = $0; gsub(/^ +| +$/, "", l); labels = labels (labels ? " " : "") l }
    END { flush() }'
}

# raw_label_totals FILE COL KEY > "value total" per value of sample label
# KEY ("-" for samples without it), sorted.
raw_label_totals() {
  raw_samples "$1" | awk -F' \\| ' -v col="$2" -v key="$3" '
    { split($1, v, " "); val = "-"
      if (match($3, "(^| )" key ":\\[[^]]*\\]")) {
        m = substr($3, RSTART, RLENGTH); sub(/^ /, "", m)
        val = substr(m, length(key) + 3, length(m) - length(key) - 3) }
      t[val] += v[col] }
    END { for (k in t) printf "%s\t%.0f\n", k, t[k] }' | sort
}

# raw_max_depth FILE: the most locations any sample has.
raw_max_depth() {
  raw_samples "$1" | awk -F' \\| ' '{ n = split($2, l, " "); if (n > m) m = n } END { print m + 0 }'
}

# raw_location_id FILE NAME: id of the location whose function is NAME.
raw_location_id() {
  go tool pprof -raw "$1" 2>/dev/null | awk -v name="$2" '
    /^Locations/ { s = 1; next } /^Mappings/ { s = 0 }
    s && index($0, " " name " ") { sub(/:.*/, ""); gsub(/ /, ""); print; exit }'
}

# raw_smallest_node FILE COL SKIP_ID: the smallest total of any call-tree
# node over samples, as "node_total total". A node is a root-first path of
# frames as go tool pprof -lines tells them apart (each location's function
# names and file:lines; its address when it has none), not of location
# ids: one frame may have several locations. Nodes ending in location
# SKIP_ID (the [other] marker) are not counted.
raw_smallest_node() {
  go tool pprof -raw "$1" 2>/dev/null | awk -v col="$2" -v skip="$3" '
    /^Samples:/ { s = "samples"; getline; next }
    /^Locations/ { s = "locations"; next }
    /^Mappings/ { s = ""; next }
    s == "samples" && /^ *-?[0-9]+( +-?[0-9]+)*: / {
      n++; i = index($0, ":"); vals[n] = substr($0, 1, i - 1); locs[n] = substr($0, i + 1); next }
    s == "locations" && /^ *[0-9]+: / {
      id = $1; sub(/:$/, "", id); f = $0
      sub(/^ *[0-9]+: 0x[0-9a-f]+ (M=[0-9]+ )?/, "", f); sub(/ s=[0-9]+ *$/, "", f)
      frame[id] = f == "" ? $2 : f; next }
    s == "locations" && NF > 0 { f = $0; sub(/^ +/, "", f); sub(/ s=[0-9]+ *$/, "", f)
      frame[id] = frame[id] " / " f; next }
    END {
      for (j = 1; j <= n; j++) {
        split(vals[j], v, " "); k = split(locs[j], l, " "); total += v[col]; path = ""
        for (i = k; i >= 1; i--) { path = path "/" frame[l[i]]; if (l[i] != skip) node[path] += v[col] }
      }
      min = -1; for (p in node) if (min < 0 || node[p] < min) min = node[p]
      printf "%.0f %.0f\n", min, total }'
}

# raw_total FILE COL: exact sum of column COL (lib.sh's pprof_total prints
# big sums as 3.08e+09 under mawk, Debian's default awk).
raw_total() {
  raw_samples "$1" | awk -F' \\| ' -v col="$2" '{ split($1, v, " "); t += v[col] } END { printf "%.0f\n", t }'
}

# metric NAME COMPONENT_ID: the value of metric NAME (full name, with the
# profpipe_ prefix) summed over its series of that component, read from
# the telemetry endpoint at $TELEMETRY; "absent" when it has none (so a
# misspelt name never passes for a 0).
metric() {
  curl -sf "http://$TELEMETRY/metrics" | awk -v n="$1{" -v id="component_id=\"$2\"" '
    index($0, n) == 1 && index($0, id) { s += $NF; found = 1 }
    END { if (found) printf "%.0f\n", s; else print "absent" }'
}

# wait_metric SECONDS NAME COMPONENT_ID VALUE: until the metric equals VALUE.
wait_metric() {
  wait_for "$1" test "$(metric "$2" "$3")" = "$4" ||
    fail "$2 of $3 is $(metric "$2" "$3"), want $4"
}
