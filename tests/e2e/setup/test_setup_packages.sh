#!/usr/bin/env bash
# scripts/setup.sh installs everything a fresh Debian 12 machine lacks, on
# each of its two paths, and the run path needs no test tool.
#
# What a fresh machine has is taken as Debian's base: the Essential and
# `Priority: required` packages (what debootstrap --variant=minbase and the
# debian:12 image install) with their dependencies. What the build needs is
# derived from the sources, not from a list kept by hand:
#   - every pkg-config module a CMakeLists.txt asks for (its .pc file's
#     package), every find_program, the compiler, cmake, make, pkg-config;
#   - every system header any compiled file includes (gcc -M on each
#     command of compile_commands.json, in a build configured tests-off);
#   - for the test path, the same for tests/ and bench/, every external
#     command the e2e scripts run, and every non-standard Go import.
# Each must belong to a package that setup.sh installs on that path, to one
# of their dependencies, or to the base. Then a configure that sees only
# the .pc files of the run path's packages succeeds with PROFPIPE_TESTS=OFF
# and builds no test, and fails for the tests on cmocka (so the check can
# fail).
source "$(dirname "$0")/../lib.sh"
cd "$SOURCE_DIR"

RUN_PKGS=$(scripts/setup.sh --packages)
TEST_PKGS_ALL=$(scripts/setup.sh --packages test)
[ -n "$RUN_PKGS" ] || fail "setup.sh --packages printed nothing"

# base: Essential or required packages, and a package list's closure over
# Depends/PreDepends (alternatives included) among installed packages
dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' |
  awk '$2 == "yes" || $3 == "required" {print $1}' >"$T/base"
closure() { # packages... -> sorted names on stdout
  # shellcheck disable=SC2046
  apt-cache depends --recurse --installed --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
    sed -E 's/^ *\|?(Pre)?Depends: //; s/^ +//; s/[<>]//g; s/:.*$//' | sort -u
}
# shellcheck disable=SC2046
closure $(cat "$T/base") >"$T/base.all"
# shellcheck disable=SC2086
closure $RUN_PKGS | sort -u - "$T/base.all" >"$T/run.all"
# shellcheck disable=SC2086
closure $TEST_PKGS_ALL | sort -u - "$T/base.all" >"$T/test.all"
grep -qx libcmocka-dev "$T/run.all" && fail "the run path installs cmocka"

# owner FILE...: "package<TAB>file" for each file (usrmerge: also /bin/x)
owner() {
  local f
  for f in "$@"; do
    local p
    p=$({ dpkg -S "$f" "$(readlink -f "$f")" "${f/#\/usr\/bin\//\/bin/}" \
            "${f/#\/usr\/sbin\//\/sbin/}" 2>/dev/null || true; } |
          grep -v '^diversion' | sed -n 1p | cut -d: -f1)
    [ -n "$p" ] || fail "no Debian package owns $f"
    printf '%s\t%s\n' "$p" "$f"
  done
}

# check LIST_FILE WHAT <"package<TAB>file" lines: each package in LIST
check() {
  local list=$1 what=$2 pkg file bad=0
  while IFS=$'\t' read -r pkg file; do
    grep -qx "$pkg" "$list" || { echo "missing: $pkg (for $what $file)" >&2; bad=1; }
  done
  [ $bad = 0 ] || fail "setup.sh does not install what $what needs"
}

# --- the run path: CMake modules, programs and tools ------------------
cmake_files() { # run|test
  if [ "$1" = run ]; then
    find . -name CMakeLists.txt -not -path './build*' -not -path './tests/*' -not -path './bench/*'
  else
    find ./tests ./bench -name CMakeLists.txt
  fi
}
modules() {
  # shellcheck disable=SC2046
  sed -nE 's/.*pkg_check_modules\([A-Z0-9_]+ REQUIRED( IMPORTED_TARGET)?( GLOBAL)? ([^ )]+).*/\3/p' \
    $(cmake_files "$1") | sort -u
}
programs() {
  # shellcheck disable=SC2046
  sed -nE 's/.*find_program\([A-Z0-9_]+ ([^ )]+).*/\1/p' $(cmake_files "$1") | sort -u
}
pc_files() { local m; for m in $(modules "$1"); do pkg-config --path "$m" || fail "no $m.pc"; done; }
prog_files() { local p; for p in "$@"; do command -v "$p" || fail "no program $p"; done; }

