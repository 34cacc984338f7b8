#!/usr/bin/env bash
# The built-in page in a real browser (Debian's chromium, headless, driven
# over the DevTools protocol by cdp.js), against a real Go service
# (hotapp: net/http/pprof, a workload that measures its own CPU split)
# scraped by pprof_scrape, through a relabel processor into the file
# exporter. A second hotapp is killed to be seen down. Checked in the
# page's DOM:
# - pipeline: every component listed with non-zero counters;
# - targets: the killed target down with its error, the live one up;
# - flame graph of phase "a": the widest frame under the root (below the
#   frames every stack of the workload shares) is main.hotFunction, and
#   its width against main.coldFunction's is the split the workload
#   measured with its thread's CPU clock (within 0.08);
# - search highlights exactly main.hotFunction's frames;
# - diff of phase "b" against phase "a": main.changedFunction marked grown,
#   main.hotFunction shrunk;
# - the page's pprof download is read by `go tool pprof -top`, whose top
#   function is the page's top-table first row (main.hotFunction).
# Screenshots go to $BUILD_DIR/ui-screenshots/.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/ui/ui_lib.sh"

go_build "$T/hotapp" "$UI_DIR/hotapp" || fail "cannot build hotapp"
P=$(free_port)
P2=$(free_port)
MP=$(free_port)
bg "$T/hotapp" -addr "127.0.0.1:$P" >"$T/app.log" 2>&1
bg "$T/hotapp" -addr "127.0.0.1:$P2" >"$T/app2.log" 2>&1
APP2_PID=$!
wait_for 30 curl -sf "http://127.0.0.1:$P/split" || fail "hotapp did not start"
wait_for 30 curl -sf "http://127.0.0.1:$P2/split" || fail "second hotapp did not start"

cat >"$T/c.yaml" <<YAML
receivers:
  pprof_scrape/app:
    targets:
      - address: 127.0.0.1:$P
        labels: {service_name: hotapp}
      - address: 127.0.0.1:$P2
        labels: {service_name: doomed}
    scrape_interval: 3s
    scrape_timeout: 3s
    profiling_config:
      profile.memory: {enabled: false}
      profile.block: {enabled: false}
      profile.mutex: {enabled: false}
processors:
  relabel:
    rules:
      - target_label: env
        replacement: e2e
exporters:
  file:
    directory: $T/out
service:
  telemetry: {address: "127.0.0.1:$MP"}
  ui: {retention: 10m, max_bytes: 16MiB}
  pipelines:
    profiles/default:
      receivers: [pprof_scrape/app]
      processors: [relabel]
      exporters: [file]
YAML
start_profpipe ui "$T/c.yaml"
B="http://127.0.0.1:$MP"

# the hotapp CPU series: its id and how many of its windows start after $1 (ms)
cpu_series() {
  api "$MP" /api/v1/series | jq -r '.series[] | select(.labels.service_name == "hotapp" and .labels.__name__ == "process_cpu") | .id'
}
cpu_windows_after() {
  api "$MP" /api/v1/series | jq --argjson t "$1" '[.series[] | select(.labels.service_name == "hotapp" and .labels.__name__ == "process_cpu") | .windows[] | select(.from >= $t)] | length'
}
windows_at_least() { [ "$(cpu_windows_after "$1")" -ge "$2" ]; }

wait_for 90 windows_at_least 0 5 || { tail -20 "$T/ui.log"; fail "fewer than 5 CPU windows after 90s"; }
SERIES=$(cpu_series)
[ -n "$SERIES" ] || fail "no hotapp process_cpu series"
A_FROM=0

