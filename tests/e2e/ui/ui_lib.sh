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
