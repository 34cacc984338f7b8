#!/usr/bin/env bash
# A crash (SIGKILL) while the file exporter writes: no profile file is ever
# partial (each is renamed into place whole), the index holds no line
# without its file, and the next start cleans up the temp files, keeps the
# index true to the folder, and (delete_after_read) writes every input that
# was not acknowledged before the crash: at least once, none lost.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/foundation/foundation_lib.sh"

N=200
go_profiles "$T/gen"
mkdir -p "$T/in"
for i in $(seq 1 $N); do cp "$T/gen/goapp.heap.pb.gz" "$T/in/s$i.heap.pb.gz"; done
cat > "$T/config.yaml" <<YAML
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
    poll_interval: 200ms
    min_file_age: 0s
    delete_after_read: true
exporters:
  file:
    directory: $T/out
    fsync: true
service:
  telemetry: {address: ""}  # no port to collide on; test_telemetry checks it
  pipelines:
    profiles:
      receivers: [file]
      exporters: [file]
YAML

# whole_files: every profile file in the folder is a complete gzip stream
whole_files() {
  local f
  while IFS= read -r f; do
    gzip -t "$f" 2>/dev/null || fail "partial profile file after the crash: $f"
  done < <(find "$T/out" -name '*.pb.gz' ! -name '.tmp-*')
}

start_profpipe first "$T/config.yaml"
wait_index "$T/out" 20 30
kill -KILL "$PROFPIPE_PID"
wait "$PROFPIPE_PID" 2>/dev/null || true
at_crash=$(index_lines "$T/out")
left=$(find "$T/in" -name '*.pb.gz' | wc -l)
[ "$left" -gt 0 ] || echo "note: every input was written before the kill this time"
whole_files
indexcheck "$T/out" > /dev/null || fail "after the crash, an index line does not match its file"
pass "SIGKILL with $at_crash written, $left inputs left: every file whole, every index line true"

start_profpipe second "$T/config.yaml"
drained() { [ -z "$(find "$T/in" -name '*.pb.gz')" ]; }
wait_for 40 drained || fail "$(find "$T/in" -name '*.pb.gz' | wc -l) inputs never written after the restart"
stop_profpipe "$PROFPIPE_PID"
whole_files
[ -z "$(find "$T/out" -name '.tmp-*')" ] || fail "temp files left after the restart"
indexcheck "$T/out" > "$T/summary" || fail "index does not match its files after the restart"
sed 's/.*service_name=\([^,	]*\).*/\1/' "$T/summary" | sort -u > "$T/written"
[ "$(wc -l < "$T/written")" = $N ] || fail "want all $N inputs written, got $(wc -l < "$T/written")"
pass "restart: all $N inputs written ($(wc -l < "$T/summary") index lines), no temp files, index true"
