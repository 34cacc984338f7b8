#!/usr/bin/env bash
# After a SIGHUP the page shows the config now running, and whether the
# last reload failed, with its errors: a bad config (an unknown key) is
# refused and shown with its file:line:column message while the old
# pipeline keeps running; a good one replaces it and the page shows the
# new text and the new graph.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/ui/ui_lib.sh"

MP=$(free_port)
mkdir -p "$T/in"
write() { # exporter_id extra_receiver_key
  cat >"$T/c.yaml" <<YAML
receivers:
  file/in:
    include: ["$T/in/*.pb.gz"]
    $2
exporters:
  $1:
    directory: $T/out
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles/default: {receivers: [file/in], exporters: [$1]}
YAML
}
write file/first ""
start_profpipe reload "$T/c.yaml"
wait_for 20 api "$MP" /api/v1/pipeline || fail "no /api/v1/pipeline"
api "$MP" /api/v1/pipeline | jq -e '.reload == null and .pipelines[0].exporters == ["file/first"]' >/dev/null ||
  fail "before any reload: $(api "$MP" /api/v1/pipeline | jq -c '{reload, pipelines}')"

write file/second "bogus_key: 1"
kill -HUP "$PROFPIPE_PID"
refused() { api "$MP" /api/v1/pipeline | jq -e '.reload.ok == false' >/dev/null; }
wait_for 30 refused || fail "a refused reload is not shown"
api "$MP" /api/v1/pipeline >"$T/p1.json"
jq -e '.reload.errors | any(test("c.yaml:[0-9]+:[0-9]+: .*file/in.*bogus_key"))' "$T/p1.json" >/dev/null ||
  fail "reload errors do not name the key: $(jq -c .reload "$T/p1.json")"
jq -e '.pipelines[0].exporters == ["file/first"]' "$T/p1.json" >/dev/null || fail "the old graph is not the one shown"
shown=$(page "http://127.0.0.1:$MP/#pipeline" "$READY && document.querySelector('#components')" "
  ({banner: (document.querySelector('#reload.bad') || {}).textContent || null,
    cards: Array.from(document.querySelectorAll('.card[data-component]')).map(c => c.dataset.component)})" reload_failed.png)
echo "$shown" | jq -e '(.banner | test("failed")) and (.banner | test("bogus_key")) and (.cards | index("file/first"))' >/dev/null ||
  fail "the page does not show the refused reload: $shown"
pass "refused reload shown: $(jq -r '.reload.errors[0]' "$T/p1.json")"

write file/second ""
kill -HUP "$PROFPIPE_PID"
reloaded() { api "$MP" /api/v1/pipeline | jq -e '.reload.ok == true' >/dev/null; }
wait_for 30 reloaded || fail "a good reload is not shown"
api "$MP" /api/v1/pipeline >"$T/p2.json"
jq -e '.pipelines[0].exporters == ["file/second"] and (.config.text | test("file/second")) and (.reload.errors == [])' "$T/p2.json" >/dev/null ||
  fail "after a good reload: $(jq -c '{reload, exporters: .pipelines[0].exporters}' "$T/p2.json")"
shown=$(page "http://127.0.0.1:$MP/#pipeline" "$READY && document.querySelector('#components')" "
  ({banner: (document.querySelector('#reload.good') || {}).textContent || null,
    yaml: document.querySelector('pre').textContent,
    cards: Array.from(document.querySelectorAll('.card[data-component]')).map(c => c.dataset.component)})")
echo "$shown" | jq -e '(.banner | test("reloaded")) and (.yaml | test("file/second")) and (.cards | index("file/second"))' >/dev/null ||
  fail "the page does not show the new config: $shown"
pass "good reload shown: graph and YAML of the new config"
stop_profpipe "$PROFPIPE_PID"
