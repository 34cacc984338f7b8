#!/usr/bin/env bash
# A config is hostile input too: `profpipe validate` on a 9 KiB config
# whose aliases nest ("billion laughs": an 8 KiB scalar, then lists of ten
# aliases of the level before) would copy the scalar 10^6 times. It must
# refuse it, naming the alias and its line, with its peak RSS bounded,
# while a config using aliases sensibly still validates.
source "$SOURCE_DIR/tests/e2e/lib.sh"

# Peak RSS bound: the node tree may hold 32 MiB (CONFIG_MAX_BYTES), and
# the sanitizers' shadow memory and quarantine take their own share.
if [ "$SANITIZE" = 1 ]; then max_kib=$((256 * 1024)); else max_kib=$((96 * 1024)); fi

cfg=$T/laughs.yaml
{
  printf 'a0: &a0 "%s"\n' "$(head -c 8192 /dev/zero | tr '\0' x)"
  for i in 1 2 3 4 5 6; do
    p=$((i - 1))
    printf 'a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n' \
      "$i" "$i" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p"
  done
} >"$cfg"
size=$(stat -c %s "$cfg")
[ "$size" -lt 10240 ] || fail "the attack config is $size bytes, meant to be under 10 KiB"

rc=0
timeout 60 /usr/bin/time -f '%M' -o "$T/rss" "$PROFPIPE" validate -c "$cfg" >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 124 ] || fail "validate did not finish in 60 s"
[ "$rc" -ne 0 ] || fail "validate accepted the alias bomb: $(cat "$T/out")"
grep -q "laughs.yaml:5:[0-9]*: alias \*a3 expands the config past 32 MiB (nested aliases?)" "$T/out" ||
  fail "no error naming the alias and its line: $(head -c 600 "$T/out")"
rss=$(tail -1 "$T/rss")
[ "$rss" -lt "$max_kib" ] || fail "peak RSS $rss KiB, bound $max_kib KiB"
pass "alias bomb ($size bytes) refused at line 5, peak RSS $rss KiB (bound $max_kib KiB)"

# Aliases within the bound still work: one receiver's options reused.
cat >"$T/ok.yaml" <<YAML
receivers:
  file/a: &common
    include: ["$T/in/*.pb.gz"]
    labels: {team: core}
  file/b: *common
exporters:
  file:
    directory: $T/out
service:
  pipelines:
    profiles:
      receivers: [file/a, file/b]
      exporters: [file]
YAML
out=$("$PROFPIPE" validate -c "$T/ok.yaml" 2>&1) || fail "aliased config refused: $out"
[ "$out" = "$T/ok.yaml: ok" ] || fail "unexpected output: $out"
pass "a config sharing options through an alias validates"
