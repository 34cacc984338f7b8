#!/usr/bin/env bash
# The page's sample type choice, in a real browser (chromium headless over
# the DevTools protocol), on a Go heap profile: memapp (net/http/pprof)
# keeps 32 MiB allocated by main.keepFunction (replacing one 64 KiB block
# per tick) and allocates and drops 2 MiB per tick in
# main.churnFunction, both called by main.workload; pprof_scrape's
# profile.memory scrapes it (alloc_* turned into per-scrape deltas,
# inuse_* as they are). For the newest window of its "memory" series
# (not the first, which holds the 32 MiB filled at start), starting from
# the other sample type, the test picks inuse_space, then alloc_space, in
# the page's "sample type" select as a user would (value set, change
# event), and for each checks:
# - the summary and the download link now name that sample type;
# - the flame graph's widest frame below the trunk (main.workload) is
#   main.keepFunction for inuse_space, main.churnFunction for alloc_space,
#   and wider than the other;
# - after choosing "top" in the view select, the top table's first row is
#   that function, and `go tool pprof -sample_index=TYPE -top -unit=B` on
#   the page's pprof download has the same first function with the same
#   flat bytes (within the page's rounding) and flat%.
# Screenshots: $BUILD_DIR/ui-screenshots/memory_inuse_space.png and
# memory_alloc_space.png.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/ui/ui_lib.sh"

go_build "$T/memapp" "$UI_DIR/memapp" || fail "cannot build memapp"
P=$(free_port)
MP=$(free_port)
bg "$T/memapp" -addr "127.0.0.1:$P" >"$T/app.log" 2>&1
wait_for 30 curl -sf "http://127.0.0.1:$P/ready" || fail "memapp did not start"

cat >"$T/c.yaml" <<YAML
receivers:
  pprof_scrape/app:
    targets:
      - address: 127.0.0.1:$P
        labels: {service_name: memapp}
    scrape_interval: 3s
    scrape_timeout: 3s
    profiling_config:
      profile.process_cpu: {enabled: false}
      profile.goroutine: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
exporters:
  file:
    directory: $T/out
service:
  telemetry: {address: "127.0.0.1:$MP"}
  ui: {retention: 10m, max_bytes: 16MiB}
  pipelines:
    profiles/default:
      receivers: [pprof_scrape/app]
      exporters: [file]
YAML
start_profpipe ui "$T/c.yaml"
B="http://127.0.0.1:$MP"

memory_series() {
  api "$MP" /api/v1/series | jq -c '[.series[] | select(.labels.service_name == "memapp" and .labels.__name__ == "memory")][0] // empty'
}
# the newest of 4 windows: a delta of whole ticks (2 MiB churned, 64 KiB
# kept per tick), far from the first window and its initial fill
enough_windows() { [ "$(memory_series | jq '.windows | length')" -ge 4 ] 2>/dev/null; }
wait_for 120 enough_windows || { tail -20 "$T/ui.log"; fail "fewer than 4 memory windows after 120s"; }
S=$(memory_series)
SERIES=$(echo "$S" | jq -r .id)
WIN=$(echo "$S" | jq -r '.windows | max_by(.from) | .id')
types=$(api "$MP" "/api/v1/profile?series=$SERIES&window=$WIN&format=top&limit=1" | jq -c .sample_type)
echo "series $SERIES window $WIN (shown by default: $types)"

# choose TYPE in the select of id ID and wait until the page has redrawn
# with it (the view is ready, the old one gone, shown() holds)
CHOOSE_JS='
  const choose = (id, value, shown) => new Promise((ok, no) => {
    document.querySelector("#summary").dataset.old = "1"; /* gone once redrawn */
    const sel = document.querySelector("#" + id);
    if (![...sel.options].some(o => o.value === value)) return no(new Error(id + " has no " + value));
    sel.focus(); sel.value = value; sel.dispatchEvent(new Event("change", {bubbles: true}));
    const t0 = Date.now();
    (function poll() {
      if (document.body.dataset.ready === "1" && document.querySelector("#summary:not([data-old])") && shown())
        return ok();
      if (Date.now() - t0 > 30000) return no(new Error("no redraw after choosing " + value + ": " + location.hash));
      setTimeout(poll, 100);
    })();
  });'

# pick TYPE (starting from OTHER): flame graph split, then the top table
pick() { # type other: prints what the page showed
  local type=$1 other=$2
  page "$B/#profiles?series=$SERIES&window=$WIN&sample_type=$other" \
    "$READY && document.querySelector('#flame .frame') && document.querySelector('#sample-type')" "
    (async () => { $CHOOSE_JS $FLAME_SPLIT_JS
      const summary = () => document.querySelector('#summary').textContent;
      const before = summary();
      await choose('sample-type', '$type', () => summary().startsWith('$type:') && document.querySelector('#flame .frame'));
      const flame = flameSplit('main.workload');
      const flameShown = {summary: summary(), selected: document.querySelector('#sample-type').value,
                          href: document.querySelector('#download').getAttribute('href')};
      await choose('mode', 'top', () => document.querySelector('#top tr[data-name]'));
      const rows = [...document.querySelectorAll('#top tr[data-name]')].slice(0, 3).map(tr => ({
        name: tr.dataset.name, flat: tr.children[0].textContent, flatPct: tr.children[1].textContent}));
      const topShown = {summary: summary(), href: document.querySelector('#download').getAttribute('href')};
      await choose('mode', 'flame', () => document.querySelector('#flame .frame'));
      return {before, flame: {trunk: flame.trunk, error: flame.error, parent: flame.parent && flame.parent.name,
              widest: flame.widest, siblings: (flame.siblings || []).map(f => ({name: f.name, width: f.width}))},
              flameShown, rows, topShown, hash: location.hash};
    })()" "memory_$type.png"
}

