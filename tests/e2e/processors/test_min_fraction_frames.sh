#!/usr/bin/env bash
# downsample min_fraction sees frames the way go tool pprof -nodefraction
# does: by function name, file and line, not by location id. pprofshapes
# writes a Node.js-style wall profile in which, as Node's pprof writer
# does, one frame appears as several locations (handle() is 21% of the
# total, split over 5 locations of 4.2%). For each fraction, the frames
# profpipe keeps (all but [other]), with their cumulative values, must be
# exactly those `go tool pprof -top -lines -nodefraction=F` keeps on the
# input, and the profile's total must not change.
source "$SOURCE_DIR/tests/e2e/lib.sh"

FRACTIONS="0.05 0.08 0.15"
go_build "$T/pprofshapes" "$SOURCE_DIR/tests/e2e/go/pprofshapes"
mkdir -p "$T/in"
"$T/pprofshapes" nodedups "$T/in/node.wall.pb.gz" || fail "pprofshapes failed"
IN="$T/in/node.wall.pb.gz"

# frames FILE FRACTION: "cum frame" of each node go tool pprof keeps, sorted
frames() {
  go tool pprof -top -lines -nodecount=1000 -sample_index=sample -nodefraction="$2" "$1" \
    2>"$T/pprof.err" | awk '
      /^ *flat +flat%/ { s = 1; next }
      s && NF >= 6 { line = $4; for (i = 6; i <= NF; i++) line = line " " $i; print line }' |
    sort
}
total() { go tool pprof -top -sample_index=sample "$1" 2>/dev/null | sed -n 's/.* of \([0-9]*\) total$/\1/p'; }

# the shape this is about: one frame, several locations, none of them big
[ "$(go tool pprof -raw "$IN" 2>/dev/null | grep -c ' handle /app/handler.js:12 ')" = 5 ] ||
  fail "input does not hold handle() as 5 locations"
grep -q '^210 handle /app/handler.js:12$' <(frames "$IN" 0.05) ||
  fail "go tool pprof does not see handle() at 21%: $(frames "$IN" 0.05 | tr '\n' ';')"

{
  echo "receivers:"
  echo "  file/in: {include: [\"$IN\"], min_file_age: 0s}"
  echo "processors:"
  for f in $FRACTIONS; do echo "  downsample/$f: {min_fraction: $f}"; done
  echo "exporters:"
  for f in $FRACTIONS; do echo "  file/$f: {directory: \"$T/out/$f\"}"; done
  echo "service:"
  echo "  telemetry: {address: \"127.0.0.1:$(free_port)\"}"
  echo "  pipelines:"
  for f in $FRACTIONS; do
    echo "    profiles/$f: {receivers: [file/in], processors: [downsample/$f], exporters: [file/$f]}"
  done
} > "$T/config.yaml"
start_profpipe run "$T/config.yaml"
written() { for f in $FRACTIONS; do [ -n "$(find "$T/out/$f" -name '*.pb.gz' 2>/dev/null)" ] || return 1; done; }
wait_for 30 written || fail "not every pipeline wrote its profile: $(tail -5 "$T/run.log")"
stop_profpipe "$PROFPIPE_PID"

want_total=$(total "$IN")
for f in $FRACTIONS; do
  out=$(find "$T/out/$f" -name '*.pb.gz')
  frames "$IN" "$f" > "$T/want.$f"
  frames "$out" 0 | grep -v ' \[other\]$' > "$T/got.$f" || true
  diff -u "$T/want.$f" "$T/got.$f" > "$T/diff.$f" ||
    { cat "$T/diff.$f" >&2; fail "min_fraction $f keeps other frames than go tool pprof -nodefraction=$f"; }
  [ "$(total "$out")" = "$want_total" ] || fail "min_fraction $f: total $(total "$out"), want $want_total"
  pass "min_fraction $f: the $(wc -l < "$T/got.$f") frames go tool pprof keeps, same cum values, total $want_total"
done