# ---- targets: kill the second app, see it down with its error
kill -KILL "$APP2_PID"
doomed_down() {
  api "$MP" /api/v1/targets | jq -e --arg t "http://127.0.0.1:$P2" \
    '[.targets[] | select(.target == $t and .up == false)] | length > 0' >/dev/null
}
wait_for 30 doomed_down || fail "the killed target is not down in /api/v1/targets"
targets=$(page "$B/#targets" "$READY && document.querySelector('#targets')" "
  Array.from(document.querySelectorAll('#targets tr[data-target]')).map(tr => ({
    target: tr.dataset.target, profile: tr.dataset.profile, cls: tr.className,
    state: tr.querySelector('.state').textContent, error: tr.querySelector('.err').textContent}))" targets.png)
echo "$targets" | jq -e --arg t "http://127.0.0.1:$P2" \
  '[.[] | select(.target == $t and .profile == "process_cpu")][0] | .cls == "down" and .state == "down" and (.error | test("connect|refused"; "i"))' >/dev/null ||
  fail "targets view: $P2 not shown down with a connection error: $targets"
echo "$targets" | jq -e --arg t "http://127.0.0.1:$P" \
  '[.[] | select(.target == $t)] | length > 0 and all(.state == "up" and .error == "")' >/dev/null ||
  fail "targets view: the live target is not up: $targets"
pass "targets view: http://127.0.0.1:$P2 down ($(echo "$targets" | jq -r --arg t "http://127.0.0.1:$P2" '[.[] | select(.target == $t)][0].error')), the live one up"

# ---- pipeline: every component, non-zero counters
pipeline=$(page "$B/#pipeline" "$READY && document.querySelector('#components')" "
  Array.from(document.querySelectorAll('#components tr[data-component]')).map(tr => {
    const o = {id: tr.dataset.component, kind: tr.children[1].textContent};
    for (const td of tr.querySelectorAll('td[data-k]')) o[td.dataset.k] = +td.textContent.replace(/,/g, '');
    return o; })" pipeline.png)
for want in 'pprof_scrape/app receiver accepted' 'relabel processor accepted' 'relabel processor sent' \
            'file exporter accepted' 'file exporter sent'; do
  set -- $want
  echo "$pipeline" | jq -e --arg id "$1" --arg kind "$2" --arg k "$3" \
    '[.[] | select(.id == $id and .kind == $kind)][0][$k] > 0' >/dev/null ||
    fail "pipeline view: $1 ($2) has no non-zero $3: $pipeline"
done
[ "$(echo "$pipeline" | jq length)" = 3 ] || fail "pipeline view lists $(echo "$pipeline" | jq length) components, not 3"
pass "pipeline view: $(echo "$pipeline" | jq -c 'map({(.id): {accepted, sent}}) | add')"

# ---- phase b
T_SWITCH=$(( $(date +%s%3N) + 500 ))
split_a=$(api "$P" /split)
curl -sf "http://127.0.0.1:$P/switch" >/dev/null
wait_for 90 windows_at_least "$T_SWITCH" 3 || fail "fewer than 3 CPU windows after the switch"
NOW=$(date +%s%3N)
split=$(api "$P" /split)
want_a=$(echo "$split_a" | jq '.a.hot / (.a.hot + .a.cold)')

# ---- flame graph of phase a, search
FLAME_JS="
  (() => { $FLAME_SPLIT_JS
    const r = flameSplit();
    if (r.error) return r;
    return Object.assign(r, {matches: r.all.filter(f => f.match).map(f => f.name),
                             summary: document.querySelector('#match-summary').textContent,
                             top: document.querySelector('#download').href});
  })()"
flame=$(page "$B/#profiles?series=$SERIES&from=$A_FROM&until=$T_SWITCH&q=hotFunction" \
  "$READY && (document.querySelector('#flame .frame') || document.querySelector('#error'))" "$FLAME_JS" flamegraph.png)
widest=$(echo "$flame" | jq -r '.widest.name')
[ "$widest" = main.hotFunction ] || fail "widest frame below the trunk is $widest: $(echo "$flame" | jq -c '{trunk, parent: .parent.name, widest: .widest}')"
# the workload's split is between its two functions: compare like with
# like, within 0.08 or four standard deviations of a share estimated from
# that many samples (the machine may give the workload little CPU)
share=$(echo "$flame" | jq '.widest.width / ([.siblings[] | select(.name == "main.hotFunction" or .name == "main.coldFunction") | .width] | add)')
samples=$(api "$MP" "/api/v1/profile?series=$SERIES&from=$A_FROM&until=$T_SWITCH&sample_type=samples&format=top" |
  jq '[.functions[] | select(.name == "main.hotFunction" or .name == "main.coldFunction") | .cum] | add')
awk -v s="$share" -v w="$want_a" -v n="$samples" 'BEGIN { d = s - w; if (d < 0) d = -d;
  tol = 4 * sqrt(w * (1 - w) / n); if (tol < 0.08) tol = 0.08; exit !(n > 0 && d < tol) }' ||
  fail "main.hotFunction has $share of hot+cold in the flame graph ($samples samples); the workload measured $want_a"
pass "flame graph (phase a): widest frame below $(echo "$flame" | jq -r '.trunk | join(" > ")') is main.hotFunction, $share of hot+cold over $samples samples (measured split $want_a; $(echo "$flame" | jq -r '.widest.share') of the root)"
echo "$flame" | jq -e '(.matches | length) > 0 and all(.matches[]; . == "main.hotFunction")' >/dev/null ||
  fail "search for hotFunction highlights $(echo "$flame" | jq -c '.matches')"
echo "$flame" | jq -e '[.all[] | select(.name == "main.hotFunction" and (.match | not))] | length == 0' >/dev/null ||
  fail "a main.hotFunction frame is not highlighted"
pass "search: $(echo "$flame" | jq -r '.summary')"

# typing into the search box highlights too
typed=$(page "$B/#profiles?series=$SERIES&from=$A_FROM&until=$T_SWITCH" "$READY && document.querySelector('#flame .frame')" "
  (() => { const s = document.querySelector('#search'); s.value = 'coldFunc';
    s.dispatchEvent(new Event('input'));
    return Array.from(document.querySelectorAll('#flame .frame.match')).map(f => f.textContent); })()")
echo "$typed" | jq -e 'length > 0 and all(.[]; . == "main.coldFunction")' >/dev/null ||
  fail "typing coldFunc highlights $typed"
pass "search box: typing coldFunc highlights $(echo "$typed" | jq length) main.coldFunction frame(s)"

# ---- diff: phase b against phase a
diff=$(page "$B/#profiles?series=$SERIES&from=$T_SWITCH&until=$((NOW + 1))&base_from=$A_FROM&base_until=$T_SWITCH&view=diff" \
  "$READY && (document.querySelector('#flame .frame') || document.querySelector('#error'))" "
  Array.from(document.querySelectorAll('#flame .frame')).filter(f => f.textContent.startsWith('main.'))
    .map(f => ({name: f.textContent, cls: f.className, delta: +f.dataset.delta}))" diff.png)
echo "$diff" | jq -e '[.[] | select(.name == "main.changedFunction")][0] | (.cls | test("grew")) and .delta > 0.3' >/dev/null ||
  fail "diff: main.changedFunction not marked grown: $diff"
echo "$diff" | jq -e '[.[] | select(.name == "main.hotFunction")][0] | (.cls | test("shrank")) and .delta < -0.1' >/dev/null ||
  fail "diff: main.hotFunction not marked shrunk: $diff"
pass "diff (b vs a): $(echo "$diff" | jq -c 'map(select(.name == "main.changedFunction" or .name == "main.hotFunction")) | map({(.name): .delta}) | add')"

# ---- the timeline: a click picks one window, a shift-click a range
clicks=$(page "$B/#profiles?series=$SERIES" "$READY && document.querySelector('#flame .frame')" "
  new Promise(done => {
    const row = document.querySelector('tr.series[data-series=\"$SERIES\"]');
    const ws = row.querySelectorAll('.w');
    const wait = (cond, then) => { const t0 = Date.now(); (function poll() {
      if (cond()) then(); else if (Date.now() - t0 > 20000) done({timeout: location.hash});
      else setTimeout(poll, 100); })(); };
    const summary = () => (document.querySelector('#summary') || {}).textContent || '';
    ws[1].click();
    wait(() => location.hash.includes('window=' + ws[1].dataset.w) && document.body.dataset.ready === '1' &&
               / 1 window\\(s\\)/.test(summary()), () => {
      const one = {hash: location.hash, summary: summary()};
      const again = document.querySelector('tr.series[data-series=\"$SERIES\"]').querySelectorAll('.w');
      again[3].dispatchEvent(new MouseEvent('click', {bubbles: true, shiftKey: true}));
      wait(() => location.hash.includes('from=') && document.body.dataset.ready === '1' &&
                 / 3 window\\(s\\)/.test(summary()), () =>
        done({one, range: {hash: location.hash, summary: summary(),
              selected: document.querySelectorAll('tr.series.selected .w.sel').length}}));
    });
  })")
echo "$clicks" | jq -e '.one.summary and (.range.selected == 3)' >/dev/null || fail "timeline clicks: $clicks"
pass "timeline: a click shows one window, a shift-click a merged range of 3 ($(echo "$clicks" | jq -r '.range.summary'))"

# ---- top table and the pprof download
top=$(page "$B/#profiles?series=$SERIES&from=$A_FROM&until=$T_SWITCH&view=top" "$READY && document.querySelector('#top')" "
  ({rows: Array.from(document.querySelectorAll('#top tr[data-name]')).slice(0, 3).map(tr => tr.dataset.name),
    href: document.querySelector('#download').getAttribute('href')})" top.png)
page_top=$(echo "$top" | jq -r '.rows[0]')
[ "$page_top" = main.hotFunction ] || fail "the page's top table starts with $page_top"
curl -sf -o "$T/dl.pb.gz" "$B$(echo "$top" | jq -r '.href')" || fail "download failed"
go tool pprof -top "$T/dl.pb.gz" >"$T/dl.top" 2>"$T/dl.err" || { cat "$T/dl.err"; fail "go tool pprof cannot read the download"; }
pprof_top=$(awk '/flat%/ {getline; print $6; exit}' "$T/dl.top")
[ "$pprof_top" = "$page_top" ] || { cat "$T/dl.top"; fail "go tool pprof -top starts with $pprof_top, the page with $page_top"; }
pass "download: go tool pprof -top's first function is $pprof_top, as in the page's top table"

# the top table sorts by a column when its header is clicked
sorted=$(page "$B/#profiles?series=$SERIES&from=$A_FROM&until=$T_SWITCH&view=top" "$READY && document.querySelector('#top')" "
  new Promise(done => {
    document.querySelector('#top').dataset.old = '1'; /* gone once redrawn */
    document.querySelector('#top th[data-sort=cum]').click();
    const t0 = Date.now();
    (function poll() {
      if (document.body.dataset.ready === '1' && document.querySelector('#top:not([data-old])'))
        return done(Array.from(document.querySelectorAll('#top tr[data-name]')).map(tr =>
          ({name: tr.dataset.name, cum: parseFloat(tr.children[3].textContent)})));
      if (Date.now() - t0 > 20000) return done(null);
      setTimeout(poll, 100);
    })();
  })")
echo "$sorted" | jq -e 'length > 3 and ([.[].cum] == ([.[].cum] | sort | reverse)) and .[0].cum > 99' >/dev/null ||
  fail "top table not sorted by cum after a click: $(echo "$sorted" | jq -c '.[0:5]')"
pass "top table: a click on cum sorts it ($(echo "$sorted" | jq -r '.[0:3] | map("\(.name) \(.cum)%") | join(", ")'))"

stop_profpipe "$PROFPIPE_PID"
echo "screenshots: $(ls "$SHOTS" | tr '\n' ' ')"