[ -n "$(modules run)" ] || fail "found no pkg_check_modules in the CMake files"
pc_files run >"$T/run.pc"
# shellcheck disable=SC2046
owner $(cat "$T/run.pc") | check "$T/run.all" "pkg-config module"
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
[ -x "$cc" ] || fail "no C compiler in $BUILD_DIR/CMakeCache.txt"
# shellcheck disable=SC2046
prog_files $(programs run) cmake make pkg-config >"$T/run.progs"
# shellcheck disable=SC2046
owner $(cat "$T/run.progs") "$(readlink -f "$cc")" | check "$T/run.all" "program"
pass "run path: $(modules run | wc -l) pkg-config modules, $(programs run | wc -l) programs, compiler and tools"

# a tests-off configure seeing only the run path's .pc files
mkdir -p "$T/pc"
# shellcheck disable=SC2046
{ dpkg -L $(cat "$T/run.all") 2>/dev/null || true; } | grep -E '/pkgconfig/[^/]+\.pc$' |
  while read -r f; do [ -f "$f" ] && ln -sf "$f" "$T/pc/"; done
[ ! -e "$T/pc/cmocka.pc" ] || fail "cmocka.pc is on the run path"
PKG_CONFIG_LIBDIR=$T/pc cmake -S . -B "$T/run" -DPROFPIPE_TESTS=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$T/run.cmake" 2>&1 ||
  { cat "$T/run.cmake" >&2; fail "configure with tests off and the run path's packages failed"; }
cmake --build "$T/run" --target help >"$T/targets"
grep -q '\bdaemon\b' "$T/targets" || fail "no daemon target"
! grep -qE 'test_|e2e_|bench' "$T/targets" || fail "tests-off build has test targets: $(grep -E 'test_|e2e_|bench' "$T/targets" | sed -n 1,3p)"
if PKG_CONFIG_LIBDIR=$T/pc cmake -S . -B "$T/withtests" -DPROFPIPE_TESTS=ON >"$T/wt.cmake" 2>&1; then
  fail "configure with tests on succeeded without cmocka.pc: the restriction is not real"
fi
grep -q cmocka "$T/wt.cmake" || fail "tests-on configure failed, but not on cmocka: $(tail -5 "$T/wt.cmake")"
pass "run path configures with only its own packages' .pc files, and builds no test"

# every system header of every compiled file
headers() { # compile_commands.json -> system header paths
  jq -r '.[] | [.directory, .command] | @tsv' "$1" | while IFS=$'\t' read -r dir cmd; do
    # shellcheck disable=SC2001
    (cd "$dir" && eval "$(sed -E 's/ -o [^ ]+ -c / -M -MG /' <<<"$cmd")") ||
      { echo "FAIL: gcc -M failed: $cmd" >&2; exit 1; }
  done | tr ' \\' '\n\n' | grep -E '^/(usr|lib)/' | sort -u
}
cmake --build "$T/run" --target profpipe_proto ui_assets >/dev/null # generated sources
headers "$T/run/compile_commands.json" >"$T/run.headers"
[ "$(wc -l <"$T/run.headers")" -gt 50 ] || fail "too few system headers found: $(wc -l <"$T/run.headers")"
# shellcheck disable=SC2046
owner $(cat "$T/run.headers") | sort -u -k1,1 | check "$T/run.all" "header"
pass "run path: $(wc -l <"$T/run.headers") system headers, all from its packages"