check() { # type other expected_function other_function
  local type=$1 want=$3 other_fn=$4 r
  r=$(pick "$1" "$2") || fail "$type: the page did not switch"
  echo "$r" | jq -e --arg o "$2" '.before | startswith($o + ":")' >/dev/null ||
    fail "$type: the page did not start on $2: $(echo "$r" | jq -c .before)"
  echo "$r" | jq -e --arg t "$type" '.flameShown.selected == $t and (.flameShown.summary | startswith($t + ":"))
      and (.flameShown.href | contains("sample_type=" + $t)) and (.topShown.href | contains("sample_type=" + $t))
      and (.hash | contains("sample_type=" + $t))' >/dev/null ||
    fail "$type: the page does not show it after choosing it: $(echo "$r" | jq -c '{flameShown, topShown, hash}')"
  echo "$r" | jq -e '.flame.trunk == ["main.workload"]' >/dev/null ||
    fail "$type: trunk is not main.workload: $(echo "$r" | jq -c .flame)"
  local widest
  widest=$(echo "$r" | jq -r '.flame.widest.name')
  [ "$widest" = "$want" ] || fail "$type: widest frame below main.workload is $widest, not $want: $(echo "$r" | jq -c .flame)"
  echo "$r" | jq -e --arg w "$want" --arg o "$other_fn" \
    '[.flame.siblings[] | select(.name == $w)][0].width > ([.flame.siblings[] | select(.name == $o)][0].width // 0)' >/dev/null ||
    fail "$type: $want is not wider than $other_fn: $(echo "$r" | jq -c .flame.siblings)"
  local row0 page_flat page_pct
  row0=$(echo "$r" | jq -r '.rows[0].name')
  [ "$row0" = "$want" ] || fail "$type: the top table starts with $row0: $(echo "$r" | jq -c .rows)"
  page_flat=$(echo "$r" | jq -r '.rows[0].flat')
  page_pct=$(echo "$r" | jq -r '.rows[0].flatPct | rtrimstr("%")')

  curl -sf -o "$T/$type.pb.gz" "$B$(echo "$r" | jq -r '.topShown.href')" || fail "$type: download failed"
  go tool pprof -sample_index="$type" -unit=B -top "$T/$type.pb.gz" >"$T/$type.top" 2>"$T/$type.err" ||
    { cat "$T/$type.err"; fail "$type: go tool pprof cannot read the download"; }
  grep -q "^Type: $type\$" "$T/$type.top" || { cat "$T/$type.top"; fail "$type: go tool pprof shows another type"; }
  local first pp_name pp_flat pp_pct
  first=$(awk '/flat%/ {getline; print; exit}' "$T/$type.top")
  read -r pp_flat pp_pct _ _ _ pp_name <<<"$first"
  pp_flat=${pp_flat%B} pp_pct=${pp_pct%\%}
  [ "$pp_name" = "$want" ] || { cat "$T/$type.top"; fail "$type: go tool pprof -top starts with $pp_name, the page with $row0"; }
  # the page prints bytes with one decimal in the largest unit (31.9 MiB)
  awk -v p="$page_flat" -v b="$pp_flat" 'BEGIN { split(p, a, " ");
    m = a[2] == "GiB" ? 2^30 : a[2] == "MiB" ? 2^20 : a[2] == "KiB" ? 2^10 : 1;
    d = a[1] * m - b; if (d < 0) d = -d; exit !(b > 0 && d <= (m > 1 ? 0.05 * m : 0) + 0.5) }' ||
    fail "$type: the page's flat $page_flat is not go tool pprof's ${pp_flat}B"
  awk -v p="$page_pct" -v q="$pp_pct" 'BEGIN { d = p - q; if (d < 0) d = -d; exit !(d <= 0.011) }' ||
    fail "$type: the page's flat% $page_pct is not go tool pprof's $pp_pct"
  pass "$type: chosen in the page; widest below main.workload is $want ($(echo "$r" | jq -r '.flame.widest.share') of the root, wider than $other_fn); top row $row0 $page_flat ($page_pct%) = go tool pprof -sample_index=$type: $pp_name ${pp_flat}B ($pp_pct%)"
}

check inuse_space alloc_space main.keepFunction main.churnFunction
check alloc_space inuse_space main.churnFunction main.keepFunction

stop_profpipe "$PROFPIPE_PID"
echo "screenshots: $SHOTS/memory_inuse_space.png $SHOTS/memory_alloc_space.png"
