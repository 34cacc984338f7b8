#!/usr/bin/env bash
# Codec round trip on real Go profiles: profgen writes every runtime profile
# type; pprof_roundtrip decodes each with profpipe's codec, drops the raw
# bytes, re-encodes the tree (and, in a second pass, compacts it first).
# go tool pprof, an independent reader, must see identical per-type totals
# and identical stacks (by function and line, not by id) in both.
source "$SOURCE_DIR/tests/e2e/lib.sh"

TOOL="$BUILD_DIR/tests/e2e/codec/pprof_roundtrip"
NORM="$SOURCE_DIR/tests/e2e/codec/pprof_norm.awk"
[ -x "$TOOL" ] || fail "missing $TOOL (build the pprof_roundtrip target)"

go_build "$T/profgen" "$SOURCE_DIR/tests/e2e/go/profgen"
timeout 30 "$T/profgen" "$T/in" || fail "profgen failed"

norm() { go tool pprof -raw "$1" 2>"$1.err" | awk -f "$NORM" | sort; }

for type in cpu heap allocs goroutine block mutex threadcreate; do
  in="$T/in/$type.pb.gz"
  [ -s "$in" ] || fail "$type: profgen wrote no profile"
  norm "$in" > "$T/$type.want"
  grep -q '^total ' "$T/$type.want" || fail "$type: go tool pprof cannot read the original"
  for mode in plain compact; do
    out="$T/$type.$mode.pb.gz"
    flag=""; [ "$mode" = compact ] && flag=--compact
    "$TOOL" "$in" "$out" $flag || fail "$type ($mode): round trip failed"
    norm "$out" > "$T/$type.$mode.got"
    if [ "$mode" = compact ]; then
      # compact drops all-zero samples: so must the expectation
      grep -v -E '^sample( 0)+ = ' "$T/$type.want" > "$T/$type.want.nz"
      want="$T/$type.want.nz"
    else
      want="$T/$type.want"
    fi
    if ! diff -u "$want" "$T/$type.$mode.got" > "$T/$type.$mode.diff"; then
      head -40 "$T/$type.$mode.diff" >&2
      fail "$type ($mode): go tool pprof sees different samples after the round trip"
    fi
    pass "$type ($mode): $(grep -c '^sample' "$T/$type.$mode.got") stacks, $(grep '^total' "$T/$type.$mode.got" | tr '\n' ' ')"
  done
  # the plain round trip keeps every byte of meaning: the raw dumps match
  go tool pprof -raw "$in" > "$T/$type.raw.want" 2>/dev/null
  go tool pprof -raw "$T/$type.plain.pb.gz" > "$T/$type.raw.got" 2>/dev/null
  diff -q "$T/$type.raw.want" "$T/$type.raw.got" >/dev/null ||
    fail "$type: go tool pprof -raw output differs after a plain round trip"
done
pass "every Go profile type survives decode/encode"
