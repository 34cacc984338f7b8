#!/usr/bin/env bash
# Checks the direction of the core's rooms from their #include lines:
#   core/config, core/pprof  ->  core/engine  ->  core/telemetry  ->  core/main.c
# A file may include headers of its own room and of the rooms to the left
# of it, never to the right; config and pprof do not include each other.
# A room's *_internal.h is for that room only. lib/ and the components
# (receivers, processors, exporters, plugins) include no core header at all:
# they see the host through include/profpipe/plugin.h. No include reaches
# across with "../".
#   check_layering.sh [ROOT]       checks ROOT (default: the source tree)
#   check_layering.sh --self-test  proves it catches each kind of breach
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

rank() {
  case $1 in
    config | pprof) echo 0 ;;
    engine) echo 1 ;;
    telemetry) echo 2 ;;
    main) echo 3 ;;
    *) echo -1 ;;
  esac
}

# room_of_file ROOT PATH: the room a file under core/ belongs to
room_of_file() {
  local rel=${2#"$1"/core/}
  case $rel in
    main.c) echo main ;;
    */*) echo "${rel%%/*}" ;;
    *) echo none ;;
  esac
}

check() {
  local root=$1 bad=0
  declare -A header_room=()
  local h
  while IFS= read -r h; do
    header_room[$(basename "$h")]=$(room_of_file "$root" "$h")
  done < <(find "$root/core" -name '*.h')
  [ ${#header_room[@]} -gt 0 ] || { echo "layering: no core headers under $root/core"; return 1; }

  local f inc room hroom line
  while IFS= read -r f; do
    room=$(room_of_file "$root" "$f")
    if [ "$room" = none ]; then
      echo "layering: ${f#"$root"/} lies in core/ but in no room (config, pprof, engine, telemetry)"
      bad=1
      continue
    fi
    while IFS= read -r line; do
      inc=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$line")
      [ -n "$inc" ] || continue
      if [[ $inc == *../* ]]; then
        echo "layering: ${f#"$root"/} includes \"$inc\": no include reaches across with ../"
        bad=1
        continue
      fi
      hroom=${header_room[$(basename "$inc")]:-}
      [ -n "$hroom" ] || continue # a generated, lib/ or system header
      if [ "$hroom" != "$room" ]; then
        if [[ $inc == *_internal.h ]]; then
          echo "layering: ${f#"$root"/} ($room) includes $inc, internal to core/$hroom"
          bad=1
        elif [ "$(rank "$hroom")" -ge "$(rank "$room")" ]; then
          echo "layering: ${f#"$root"/} ($room) includes $inc of core/$hroom: $room may include only rooms below it (config, pprof -> engine -> telemetry -> main)"
          bad=1
        fi
      fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f")
  done < <(find "$root/core" -name '*.c' -o -name '*.h' | sort)

  local dir
  for dir in lib receivers processors exporters plugins; do
    [ -d "$root/$dir" ] || continue
    while IFS= read -r f; do
      while IFS= read -r inc; do
        hroom=${header_room[$(basename "$inc")]:-}
        if [ -n "$hroom" ]; then
          echo "layering: ${f#"$root"/} includes $inc of core/$hroom: $dir/ sees the host only through include/profpipe/plugin.h"
          bad=1
        fi
      done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done < <(find "$root/$dir" -name '*.c' -o -name '*.h' | sort)
  done
  return $bad
}

self_test() {
  local tmp fails=0
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  mk() { # a minimal tree that passes
    rm -rf "$tmp/t"
    mkdir -p "$tmp/t/core/config" "$tmp/t/core/pprof" "$tmp/t/core/engine" "$tmp/t/core/telemetry" "$tmp/t/lib/x"
    printf '#include "config.h"\n' >"$tmp/t/core/config/config.c"
    : >"$tmp/t/core/config/config.h"
    : >"$tmp/t/core/pprof/profile.h"
    : >"$tmp/t/core/pprof/pprof_internal.h"
    printf '#include "pprof_internal.h"\n' >"$tmp/t/core/pprof/profile.c"
    printf '#include "config.h"\n#include "profile.h"\n' >"$tmp/t/core/engine/batch.c"
    : >"$tmp/t/core/engine/batch.h"
    printf '#include "batch.h"\n' >"$tmp/t/core/telemetry/http.c"
    : >"$tmp/t/core/telemetry/http.h"
    printf '#include "http.h"\n#include "batch.h"\n' >"$tmp/t/core/main.c"
    printf '#include "x.h"\n#include <profpipe/plugin.h>\n' >"$tmp/t/lib/x/x.c"
  }
  expect() { # expect pass|fail, what
    local got=pass
    check "$tmp/t" >"$tmp/out" 2>&1 || got=fail
    if [ "$got" != "$1" ]; then
      echo "self-test: $2: expected $1, got $got"
      cat "$tmp/out"
      fails=1
    fi
  }
  mk; expect pass "a well-layered tree"
  mk; printf '#include "http.h"\n' >>"$tmp/t/core/engine/batch.c"; expect fail "engine includes telemetry"
  mk; printf '#include "batch.h"\n' >>"$tmp/t/core/config/config.c"; expect fail "config includes engine"
  mk; printf '#include "profile.h"\n' >>"$tmp/t/core/config/config.c"; expect fail "config includes pprof"
  mk; printf '#include "pprof_internal.h"\n' >>"$tmp/t/core/engine/batch.c"; expect fail "another room's internal header"
  mk; printf '#include "../pprof/profile.h"\n' >>"$tmp/t/core/engine/batch.c"; expect fail "an include with ../"
  mk; printf '#include "batch.h"\n' >>"$tmp/t/lib/x/x.c"; expect fail "lib includes a core header"
  mk; : >"$tmp/t/core/loose.c"; expect fail "a file in no room"
  [ $fails = 0 ] && echo "self-test: every breach caught, the clean tree passes"
  return $fails
}

if [ "${1:-}" = --self-test ]; then
  self_test
  exit $?
fi
root=${1:-$(cd "$here/../.." && pwd)}
if check "$root"; then
  echo "layering: core/ keeps config, pprof -> engine -> telemetry -> main; lib/ and components include no core header"
else
  exit 1
fi
