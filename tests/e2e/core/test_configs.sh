#!/usr/bin/env bash
# Every config the project ships (config/profpipe.yaml and config/examples)
# passes `profpipe validate` as the README runs it: from a folder where
# ./build is the build (the examples name ./build/plugins/...).
source "$SOURCE_DIR/tests/e2e/lib.sh"

cd "$T" && ln -s "$BUILD_DIR" build
n=0
for f in "$SOURCE_DIR"/config/profpipe.yaml "$SOURCE_DIR"/config/examples/*.yaml; do
  out=$("$PROFPIPE" validate -c "$f" 2>&1) || fail "$f does not validate: $out"
  [ "$out" = "$f: ok" ] || fail "$f: unexpected output: $out"
  n=$((n + 1))
done
[ "$n" -ge 5 ] || fail "only $n configs found"
pass "$n shipped configs validate"
