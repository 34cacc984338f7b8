#!/usr/bin/env bash
# Every code block of every README is true to the code:
#   - yaml: a config; `profpipe validate` accepts it (a block without a
#     `service:` section is a component's part of a config: it is completed
#     with a file receiver/exporter and one pipeline through all its ids);
#     `${env:X}` without a default is set; run from a folder where ./build
#     is the build, as the README does; a Prometheus config or rules file
#     (top-level `scrape_configs:` or `groups:`) is checked by
#     `promtool check config|rules` instead;
#   - sh: bash parses it and every command it runs exists (a script of the
#     repository, profpipe and a subcommand that `--help` lists, or a
#     program on PATH); a block that writes under /etc/profpipe (making a
#     secret file an example needs) is run, with /etc/profpipe moved into
#     the test's folder, before that README's configs are validated;
#   - the command-line synopsis block: each `profpipe ...` line is one of
#     `profpipe --help`'s usage lines;
#   - json: jq parses it; c: the compiler accepts it with the public header.
# Other unlabelled blocks are sample output and are not checked.
source "$SOURCE_DIR/tests/e2e/lib.sh"

ROOT=$T/root # stands for / where the README writes under /etc/profpipe
mkdir -p "$T/work" "$ROOT"
ln -s "$BUILD_DIR" "$T/work/build"
export CHECKOUT_TOKEN=readme-token

# split FILE: writes its blocks to $T/blocks/<k>.<lang>, prints their paths
split_blocks() {
  rm -rf "$T/blocks" && mkdir -p "$T/blocks"
  awk -v dir="$T/blocks" '
    /^```/ {
      if (out) { close(out); out = ""; next }
      lang = substr($0, 4); if (lang == "") lang = "text"
      out = sprintf("%s/%03d.%s", dir, ++k, lang); printf "" > out; print out; next }
    out { print > out }' "$1"
}

relocate() { sed "s#/etc/profpipe#$ROOT/etc/profpipe#g" "$1"; }

# complete FILE: a component fragment made a whole config on stdout
complete_config() {
  local f=$1
  cat "$f"
  if grep -q '^service:' "$f"; then return; fi
  ids() { awk -v s="$1" '/^[a-z]/ {in_s = ($0 ~ "^" s ":")} in_s && /^  [a-z][a-z0-9_\/.-]*:/ {
            sub(/^  /, ""); sub(/:.*/, ""); printf "%s%s", sep, $0; sep = ", "}' "$f"; }
  local rx px ex
  rx=$(ids receivers) px=$(ids processors) ex=$(ids exporters)
  if [ -z "$rx" ]; then printf 'receivers:\n  file/readme:\n    include: ["./in/*.pb.gz"]\n'; rx=file/readme; fi
  if [ -z "$ex" ]; then printf 'exporters:\n  file/readme:\n    directory: ./out\n'; ex=file/readme; fi
  printf 'service:\n  pipelines:\n    profiles/readme:\n      receivers: [%s]\n' "$rx"
  [ -z "$px" ] || printf '      processors: [%s]\n' "$px"
  printf '      exporters: [%s]\n' "$ex"
}

help_text=$("$PROFPIPE" --help 2>&1)
check_command_words() { # sh block: every command it runs exists
  local f=$1 w
  awk '{ sub(/(^|[ \t])#.*$/, "") }
       { n = split($0, parts, /&&|\|\||[|;&(]|\$\(/)
         for (i = 1; i <= n; i++) { w = parts[i]; sub(/^[ \t]+/, "", w); sub(/[ \t].*$/, "", w)
                                    if (w != "") print w } }' "$f" | sort -u |
    while read -r w; do
      case "$w" in
        *=*|\\|\)|'}'|'{') continue ;;
        profpipe) continue ;;
        */*) [ -e "$SOURCE_DIR/$w" ] || [ -e "$w" ] || { echo "no such script: $w"; return 1; } ;;
        *) [ -n "$(type -t "$w")" ] || { echo "no such command: $w"; return 1; } ;;
      esac
    done
  { grep -oE '(^|[;&|(] *)profpipe +[a-z-]+' "$f" || true; } | awk '{print $NF}' | sort -u | while read -r sub; do
    grep -qE "profpipe (\[)?$sub\b|--$sub\b|\| --$sub" <<<"$help_text" ||
      grep -qE "^ +$sub " <<<"$help_text" || { echo "profpipe has no subcommand $sub"; return 1; }
  done
}

nyaml=0 nsh=0 nother=0
for readme in "$SOURCE_DIR"/README.md "$SOURCE_DIR"/config/README.md "$SOURCE_DIR"/*/*/README.md \
              "$SOURCE_DIR"/packaging/README.md "$SOURCE_DIR"/bench/README.md; do
  [ -f "$readme" ] || continue
  case "$readme" in "$SOURCE_DIR"/build*|"$SOURCE_DIR"/tests/*) continue ;; esac
  name=${readme#"$SOURCE_DIR"/}
  mapfile -t blocks < <(split_blocks "$readme")
  # first the blocks that make the files its configs need
  for b in "${blocks[@]}"; do
    [[ $b == *.sh ]] && grep -q '/etc/profpipe' "$b" || continue
    relocate "$b" >"$b.run"
    (cd "$T/work" && bash -e "$b.run") >"$T/setup.log" 2>&1 ||
      fail "$name: the block that makes its files failed: $(cat "$T/setup.log")"
  done
  for b in "${blocks[@]}"; do
    where="$name block ${b##*/}"
    case "$b" in
      *.yaml)
        if grep -qE '^(scrape_configs|groups):' "$b"; then # Prometheus's own config or rules
          kind=config; grep -q '^groups:' "$b" && kind=rules
          out=$(promtool check "$kind" "$b" 2>&1) || fail "$where: promtool check $kind: $out"
          nother=$((nother + 1))
          continue
        fi
        complete_config "$b" | relocate /dev/stdin >"$T/work/readme.yaml"
        for v in $(grep -oE '\$\{env:[A-Za-z_][A-Za-z0-9_]*\}' "$b" | sed 's/^${env://; s/}$//' | sort -u); do
          export "$v=readme-$v"
        done
        out=$(cd "$T/work" && "$PROFPIPE" validate -c readme.yaml 2>&1) ||
          fail "$where does not validate: $out
$(cat "$T/work/readme.yaml")"
        nyaml=$((nyaml + 1)) ;;
      *.sh)
        bash -n "$b" || fail "$where: bash cannot parse it"
        msg=$(check_command_words "$b") || fail "$where: $msg"
        nsh=$((nsh + 1)) ;;
      *.json)
        jq . "$b" >/dev/null || fail "$where: not JSON"
        nother=$((nother + 1)) ;;
      *.c)
        cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$SOURCE_DIR/include" "$b" ||
          fail "$where: does not compile"
        nother=$((nother + 1)) ;;
      *.text)
        grep -q '^profpipe ' "$b" || continue # sample output
        while read -r line; do
          synopsis=$(sed -E 's/  +.*$//' <<<"$line")
          grep -qF -- "profpipe ${synopsis#profpipe }" <<<"$help_text" ||
            fail "$where: \"$synopsis\" is not in profpipe --help:
$help_text"
        done < <(grep '^profpipe ' "$b")
        nother=$((nother + 1)) ;;
    esac
  done
done
[ "$nyaml" -ge 12 ] || fail "only $nyaml yaml blocks found"
[ "$nsh" -ge 4 ] || fail "only $nsh sh blocks found"
pass "README blocks: $nyaml configs validate, $nsh command blocks parse and name existing commands, $nother others check"