# --- the test path -----------------------------------------------------
pc_files test >"$T/test.pc"
# shellcheck disable=SC2046
prog_files $(programs test) >>"$T/test.pc"
# shellcheck disable=SC2046
owner $(cat "$T/test.pc") | check "$T/test.all" "test module"
cmake -S . -B "$T/test" -DPROFPIPE_TESTS=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build "$T/test" --target profpipe_proto ui_assets >/dev/null
headers "$T/test/compile_commands.json" >"$T/test.headers"
# shellcheck disable=SC2046
owner $(cat "$T/test.headers") | sort -u -k1,1 | check "$T/test.all" "test header"
pass "test path: $(wc -l <"$T/test.headers") system headers, pkg-config modules and programs"

# shell functions the scripts define: their calls run no program
functions() {
  cat tests/e2e/lib.sh tests/e2e/*/*.sh bench/*/*.sh scripts/test.sh |
    sed -nE 's/^[[:space:]]*([a-z][a-z0-9_]*)[[:space:]]*\(\)[[:space:]]*\{?.*$/\1/p' | sort -u
}
# commands in command position in the e2e scripts (heredoc bodies,
# comments, messages and assignments skipped)
commands() {
  local f
  for f in tests/e2e/lib.sh tests/e2e/*/*.sh bench/*/*.sh scripts/test.sh; do
    [ "$f" -ef "$0" ] && continue # this file's awk program is no command
    awk '
      hd != "" { if ($0 ~ "^[ \t]*" hd "$") hd = ""; next }
      { line = $0
        if (match(line, /<<-?[ ]*["'\'']?[A-Za-z_]+/)) {
          hd = substr(line, RSTART, RLENGTH); gsub(/[<"'\'' -]/, "", hd) }
        sub(/(^|[ \t])#.*$/, "", line)
        sub(/(fail|pass|echo|printf) ["'\''].*$/, "", line)
        print line }' "$f"
  done | grep -oE '(^|[|;&(]|\$\(|\bthen|\bdo|\belse|\bbg|\bwait_for [0-9]+|\btimeout [0-9.]+[sm]?|\bnice -n [0-9]+|\bexec)[[:space:]]*[a-z][a-z0-9._+-]*([^=a-z0-9._+-]|$)' |
    sed -E 's/[^a-z0-9._+-]$//' | grep -oE '[a-z][a-z0-9._+-]*$' | sort -u |
    grep -vxF -f <(functions) |
    while read -r w; do
      [ "$(type -t "$w")" = file ] || continue
      p=$(type -P "$w")
      # a program installed outside Debian that shadows Debian's (pyenv's
      # python3 on this machine): the fresh machine runs Debian's
      if ! dpkg -S "$(readlink -f "$p")" >/dev/null 2>&1 && [ -x "/usr/bin/$w" ]; then p=/usr/bin/$w; fi
      echo "$p"
    done
}
commands >"$T/commands"
grep -q '/go$' "$T/commands" || fail "the command scan found no go"
# shellcheck disable=SC2046
owner $(cat "$T/commands") | check "$T/test.all" "command"
pass "test path: $(wc -l <"$T/commands") commands the scripts run"

# Go imports outside the standard library resolve under /usr/share/gocode
find tests bench -name '*.go' -exec awk '
    /^import \(/ { i = 1; next }  i && /^\)/ { i = 0 }  i || /^import "/ { print }' {} + |
  grep -oE '"[a-z0-9-]+\.[a-z.]+/[^"]+"' | tr -d '"' | sort -u >"$T/goimports"
[ -s "$T/goimports" ] || fail "found no Go import outside the standard library"
while read -r imp; do
  d=/usr/share/gocode/src/$imp
  [ -d "$d" ] || fail "Go import $imp is not in /usr/share/gocode"
  owner "$d"
done <"$T/goimports" | check "$T/test.all" "Go import"
pass "test path: $(wc -l <"$T/goimports") Go imports from Debian packages"
