#!/usr/bin/env bash
# Two processes under the perf receiver (→ file exporter):
# - a Go program (Debian golang-go) that spends its time in main.burnCPU:
#   that function is on top of its profile, named from the Go .symtab; the
#   same program built with -ldflags="-s -w" (no .symtab, as in many
#   container images) gets the same name from its .gopclntab;
# - a C program living a fraction of a 2s interval, under its own
#   comm: it still gets its profile, with its own pid, comm, exe and the
#   service_name a rule gives it (regex on comm with $1);
# - a C program living 150 ms of CPU, usually gone before the receiver
#   reads its records (every 250 ms): named and symbolized from the
#   kernel's FORK, COMM and MMAP2 records, /proc having nothing left of it;
# - a shell (a copy of bash named prexec) that burns CPU, then execs the C
#   program in the same process: the samples before the exec make a profile
#   labelled prexec, those after one labelled shortlived, both of that pid.
# Every profile written opens in `go tool pprof -raw`. The C programs stop
# after a given CPU time (their wall-time limit only bounds the test), so
# on a loaded machine they still get enough samples to be seen.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/perf/perf_lib.sh"
perf_require_access

go_build "$T/goburn" "$SOURCE_DIR/tests/e2e/perf/goburn"
(cd "$SOURCE_DIR/tests/e2e/perf/goburn" && go build -ldflags="-s -w" -o "$T/gostripped" .) ||
  fail "cannot build the stripped Go program"
! readelf -S "$T/gostripped" | grep '\.symtab' >/dev/null || fail "gostripped still has a .symtab"
perf_build_workload "$T/shortlived"
cp "$(command -v bash)" "$T/prexec"
cp "$T/shortlived" "$T/tiny"
port=$(free_port)
perf_config "$T/cfg.yaml" "$T/out" "$port" "    interval: 2s
    comm: \"goburn|gostripped|shortlived|prexec|tiny\"
    service_name:
      - regex: \"short(.*)\"
        source: comm
        name: \"svc-\$1\""
start_profpipe perf "$T/cfg.yaml"
perf_wait_sampling perf

"$T/goburn" 4 > "$T/goburn.out" &
gpid=$!
PIDS+=("$gpid")
"$T/gostripped" 4 > "$T/gostripped.out" &
gspid=$!
PIDS+=("$gspid")
sleep 1
"$T/shortlived" 2 0.3 > "$T/short.out" &
spid=$!
PIDS+=("$spid")
wait "$spid" || fail "shortlived failed"
"$T/prexec" -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec "$0" 2 0.3' \
  "$T/shortlived" > "$T/prexec.out" &
xpid=$!
PIDS+=("$xpid")
wait "$xpid" || fail "prexec failed"
"$T/tiny" 1 0.15 > "$T/tiny.out" &
tpid=$!
PIDS+=("$tpid")
wait "$tpid" || fail "tiny failed"
wait "$gpid" || fail "goburn failed"
wait "$gspid" || fail "gostripped failed"
# no wait: stopping drains the rings and emits the partial last interval
stop_profpipe "$PROFPIPE_PID"
[ -s "$T/out/index.jsonl" ] || fail "no profiles written"

n=0
while read -r f; do
  pprof_raw "$T/out/$f" "$T/raw.txt" || fail "go tool pprof -raw cannot read $f"
  n=$((n + 1))
done < <(sed 's/^{"path":"\([^"]*\)".*/\1/' "$T/out/index.jsonl")
pass "all $n profiles open in go tool pprof -raw"

