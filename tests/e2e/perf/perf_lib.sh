# Helpers for the perf receiver's end-to-end tests (sourced after lib.sh).

# The perf receiver needs perf_event_open system-wide: root, CAP_PERFMON or
# kernel.perf_event_paranoid <= 0. Without it there is nothing to test.
perf_require_access() {
  if [ "$(id -u)" != 0 ] && [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 0 ]; then
    echo "skip: system-wide perf_event_open needs root or kernel.perf_event_paranoid <= 0"
    exit 0
  fi
}

# A command that fails outside a condition ends the test (set -e): say
# which, so that no failure is silent.
trap 'rc=$?; echo "FAIL: ${0##*/}:$LINENO: \`$BASH_COMMAND\` returned $rc" >&2' ERR

# Under ASan/UBSan profpipe is several times slower: allow it more time.
PERF_SLOW=1
[ "$SANITIZE" = 1 ] || [ "$SANITIZE" = ON ] || [ "$SANITIZE" = TRUE ] && PERF_SLOW=3

# perf_config FILE OUTDIR PORT RECEIVER_YAML: perf receiver (options given as
# indented YAML lines) → file exporter at OUTDIR, telemetry on PORT.
perf_config() {
  local file=$1 out=$2 port=$3 opts=$4
  cat > "$file" <<CFG
receivers:
  perf:
$opts
exporters:
  file:
    directory: $out
service:
  telemetry:
    address: "127.0.0.1:$port"
  pipelines:
    profiles/default:
      receivers: [perf]
      exporters: [file]
CFG
}

# Waits until the receiver logged that it samples (its rings are open).
perf_wait_sampling() { # name
  wait_for $((10 * PERF_SLOW)) grep -q "sampling .* CPUs" "$T/$1.log" ||
    { cat "$T/$1.log" >&2; fail "profpipe did not start sampling"; }
}

# Builds the C workload with frame pointers and line tables (never
# sanitized: it is the profiled program, not ours).
perf_build_workload() { # out
  cc -O1 -g -fno-omit-frame-pointer -o "$1" "$SOURCE_DIR/tests/e2e/perf/split_workload.c" ||
    fail "cannot build the workload"
}

# Cumulative sample counts per function over the given profiles (merged by
# go tool pprof), as "name count" lines.
pprof_cum_counts() { # files...
  go tool pprof -top -sample_index=samples -nodecount=100000 "$@" 2>/dev/null | awk '
    /^ *flat +flat%/ {t=1; next}
    t && NF >= 6 { name=$6; for (i=7; i<=NF; i++) name=name " " $i; print name, $4 }'
}

# Total samples over the given profiles.
pprof_sample_total() { # files...
  go tool pprof -top -sample_index=samples "$@" 2>/dev/null |
    sed -n 's/.*Total samples = \([0-9]*\).*/\1/p'
}

# Index lines (JSON) of the file exporter whose labels include "k":"v".
index_lines_with() { # index key value
  grep -F "\"$2\":\"$3\"" "$1" || true
}

# Absolute difference of two numbers (floating point, for awk checks).
within() { # a b tolerance: true if |a-b| <= tolerance
  awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'
}
