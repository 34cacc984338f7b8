#!/usr/bin/env bash
# pprof strings are byte strings: NUL bytes and invalid UTF-8 survive.
# pprofshapes (Go, github.com/google/pprof/profile) writes profiles with
# such strings in every kind of string field, two function names differing
# only after a NUL byte among them. Each goes through profpipe's codec
# (pprof_roundtrip: plain, compacted, merged) and through the real binary
# (file receiver -> relabel of sample labels -> downsample window merge and
# min_fraction -> file exporter). go tool pprof -raw, with bytes made
# visible by cat -v, must see the same strings, samples and totals as in
# the input: a plain round trip byte for byte, the others sample by sample.
source "$SOURCE_DIR/tests/e2e/lib.sh"

TOOL="$BUILD_DIR/tests/e2e/codec/pprof_roundtrip"
NORM="$SOURCE_DIR/tests/e2e/codec/pprof_norm.awk"
[ -x "$TOOL" ] || fail "missing $TOOL (build the pprof_roundtrip target)"

go_build "$T/pprofshapes" "$SOURCE_DIR/tests/e2e/go/pprofshapes"
"$T/pprofshapes" bytes "$T/in.pb.gz" || fail "pprofshapes failed"
"$T/pprofshapes" bytes "$T/in2.pb.gz" 1 || fail "pprofshapes (variant) failed"

# vis FILE...: go tool pprof -raw with every byte visible (^@ is NUL)
vis() { go tool pprof -raw "$@" 2>"$T/pprof.err" | cat -v; }
# norm FILE...: one line per (stack by name and file:line, labels)
norm() { vis "$@" | awk -f "$NORM" | sort; }
nonzero() { grep -v -E '^sample( 0)+ = ' "$1"; }
# same WANT GOT WHAT
same() {
  diff -u "$1" "$2" > "$T/diff" || { head -40 "$T/diff" >&2; fail "$3: go tool pprof sees other samples"; }
  pass "$3: $(grep -c '^sample' "$2") stacks, $(grep '^total' "$2" | tr '\n' ' ')"
}

# the input holds what the test is about, as Go's reader sees it
vis "$T/in.pb.gz" > "$T/in.vis"
for s in 'pkg.abc^@def src/a.go:10' 'pkg.abc^@xyz src/a.go:20' 'main.M-^?M-~ src/M-C(.go:30' \
  'main.main main^@.go:40' 'k:[v^@a]' 'k:[v^@b]' 'uM-^?:[M-@M-/]' 'size:[1024 b^@ytes]' \
  '/usr/lib/lib^@name.so M-^?M-~^@id' 'Comment: c^@omment' 'Comment: half M-bM-^B euro'; do
  grep -qF -- "$s" "$T/in.vis" || fail "input lacks $s"
done
norm "$T/in.pb.gz" > "$T/want"

"$TOOL" "$T/in.pb.gz" "$T/plain.pb.gz" || fail "plain round trip failed"
go tool pprof -raw "$T/in.pb.gz" > "$T/raw.want" 2>/dev/null
go tool pprof -raw "$T/plain.pb.gz" > "$T/raw.got" 2>/dev/null
cmp -s "$T/raw.want" "$T/raw.got" ||
  { diff <(cat -v "$T/raw.want") <(cat -v "$T/raw.got") > "$T/raw.diff" || head -20 "$T/raw.diff" >&2
    fail "plain round trip changed bytes"; }
pass "plain round trip: go tool pprof -raw output identical byte for byte"

"$TOOL" "$T/in.pb.gz" "$T/compact.pb.gz" --compact || fail "compact failed"
norm "$T/compact.pb.gz" > "$T/compact.got"
nonzero "$T/want" > "$T/want.nz"
same "$T/want.nz" "$T/compact.got" compact

# variant 1 numbers functions and strings the other way round: merge must
# match by all the bytes of each string
"$TOOL" "$T/in.pb.gz" "$T/merged.pb.gz" --merge "$T/in2.pb.gz" --compact || fail "merge failed"
norm "$T/merged.pb.gz" > "$T/merged.got"
norm "$T/in.pb.gz" "$T/in2.pb.gz" > "$T/merged.all"
nonzero "$T/merged.all" > "$T/merged.want"
same "$T/merged.want" "$T/merged.got" merge
[ "$(grep -c 'pkg.abc^@' "$T/merged.got")" = 2 ] || fail "merge: pkg.abc\\0def and pkg.abc\\0xyz are not two frames"

# the real binary: sample labels relabelled (env=test added to every
# sample, so every label set is rewritten), both files merged in one
# window, stacks folded by content
mkdir -p "$T/drop"
cp "$T/in.pb.gz" "$T/drop/app.cpu1.pb.gz"
cp "$T/in2.pb.gz" "$T/drop/app.cpu2.pb.gz"
TELEMETRY="127.0.0.1:$(free_port)"
cat > "$T/config.yaml" <<YAML
receivers:
  file/in: {include: ["$T/drop/*.pb.gz"], min_file_age: 0s}
processors:
  relabel:
    sample_labels:
      - {target_label: env, replacement: test}
  downsample: {window: 1h, min_fraction: 0.01}
exporters:
  file: {directory: "$T/out"}
service:
  telemetry: {address: "$TELEMETRY"}
  pipelines:
    profiles/p: {receivers: [file/in], processors: [relabel, downsample], exporters: [file]}
YAML
start_profpipe run "$T/config.yaml"
merged_one() {
  curl -sf "http://$TELEMETRY/metrics" > "$T/metrics" || return 1
  grep -q '^profpipe_downsample_merged_profiles_total{.*} 1$' "$T/metrics"
}
wait_for 30 merged_one || fail "downsample did not merge the two profiles: $(tail -5 "$T/run.log")"
stop_profpipe "$PROFPIPE_PID"
out=$(find "$T/out" -name '*.pb.gz')
[ "$(echo "$out" | wc -l)" = 1 ] || fail "want one merged profile, got: $out"
vis "$out" > "$T/daemon.vis"
grep -q 'env:\[test\]' "$T/daemon.vis" || fail "relabel did not add env=test"
# apart from the added label, what went in comes out
norm "$out" | sed 's/ env:\[test\]//; s/| env:\[test\] /| /' > "$T/daemon.got"
same "$T/merged.want" "$T/daemon.got" "relabel + downsample in profpipe"
python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="strict"), 1):
    json.loads(line)
' "$T/out/index.jsonl" || fail "index.jsonl is not strict UTF-8 JSON"
pass "NUL bytes and invalid UTF-8 in pprof strings survive codec and processors"
