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
pyro_port=$(free_port)
export PROFPIPE_PYROSCOPE_ADDRESS=127.0.0.1:$pyro_port
cd "$T/root"
start_profpipe run config/profpipe.yaml
wait_index profiles 3 20
for fam in process_cpu memory goroutines; do
  ls profiles/example/$fam/*.pb.gz >/dev/null 2>&1 || fail "no sample in profiles/example/$fam"
done
pass "the samples are in ./profiles/example at once"

mkdir -p dropin
drop "$T/gen/goapp.heap.pb.gz" dropin myapp.heap.pb.gz
echo "hello" > dropin/notes.pb.gz
wait_index profiles 4 20
ls profiles/myapp/memory/*.pb.gz >/dev/null 2>&1 || fail "the dropped file is not in profiles/myapp/memory"
tail -1 profiles/index.jsonl | grep '"source":"dropin"' >/dev/null || fail "no source=dropin label: $(tail -1 profiles/index.jsonl)"
wait_for 10 test ! -e dropin/myapp.heap.pb.gz || fail "the dropped file was not deleted after writing"
wait_for 10 test -e dropin/failed/notes.pb.gz || fail "the bad file was not moved to dropin/failed"
expect_metric 'profpipe_file_receiver_files_total{component_id="file/dropin",result="failed"}' 1

indexcheck profiles > /dev/null || fail "index does not match its files"

# an SDK-style push (its window is the request's from/until, not the pprof's
# own time, so it comes after indexcheck) to the Pyroscope receiver lands in ./profiles too
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$pyro_port/" || fail "the pyroscope receiver does not listen"
code=$(curl -s -o "$T/ingest.out" -w '%{http_code}' --data-binary @"$T/gen/goapp.heap.pb.gz" \
  -H 'Content-Type: application/octet-stream' \
  "http://127.0.0.1:$pyro_port/ingest?name=pushed.alloc_space%7Bregion%3Deu%7D&format=pprof&from=1700000000&until=1700000010")
[ "$code" = 200 ] || fail "/ingest answered $code: $(cat "$T/ingest.out")"
wait_index profiles 5 20
grep '"service_name":"pushed"' profiles/index.jsonl | grep '"region":"eu"' >/dev/null ||
  fail "the pushed profile is not in the index with its tag: $(tail -1 profiles/index.jsonl)"
pushed=$(ls profiles/pushed/memory/*.pb.gz) || fail "no file in profiles/pushed/memory"
[ "$(pprof_total "$pushed" 2)" = "$(pprof_total "$T/gen/goapp.heap.pb.gz" 2)" ] ||
  fail "the pushed profile's alloc_space total differs from what was sent"
pass "a profile pushed to :$pyro_port/ingest is in ./profiles/pushed"

stop_profpipe "$PROFPIPE_PID"
pass "drop-in: written to ./profiles/myapp/memory, removed from ./dropin, bad file in ./dropin/failed"
