# Helpers for the pprof_scrape end-to-end tests; sourced after lib.sh.
# The Go target server (go/target) is built once per test into $T.

SCRAPE_DIR="$SOURCE_DIR/tests/e2e/scrape"

build_target() {
  go_build "$T/target" "$SCRAPE_DIR/go/target" || fail "cannot build the Go target server"
}

# start_target NAME ARGS...: runs the target server, log in $T/NAME.log;
# sets TARGET_PID. Waits until its first address answers /stats.
start_target() {
  local name=$1; shift
  "$T/target" "$@" >"$T/$name.log" 2>&1 &
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  local addr
  addr=$(printf '%s\n' "$@" | grep -o '^127\.0\.0\.1:[0-9]*' | sed -n 1p | cut -d: -f2)
  wait_for 20 curl -sf "http://127.0.0.1:$addr/stats" || fail "target $name did not start"
}

# A scrape config with one file exporter; receiver options come on stdin,
# already indented by four spaces.
write_config() { # file metrics_port
  local file=$1 mport=$2
  {
    echo "receivers:"
    echo "  pprof_scrape/e2e:"
    cat
    echo "exporters:"
    echo "  file:"
    echo "    directory: $T/out"
    echo "service:"
    echo "  telemetry: {address: \"127.0.0.1:$mport\", log_level: debug}"
    echo "  pipelines:"
    echo "    profiles/default:"
    echo "      receivers: [pprof_scrape/e2e]"
    echo "      exporters: [file]"
  } >"$file"
}

# files_at_least DIR N: DIR holds N or more profiles (for wait_for).
files_at_least() { [ "$(find "$1" -name '*.pb.gz' 2>/dev/null | wc -l)" -ge "$2" ]; }

# raw_sum FILE COLUMN FUNC [leaf] [LABEL]: with `go tool pprof -raw`, the
# sum of sample type COLUMN (1-based) over samples whose stack has FUNC
# (only as the leaf frame when the 4th argument is "leaf"), and, when
# LABEL is given (as -raw prints it, e.g. "bytes:[4096]"), that label.
RAW_SUM_AWK='
/^Samples:/ { sec = 1; getline; next }
/^Locations/ { sec = 2; next }
/^Mappings/ { sec = 3; next }
sec == 1 && /^ *-?[0-9]+( +-?[0-9]+)*: / {
  split($0, halves, ":"); n++
  split(halves[1], vals, " "); val[n] = vals[col]; ids[n] = halves[2]; lab[n] = ""
  next
}
sec == 1 { lab[n] = lab[n] " " $0 }
sec == 2 && /^ +[0-9]+: / { id = $1; sub(/:$/, "", id); fn[id] = "|" $4 "|"; next }
sec == 2 && /^ +[^ 0-9]/ { fn[id] = fn[id] $1 "|" }
END {
  for (i = 1; i <= n; i++) {
    if (label != "" && !index(lab[i], label)) continue
    k = split(ids[i], frames, " ")
    if (leaf == "leaf") k = 1
    for (j = 1; j <= k; j++) if (index(fn[frames[j]], "|" f "|")) { t += val[i]; break }
  }
  printf "%d\n", t
}'
raw_sum() {
  go tool pprof -raw "$1" 2>/dev/null |
    awk -v col="$2" -v f="$3" -v leaf="${4:-}" -v label="${5:-}" "$RAW_SUM_AWK"
}

# raw_min FILE: the smallest sample value of any type in FILE.
raw_min() {
  go tool pprof -raw "$1" 2>/dev/null | awk '
    /^Samples:/ { s = 1; getline; next }
    /^Locations/ { s = 0 }
    s && /^ *-?[0-9]+( +-?[0-9]+)*: / {
      sub(/:.*/, ""); k = split($0, v, " ")
      for (i = 1; i <= k; i++) if (!seen || v[i] + 0 < m) { m = v[i] + 0; seen = 1 }
    }
    END { printf "%d\n", m }'
}

# Fails if any value in any profile under $T/out is negative.
assert_no_negative() {
  local f m
  for f in $(find "$T/out" -name '*.pb.gz'); do
    m=$(raw_min "$f")
    [ "$m" -ge 0 ] || fail "negative value $m in $f"
  done
}

# The requests a target server saw on port PORT, one "unix_ms path
# status" a line (the server logs every port it listens on).
target_requests() {
  curl -sf "http://127.0.0.1:$1/requests" | tr '{' '\n' |
    sed -n 's/.*"unix_ms":\([0-9]*\),"path":"\([^"]*\)","status":\([0-9]*\),"port":"\([0-9]*\)".*/\1 \2 \3 \4/p' |
    awk -v port="$1" '$4 == port { print $1, $2, $3 }'
}

# count_log LEVEL PATTERN: lines of the profpipe log at LEVEL matching
# the extended regex PATTERN.
count_log() { grep "level=$1 " "$T/scrape.log" | grep -cE "$2" || true; }

# metric NAME_AND_LABEL_SUBSTRING MPORT: the value of the first matching
# /metrics line.
metric() {
  curl -sf "http://127.0.0.1:$2/metrics" | grep -F "$1" | sed -n 1p | awk '{print $NF}'
}
