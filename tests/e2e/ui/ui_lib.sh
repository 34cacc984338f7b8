# Helpers for the built-in page's end-to-end tests; sourced after lib.sh.
UI_DIR="$SOURCE_DIR/tests/e2e/ui"
# Screenshots a person can look at after the suite (named in the README).
SHOTS="$BUILD_DIR/ui-screenshots"
mkdir -p "$SHOTS"

# page URL WAIT_EXPR RESULT_EXPR [SCREENSHOT_NAME]: loads URL in chromium
# headless, waits until WAIT_EXPR holds, prints RESULT_EXPR as JSON.
page() {
  local shot=""
  [ -n "${4:-}" ] && shot="$SHOTS/$4"
  CDP_TMP="$T" node "$UI_DIR/cdp.js" "$1" "$2" "$3" $shot 2>"$T/cdp.err" ||
    { cat "$T/cdp.err" >&2; return 1; }
}

# The page has rendered its view (or an error).
READY="document.body.dataset.ready === '1'"

# api PORT PATH: GET of an API path, body on stdout.
api() { curl -sf "http://127.0.0.1:$1$2"; }

# Defines flameSplit() in the page: the flame graph's frames below the
# trunk (frames holding 90% or more of their parent: those every stack of
# the workload shares), as {trunk: [names], parent, widest, siblings,
# frames, all} with each frame {name, depth, share, left, width, match,
# cls, delta}; or {trunk, frames, error} when nothing splits.
# flameSplit(name) stops at the trunk frame called name, however wide its
# widest child (a heap profile where one function holds 95%).
FLAME_SPLIT_JS="
  function flameSplit(stopAt) {
    const frames = Array.from(document.querySelectorAll('#flame .frame')).map(f => ({
      name: f.textContent, depth: +f.dataset.depth, share: +f.dataset.share,
      left: parseFloat(f.style.left), width: parseFloat(f.style.width),
      match: f.classList.contains('match'), cls: f.className, delta: +(f.dataset.delta || 0)}));
    const kids = p => frames.filter(f => f.depth === p.depth + 1 && f.left >= p.left - 1e-6 &&
                                         f.left + f.width <= p.left + p.width + 1e-3);
    let cur = frames.find(f => f.depth === 0), trunk = [];
    for (;;) {
      const ks = kids(cur).sort((a, b) => b.width - a.width);
      if (!ks.length) break;
      if (ks[0].width >= 0.9 * cur.width && cur.name !== stopAt) { trunk.push(ks[0].name); cur = ks[0]; continue; }
      return {trunk, parent: cur, widest: ks[0], siblings: ks, frames: frames.length, all: frames};
    }
    return {trunk, frames: frames.length, error: 'no split below the trunk'};
  }"
