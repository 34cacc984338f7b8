#!/usr/bin/env bash
# Checks that every C source and header of the project is as clang-format
# writes it with the repository's .clang-format (the tree was formatted
# once, whole; this keeps it so). Generated and fetched files are not in
# the tree, so every tracked *.c and *.h counts.
#   check_format.sh [ROOT]        lists each file that differs; 1 if any
#   check_format.sh --self-test   proves a misformatted file is caught
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fmt=$(command -v clang-format || command -v clang-format-14) || {
  echo "format: clang-format is not installed (scripts/setup.sh test installs it)"
  exit 1
}

files() { # the C files of ROOT: git's list when it is a clone, else every one
  if git -C "$1" rev-parse --show-toplevel >/dev/null 2>&1 &&
    [ "$(git -C "$1" rev-parse --show-toplevel)" = "$(cd "$1" && pwd)" ]; then
    git -C "$1" ls-files -z --cached --others --exclude-standard -- '*.c' '*.h' |
      while IFS= read -r -d '' f; do [ -f "$1/$f" ] && printf '%s\n' "$1/$f"; done
  else
    find "$1" -path "$1/build*" -prune -o \( -name '*.c' -o -name '*.h' \) -type f -print
  fi
}

check() {
  local root=$1 n bad
  files "$root" >"$tmpdir/files"
  n=$(wc -l <"$tmpdir/files")
  if [ "$n" = 0 ]; then
    echo "format: no C files found under $root"
    return 1
  fi
  # one clang-format per batch of files; each difference is reported as
  # FILE:LINE:COL: error: code should be clang-formatted
  tr '\n' '\0' <"$tmpdir/files" |
    xargs -0 -n 64 "$fmt" --style=file --dry-run -Werror 2>&1 >/dev/null |
    sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u >"$tmpdir/bad"
  bad=$(wc -l <"$tmpdir/bad")
  while IFS= read -r f; do
    echo "format: ${f#"$root"/} differs from clang-format's output (run: clang-format -i ${f#"$root"/})"
  done <"$tmpdir/bad"
  [ "$bad" = 0 ] && echo "format: all $n C files as clang-format writes them"
  [ "$bad" = 0 ]
}

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
if [ "${1:-}" = --self-test ]; then
  tmp=$tmpdir/tree
  mkdir "$tmp"
  cp "$here/../../.clang-format" "$tmp/"
  printf 'int f(void)\n{\n    return 0;\n}\n' >"$tmp/good.c"
  check "$tmp" >/dev/null || { echo "self-test: a formatted file was refused"; exit 1; }
  printf 'int   g( void ){return 1;}\n' >"$tmp/bad.c"
  out=$(check "$tmp") && { echo "self-test: a misformatted file passed"; exit 1; }
  grep -q "bad.c differs" <<<"$out" || { echo "self-test: the report does not name bad.c: $out"; exit 1; }
  echo "self-test: a misformatted file is named, a formatted one passes"
  exit 0
fi
check "${1:-$(cd "$here/../.." && pwd)}"
