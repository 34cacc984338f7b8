#!/usr/bin/env bash
# Checks the project's shell scripts for a pipeline whose reader stops
# before its writer is done: `| head`, `| grep -q`, `| grep -m N`, or a
# sed script that quits. The writer then dies of SIGPIPE (exit 141) if it
# writes again after the reader left, and under `set -o pipefail` (every
# script here) the pipeline fails; whether the writer wrote again depends
# on how much it writes and on the scheduler, so such a line passes for
# months and fails on a busy CI machine. Read the whole input instead:
# `sed -n 1p`, `grep … >/dev/null`, `awk 'NR <= 3'`.
#   check_pipes.sh [ROOT]        lists each such line; 1 if any
#   check_pipes.sh --self-test   proves each form is caught
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# a pipe (not ||), spaces, then a reader that may leave early
early='(^|[^|])\|[[:space:]]*(head([[:space:]]|$)|grep([[:space:]]+-[A-Za-z]+)*[[:space:]]+-[A-Za-z]*[qm]|grep.*[[:space:]](--quiet|--silent|--max-count)|sed([[:space:]]+-[A-Za-z]+)*[[:space:]]+(-e[[:space:]]+)?'"'"'[^'"'"']*[;{[:space:]]q)'

scripts() { # the shell scripts of ROOT, outside build trees
  # (this file spells the forms out in its self-test)
  find "$1" \( -path "$1/build*" -o -path "$1/.git" -o -name node_modules \) -prune -o \
    -type f -name '*.sh' ! -path "$1/tests/style/check_pipes.sh" -print | sort
  [ ! -f "$1/.ci/run" ] || echo "$1/.ci/run"
}

check() {
  local root=$1 f bad=0 n=0
  while IFS= read -r f; do
    n=$((n + 1))
    # comments are not code
    if grep -nE "$early" "$f" | grep -vE '^[0-9]+:[[:space:]]*#' >"$tmpdir/hits"; then
      while IFS= read -r line; do
        echo "pipes: ${f#"$root"/}:${line%%:*}: a reader that may stop early, its writer then exits 141 under pipefail: ${line#*:}"
      done <"$tmpdir/hits"
      bad=1
    fi
  done < <(scripts "$root")
  if [ "$n" = 0 ]; then
    echo "pipes: no shell scripts found under $root"
    return 1
  fi
  return $bad
}

self_test() {
  local fails=0
  mkdir -p "$tmpdir/t"
  expect() { # expect pass|fail, what, line
    local got=pass
    printf '#!/bin/bash\nset -o pipefail\n%s\n' "$3" >"$tmpdir/t/x.sh"
    check "$tmpdir/t" >"$tmpdir/out" 2>&1 || got=fail
    if [ "$got" != "$1" ]; then
      echo "self-test: $2: expected $1, got $got"
      cat "$tmpdir/out"
      fails=1
    fi
  }
  expect pass "reading whole" 'line=$(grep -F x f | sed -n 1p); cmd | grep -E y >/dev/null || exit 1'
  expect pass "head of a file" 'head -1 "$f" | cut -d: -f1; head -c 300 body'
  expect pass "a comment" '  # never: cmd | head -1'
  expect pass "|| then head or grep -q" 'diff a b >d || head -20 d; [ -z "$t" ] || grep -qi -- "$t" body'
  expect fail "| head -1" 'line=$(grep -F x f | head -1)'
  expect fail "| head -n 1" 'ls d | head -n 1'
  expect fail "|head -c" 'cat f |head -c 10'
  expect fail "| grep -q" 'curl -s url | grep -q ok || exit 1'
  expect fail "| grep -qE" 'ss -Htan | grep -qE "x|y"'
  expect fail "| grep -F -q" 'ss -Htan | grep -F -q x'
  expect fail "| grep -m1" 'cmd | grep -m1 x'
  expect fail "| grep --quiet" 'cmd | grep -F --quiet x'
  expect fail "| sed …q" "cmd | sed -n '/^S/{n;p;q}'"
  [ $fails = 0 ] && echo "self-test: every early reader caught, whole reads pass"
  return $fails
}

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
if [ "${1:-}" = --self-test ]; then
  self_test
  exit $?
fi
root=${1:-$(cd "$here/../.." && pwd)}
if check "$root"; then
  echo "pipes: no pipeline in the shell scripts has a reader that stops early"
else
  exit 1
fi
