# Normalizes `go tool pprof -raw` output for comparison: one line per
# distinct (stack, labels) with its values summed, where the stack is
# written with function names and file:line (not location ids, which an
# encoder may renumber), sorted; then one "total" line per sample type.
# Usage: go tool pprof -raw FILE | awk -f pprof_norm.awk | sort
/^Samples:/ { section = "samples"; getline; ntypes = split($0, types, " "); next }
/^Locations/ { section = "locations"; next }
/^Mappings/ { section = "mappings"; next }
section == "samples" && /^ *-?[0-9]+( +-?[0-9]+)*: / {
    n++
    split($0, parts, ":")
    vals[n] = parts[1]
    ids[n] = substr($0, index($0, ":") + 1)
    labels[n] = ""
    next
}
section == "samples" && NF > 0 { labels[n] = labels[n] " " $0; next }
section == "locations" && /^ *[0-9]+: / {
    cur = $1; sub(/:$/, "", cur)
    frame = $0
    sub(/^ *[0-9]+: 0x[0-9a-f]+ /, "", frame)
    sub(/^M=[0-9]+ /, "", frame)
    loc[cur] = frame
    next
}
section == "locations" && NF > 0 { sub(/^ +/, ""); loc[cur] = loc[cur] " / " $0; next }
END {
    for (i = 1; i <= n; i++) {
        k = split(ids[i], id, " ")
        stack = ""
        for (j = 1; j <= k; j++) stack = stack (j > 1 ? " <- " : "") loc[id[j]]
        gsub(/ +/, " ", labels[i])
        key = stack " |" labels[i]
        m = split(vals[i], v, " ")
        for (j = 1; j <= m; j++) { sum[key, j] += v[j]; total[j] += v[j] }
        keys[key] = m
    }
    for (key in keys) {
        line = ""
        for (j = 1; j <= keys[key]; j++) line = line " " sum[key, j]
        print "sample" line " = " key
    }
    for (j = 1; j <= ntypes; j++) print "total " types[j] " " total[j] + 0
}
