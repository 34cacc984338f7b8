# shellcheck shell=bash
# Helpers the bench scripts share. Source it after SOURCE_DIR is set:
#   source "$SOURCE_DIR/bench/lib.sh"

# A loopback port no socket uses, below the kernel's ephemeral range
# (32768 up by default), where outgoing connections take their ports.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((10000 + RANDOM % 22000))
    ss -Htan "( sport = :$p or dport = :$p )" | grep . >/dev/null || { echo "$p"; return 0; }
  done
  echo "no free port" >&2
  return 1
}

# metric_at PORT NAME: the value of one sample (NAME with its labels, as
# /metrics prints it) on the telemetry port PORT.
metric_at() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'
}

# wait_until SECONDS COMMAND...: true as soon as COMMAND succeeds, false
# once SECONDS have passed without it.
wait_until() {
  local end=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.05
  done
}

# The median of the numbers on stdin, one per line (the upper one of an
# even count's middle two).
median() {
  sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
