#!/usr/bin/env bash
# Codec round trip on real Go profiles: profgen (run twice) writes every
# runtime profile type; pprof_roundtrip decodes each with profpipe's codec,
# drops the raw bytes and re-encodes the tree, plainly, compacted, and
# merged with the second run's profile of the same type. go tool pprof, an
# independent reader and merger, must see identical per-type totals and
# identical stacks (by function and line, not by id) in every case.
source "$SOURCE_DIR/tests/e2e/lib.sh"

TOOL="$BUILD_DIR/tests/e2e/codec/pprof_roundtrip"
NORM="$SOURCE_DIR/tests/e2e/codec/pprof_norm.awk"
[ -x "$TOOL" ] || fail "missing $TOOL (build the pprof_roundtrip target)"

go_build "$T/profgen" "$SOURCE_DIR/tests/e2e/go/profgen"
timeout 30 "$T/profgen" "$T/in" || fail "profgen failed"
timeout 30 "$T/profgen" "$T/in2" || fail "profgen (second run) failed"

# norm FILE...: what go tool pprof sees in FILE (merged, if several)
norm() { go tool pprof -raw "$@" 2>"$T/pprof.err" | awk -f "$NORM" | sort; }
# header FILE...: the profile-wide fields go tool pprof prints
header() { go tool pprof -raw "$@" 2>/dev/null | grep -E '^(PeriodType|Period|Time|Duration):'; }
# drops all-zero samples, which compact and merge remove
nonzero() { grep -v -E '^sample( 0)+ = ' "$1"; }

# check TYPE MODE WANT GOT
check() {
  if ! diff -u "$3" "$4" > "$T/$1.$2.diff"; then
    head -40 "$T/$1.$2.diff" >&2
    fail "$1 ($2): go tool pprof sees different samples"
  fi
  pass "$1 ($2): $(grep -c '^sample' "$4") stacks, $(grep '^total' "$4" | tr '\n' ' ')"
}

for type in cpu heap allocs goroutine block mutex threadcreate; do
  in="$T/in/$type.pb.gz" in2="$T/in2/$type.pb.gz"
  [ -s "$in" ] && [ -s "$in2" ] || fail "$type: profgen wrote no profile"
  norm "$in" > "$T/$type.want"
  grep -q '^total ' "$T/$type.want" || fail "$type: go tool pprof cannot read the original"

  "$TOOL" "$in" "$T/$type.plain.pb.gz" || fail "$type (plain): round trip failed"
  norm "$T/$type.plain.pb.gz" > "$T/$type.plain.got"
  check "$type" plain "$T/$type.want" "$T/$type.plain.got"
  # a plain round trip keeps every byte of meaning: the raw dumps match
  go tool pprof -raw "$in" > "$T/$type.raw.want" 2>/dev/null
  go tool pprof -raw "$T/$type.plain.pb.gz" > "$T/$type.raw.got" 2>/dev/null
  diff -q "$T/$type.raw.want" "$T/$type.raw.got" >/dev/null ||
    fail "$type: go tool pprof -raw output differs after a plain round trip"

  "$TOOL" "$in" "$T/$type.compact.pb.gz" --compact || fail "$type (compact): failed"
  norm "$T/$type.compact.pb.gz" > "$T/$type.compact.got"
  nonzero "$T/$type.want" > "$T/$type.want.nz"
  check "$type" compact "$T/$type.want.nz" "$T/$type.compact.got"

  "$TOOL" "$in" "$T/$type.merged.pb.gz" --merge "$in2" --compact || fail "$type (merge): failed"
  norm "$T/$type.merged.pb.gz" > "$T/$type.merged.got"
  norm "$in" "$in2" > "$T/$type.merged.all"
  nonzero "$T/$type.merged.all" > "$T/$type.merged.want"
  check "$type" merge "$T/$type.merged.want" "$T/$type.merged.got"
  # and the same header: earliest time, summed duration, larger period
  [ "$(header "$in" "$in2")" = "$(header "$T/$type.merged.pb.gz")" ] ||
    fail "$type (merge): header differs: $(header "$T/$type.merged.pb.gz" | tr '\n' ' ')"
done
pass "every Go profile type survives decode/encode, compact and merge"
