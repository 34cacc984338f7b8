#!/usr/bin/env bash
# The perf receiver restricted to a cgroup (PERF_FLAG_PID_CGROUP): a cgroup2
# group named like a docker container's scope (docker-<64 hex>.scope) holds
# one copy of the workload, a second copy runs outside it. Only the one
# inside gets profiles, and they carry container_id = the 64 hex digits. The
# cgroup option is given as /proc/<pid>/cgroup shows the path.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/perf/perf_lib.sh"
perf_require_access

root=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
[ -n "$root" ] && [ -w "$root" ] || { echo "skip: no writable cgroup2 mount"; exit 0; }
cid=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
group="docker-$cid.scope"
mkdir "$root/$group" || { echo "skip: cannot create a cgroup under $root"; exit 0; }
remove_group() { rmdir "$root/$group" 2>/dev/null || true; }
trap 'cleanup; remove_group' EXIT

perf_build_workload "$T/inside"
perf_build_workload "$T/outside"
port=$(free_port)
perf_config "$T/cfg.yaml" "$T/out" "$port" "    interval: 1s
    cgroup: /$group"
start_profpipe perf "$T/cfg.yaml"
perf_wait_sampling perf

# a subshell moves itself into the group, then becomes the workload
bash -c 'echo $$ > "$1/cgroup.procs" && exec "$2" 4 1' _ "$root/$group" "$T/inside" > "$T/inside.out" &
ipid=$!
PIDS+=("$ipid")
"$T/outside" 4 1 > "$T/outside.out" &
opid=$!
PIDS+=("$opid")
wait "$ipid" || fail "workload in the cgroup failed"
wait "$opid" || fail "workload outside failed"
# no wait: stopping drains the rings and emits the partial last interval
stop_profpipe "$PROFPIPE_PID"

[ -s "$T/out/index.jsonl" ] || { cat "$T/perf.log" >&2; fail "no profiles written"; }
iline=$(index_lines_with "$T/out/index.jsonl" pid "$ipid" | sed -n 1p)
[ -n "$iline" ] || fail "no profile of the process in the cgroup (pid $ipid)"
[[ "$iline" == *"\"container_id\":\"$cid\""* ]] || fail "container_id missing or wrong: $iline"
[[ "$iline" == *'"service_name":"inside"'* ]] || fail "service_name: $iline"
[ -z "$(index_lines_with "$T/out/index.jsonl" pid "$opid")" ] ||
  fail "the process outside the cgroup (pid $opid) was profiled"
others=$(grep -c -v -F "\"pid\":\"$ipid\"" "$T/out/index.jsonl" || true)
[ "$others" = 0 ] || fail "$others profiles of processes outside the cgroup"
pass "only the cgroup's process profiled, container_id=$cid"
