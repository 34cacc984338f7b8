#!/usr/bin/env bash
# The default config, run the way the README runs it (from the repository
# root, relative paths): the sample profiles show up in ./profiles at once,
# a file dropped into ./dropin is written out and removed from the drop-in
# folder, a file that is not pprof lands in ./dropin/failed.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

go_profiles "$T/gen"
mkdir -p "$T/root" && cp -r "$SOURCE_DIR/config" "$T/root/"
telemetry_port
export PROFPIPE_TELEMETRY_ADDRESS=$TELEMETRY
cd "$T/root"
start_profpipe run config/profpipe.yaml
wait_index profiles 3 20
for fam in process_cpu memory goroutine; do
  ls profiles/example/$fam/*.pb.gz >/dev/null 2>&1 || fail "no sample in profiles/example/$fam"
done
pass "the samples are in ./profiles/example at once"

mkdir -p dropin
drop "$T/gen/goapp.heap.pb.gz" dropin myapp.heap.pb.gz
echo "hello" > dropin/notes.pb.gz
wait_index profiles 4 20
ls profiles/myapp/memory/*.pb.gz >/dev/null 2>&1 || fail "the dropped file is not in profiles/myapp/memory"
tail -1 profiles/index.jsonl | grep -q '"source":"dropin"' || fail "no source=dropin label: $(tail -1 profiles/index.jsonl)"
wait_for 10 test ! -e dropin/myapp.heap.pb.gz || fail "the dropped file was not deleted after writing"
wait_for 10 test -e dropin/failed/notes.pb.gz || fail "the bad file was not moved to dropin/failed"
curl -sf "http://$TELEMETRY/metrics" | grep -q 'profpipe_file_receiver_files_total{component_id="file/dropin",result="failed"} 1' ||
  fail "the failed file is not counted"
indexcheck profiles > /dev/null || fail "index does not match its files"
stop_profpipe "$PROFPIPE_PID"
pass "drop-in: written to ./profiles/myapp/memory, removed from ./dropin, bad file in ./dropin/failed"
