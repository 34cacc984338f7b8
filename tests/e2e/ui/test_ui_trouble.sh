#!/usr/bin/env bash
# A component in trouble stands out, and the pipeline view refreshes
# without reloading the page: the sample Go profiles go to a file exporter
# and to a pyroscope exporter whose server is not there (retries short).
# The page shows the failing exporter outlined (class trouble) with its
# error and time, the healthy one not; and while a dropin file receiver
# takes new files, its accepted counter rises in the same document (no
# navigation) through the page's own refresh.
export TMPDIR="${BUILD_DIR:?}/e2e-tmp" && mkdir -p "$TMPDIR"
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/ui/ui_lib.sh"

MP=$(free_port)
DEAD=$(free_port)
mkdir -p "$T/drop"
cat >"$T/c.yaml" <<YAML
receivers:
  file/samples: {include: ["$SOURCE_DIR/config/samples/*.pb.gz"]}
  file/drop: {include: ["$T/drop/*.pb.gz"], poll_interval: 200ms, min_file_age: 0s, delete_after_read: true}
exporters:
  file: {directory: "$T/out"}
  pyroscope/dead:
    endpoint: http://127.0.0.1:$DEAD
    retry_on_failure: {initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 1s}
service:
  telemetry: {address: "127.0.0.1:$MP"}
  pipelines:
    profiles/default: {receivers: [file/samples, file/drop], exporters: [file, pyroscope/dead]}
YAML
start_profpipe trouble "$T/c.yaml"
failed() { api "$MP" /api/v1/pipeline | jq -e '.components[] | select(.id == "pyroscope/dead") | .failed > 0' >/dev/null; }
wait_for 60 failed || { tail "$T/trouble.log"; fail "the dead exporter never failed"; }

# the dropin receiver gets a file every 0.5 s while the page is open
feeder() { for i in $(seq 1 120); do cp "$SOURCE_DIR/config/samples/$(ls "$SOURCE_DIR/config/samples" | sed -n 1p)" "$T/drop/s.$i.pb.gz.tmp" && mv "$T/drop/s.$i.pb.gz.tmp" "$T/drop/s.$i.pb.gz"; sleep 0.5; done; }
bg feeder
READ_DROP="(() => { const td = document.querySelector('#components tr[data-component=\"file/drop\"] td[data-k=accepted]'); return td ? +td.textContent.replace(/,/g, '') : -1; })()"
shown=$(page "http://127.0.0.1:$MP/#pipeline" \
  "$READY && document.querySelector('#components') && (window.__first = window.__first ?? $READ_DROP) >= 0 && $READ_DROP > window.__first" "
  ({first: window.__first, now: $READ_DROP, navigations: performance.getEntriesByType('navigation').length,
    dead: (() => { const c = document.querySelector('.card[data-component=\"pyroscope/dead\"]');
                   return {cls: c.className, why: c.querySelector('.why') && c.querySelector('.why').textContent}; })(),
    file: document.querySelector('.card[data-component=\"file\"]').className,
    row: document.querySelector('#components tr[data-component=\"pyroscope/dead\"]').lastElementChild.textContent})" trouble.png)
echo "$shown" | jq -e '.dead.cls | test("trouble")' >/dev/null || fail "the failing exporter does not stand out: $shown"
echo "$shown" | jq -e '.dead.why | test("error [0-9]+s ago")' >/dev/null || fail "no reason on the failing exporter: $shown"
echo "$shown" | jq -e '.row | test("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}: .*127.0.0.1")' >/dev/null ||
  fail "the failing exporter's last error (with its time) is not shown: $shown"
echo "$shown" | jq -e '.file | test("trouble") | not' >/dev/null || fail "the healthy exporter is marked: $shown"
echo "$shown" | jq -e '.navigations == 1 and .now > .first' >/dev/null || fail "counters did not refresh in place: $shown"
pass "failing exporter outlined ($(echo "$shown" | jq -r '.dead.why'); $(echo "$shown" | jq -r '.row' | cut -c1-100)); file/drop accepted $(echo "$shown" | jq -r '"\(.first) -> \(.now)"') without a reload"
stop_profpipe "$PROFPIPE_PID"