# go_burn_on_top NAME PID: the profiles of PID, merged, have main.burnCPU
# on top and main.main in their stacks. Sets NPROFILES and NSAMPLES.
go_burn_on_top() {
  local name=$1 pid=$2 files paths=() f top
  mapfile -t files < <(index_lines_with "$T/out/index.jsonl" pid "$pid" | sed 's/^{"path":"\([^"]*\)".*/\1/')
  [ "${#files[@]}" -ge 1 ] || fail "no profile of $name (pid $pid)"
  for f in "${files[@]}"; do paths+=("$T/out/$f"); done
  go tool pprof -top -sample_index=samples "${paths[@]}" 2>/dev/null > "$T/$name.top"
  top=$(awk '/^ *flat +flat%/ {getline; print $6; exit}' "$T/$name.top")
  [ "$top" = main.burnCPU ] || { cat "$T/$name.top" >&2; fail "top of $name is $top, not main.burnCPU"; }
  grep -q ' main.main$' "$T/$name.top" || fail "$name's stacks lack main.main"
  NPROFILES=${#files[@]}
  NSAMPLES=$(awk '/Total samples/ {print $NF}' "$T/$name.top")
}

# the Go program: main.burnCPU on top
go_burn_on_top goburn "$gpid"
index_lines_with "$T/out/index.jsonl" pid "$gpid" | sed -n 1p | grep '"service_name":"goburn"' >/dev/null ||
  fail "goburn's service_name is not its executable's name"
pass "goburn: main.burnCPU on top of $NPROFILES profiles ($NSAMPLES samples)"

# the stripped Go program: names from .gopclntab
go_burn_on_top gostripped "$gspid"
pass "gostripped (no .symtab): main.burnCPU on top of $NPROFILES profiles, named from .gopclntab"

# the short-lived process: its own profile and labels
sline=$(index_lines_with "$T/out/index.jsonl" pid "$spid" | sed -n 1p)
[ -n "$sline" ] || fail "no profile of the short-lived process (pid $spid)"
for kv in '"service_name":"svc-lived"' '"comm":"shortlived"' "\"exe\":\"$T/shortlived\"" \
          '"__name__":"process_cpu"'; do
  [[ "$sline" == *"$kv"* ]] || fail "short-lived labels lack $kv: $sline"
done
sfile=$(sed 's/^{"path":"\([^"]*\)".*/\1/' <<<"$sline")
[[ "$sfile" == svc-lived/process_cpu/* ]] || fail "short-lived profile not under svc-lived/: $sfile"
# every window of the process (on a busy machine its first may hold only
# start-up samples)
mapfile -t sfiles < <(index_lines_with "$T/out/index.jsonl" pid "$spid" |
  sed 's/^{"path":"\([^"]*\)".*/\1/' | sed "s#^#$T/out/#")
pprof_cum_counts "${sfiles[@]}" > "$T/short.counts"
grep -q '^heavy_work ' "$T/short.counts" || { cat "$T/short.counts" >&2; fail "short-lived profile lacks heavy_work"; }
pass "short-lived pid $spid: profile with service_name=svc-lived, comm, exe, and its functions"

# one process, two programs: a profile for each side of the exec
xline=$(index_lines_with "$T/out/index.jsonl" pid "$xpid" | grep -F '"comm":"prexec"' | sed -n 1p)
yline=$(index_lines_with "$T/out/index.jsonl" pid "$xpid" | grep -F '"comm":"shortlived"' | sed -n 1p)
[ -n "$xline" ] || fail "no profile of pid $xpid before its exec (comm prexec)"
[ -n "$yline" ] || fail "no profile of pid $xpid after its exec (comm shortlived)"
[[ "$xline" == *"\"exe\":\"$T/prexec\""* ]] || fail "before exec, exe: $xline"
[[ "$yline" == *"\"exe\":\"$T/shortlived\""* ]] || fail "after exec, exe: $yline"
pprof_cum_counts "$T/out/$(sed 's/^{"path":"\([^"]*\)".*/\1/' <<<"$xline")" > "$T/x.counts"
mapfile -t yfiles < <(index_lines_with "$T/out/index.jsonl" pid "$xpid" | grep -F '"comm":"shortlived"' |
  sed 's/^{"path":"\([^"]*\)".*/\1/' | sed "s#^#$T/out/#")
pprof_cum_counts "${yfiles[@]}" > "$T/y.counts" # every window after the exec
! grep -q '^heavy_work ' "$T/x.counts" || fail "the shell's profile holds the program's functions"
grep -q '^heavy_work ' "$T/y.counts" || { cat "$T/y.counts" >&2; fail "the program's profile lacks heavy_work"; }
pass "exec in pid $xpid: $(wc -l < "$T/x.counts") functions as prexec, heavy_work only after the exec"

# 150 ms of life: known from the kernel's records
tline=$(index_lines_with "$T/out/index.jsonl" pid "$tpid" | sed -n 1p)
[ -n "$tline" ] || fail "no profile of the 150 ms process (pid $tpid)"
[[ "$tline" == *"\"comm\":\"tiny\""* && "$tline" == *"\"exe\":\"$T/tiny\""* ]] ||
  fail "150 ms process labels: $tline"
pprof_cum_counts "$T/out/$(sed 's/^{"path":"\([^"]*\)".*/\1/' <<<"$tline")" > "$T/t.counts"
grep -q '^main ' "$T/t.counts" || { cat "$T/t.counts" >&2; fail "150 ms process: main not resolved"; }
pass "150 ms process pid $tpid: labels and symbols from FORK/COMM/MMAP2 records"
