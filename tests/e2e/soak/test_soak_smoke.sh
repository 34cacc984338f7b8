#!/usr/bin/env bash
# A short run of the chaos soak (bench/soak/run.sh) with every fault made
# frequent: the recorder down every 20 s, a SIGKILL in each outage, a
# reload every 8 s. The soak must exit 0 (its own checks: drained, the
# ledger identity on every pipeline, nothing given up on, distinct <=
# exported <= 200s); this test also checks from the soak's own files that
# the chaos really happened and that every source reached the recorder.
source "$SOURCE_DIR/tests/e2e/lib.sh"

set +e
SOAK_DIR="$T/soak" SOAK_SCRAPE_INTERVAL=5 SOAK_CPU_SECONDS=2 SOAK_PUSH_INTERVAL=5 SOAK_RELAY_INTERVAL=5 \
  SOAK_RELOAD_INTERVAL=8 SOAK_RECORDER_UP=20 SOAK_RECORDER_DOWN=16 SOAK_KILL_EVERY=1 SOAK_SAMPLE_INTERVAL=5 \
  SOAK_WARMUP=10 "$SOURCE_DIR/bench/soak/run.sh" 75s "$BUILD_DIR" >"$T/out" 2>&1
rc=$?
set -e
cat "$T/out"
[ "$rc" = 0 ] || fail "the soak exited $rc"
line() { grep -m1 -- "$1" "$T/soak/summary" || fail "no '$1' in the summary"; }

chaos=$(line ' chaos ')
kills=$(sed -n 's/.*configs), \([0-9]*\) SIGKILLs.*/\1/p' <<<"$chaos")
broken=$(sed -n 's/.*reloads (\([0-9]*\) broken.*/\1/p' <<<"$chaos")
reloads=$(sed -n 's/.*chaos *\([0-9]*\) reloads.*/\1/p' <<<"$chaos")
[ "${kills:-0}" -ge 1 ] || fail "no SIGKILL: $chaos"
[ "${broken:-0}" -ge 1 ] || fail "no broken reload: $chaos"
[ "${reloads:-0}" -ge 4 ] || fail "fewer than 4 reloads: $chaos"
lives=$(ls "$T/soak/lives"/*.prom | wc -l)
[ "$lives" = $((kills + 1)) ] || fail "$lives lives kept for $kills kills"
spooled=$(sed -n 's/.*brought back by spools \([0-9]*\).*/\1/p' <<<"$(line 'profiles in')")
[ "${spooled:-0}" -ge 1 ] || fail "no profile came back from a spool after a SIGKILL: $(line 'profiles in')"
grep -q '^ok *ledger identity, every pipeline' "$T/soak/summary" || fail "identity: $(line 'ledger identity')"
grep -q 'spool/pyroscope in=' "$T/soak/summary" || fail "the last life has no spool/pyroscope pipeline in its ledger"

# what the recorder took: every source, every scrape target
keys=$(gzip -dc "$T/soak/received.keys.gz")
for svc in pprof_scrape/soak pprof_scrape/cpu soak-sdk soak-relay; do
  grep -q "service_name=\"$svc\"" <<<"$keys" || fail "the recorder got nothing of service $svc"
done
targets=$(grep -o 'instance="127.0.0.1:[0-9]*"' <<<"$keys" | sort -u | wc -l)
[ "$targets" -ge 50 ] || fail "the recorder got profiles of $targets scrape targets, want 50"
for name in goroutine memory process_cpu goroutines block mutex; do
  grep -q "__name__=\"$name\"" <<<"$keys" || fail "the recorder got no $name profile"
done
read -r d e r < <(sed -n 's/.*distinct=\([0-9]*\) ledger_exported=\([0-9]*\) recorder_200s=\([0-9]*\).*/\1 \2 \3/p' "$T/soak/summary")
[ "$(sort -u <<<"$keys" | wc -l)" = "$d" ] && [ "$(wc -l <<<"$keys")" = "$r" ] || fail "summary D=$d R=$r disagree with received.keys"
pass "soak smoke: $reloads reloads ($broken broken), $kills SIGKILLs, $spooled profiles back from spools; recorder took $r profiles ($d distinct) of 4 sources and $targets targets; ledger exported $e"
