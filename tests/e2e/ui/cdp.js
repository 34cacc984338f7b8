// cdp.js: drives Debian's chromium headless over the DevTools protocol on
// a pipe (--remote-debugging-pipe: fd 3 in, fd 4 out, messages ended by a
// NUL byte), with nothing but node's standard library.
//
//   node cdp.js URL WAIT_EXPR RESULT_EXPR [SCREENSHOT.png]
//
// Opens URL in a 1400x900 window, waits (up to CDP_TIMEOUT_S, default 60)
// until WAIT_EXPR is true in the page, prints the JSON value of
// RESULT_EXPR, and saves a full-page screenshot if asked. WAIT_EXPR is
// polled every CDP_POLL_MS (default 200).
'use strict';
const {spawn} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [url, waitExpr, resultExpr, shot] = process.argv.slice(2);
const timeoutMs = 1000 * (+process.env.CDP_TIMEOUT_S || 60);
// a fresh profile each run, under CDP_TMP (the test's own temp dir) if set
const profileDir = fs.mkdtempSync(path.join(process.env.CDP_TMP || os.tmpdir(), 'pp-chromium-'));
const browser = spawn(process.env.CHROMIUM || 'chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', '--remote-debugging-pipe', '--user-data-dir=' + profileDir,
  '--window-size=1400,900', 'about:blank',
], {stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe']});
let stderr = '';
browser.stderr.on('data', d => { stderr += d; });

const pending = new Map();
let nextId = 1, inbox = '';
browser.stdio[4].on('data', chunk => {
  inbox += chunk.toString('utf8');
  let end;
  while ((end = inbox.indexOf('\0')) >= 0) {
    const msg = JSON.parse(inbox.slice(0, end));
    inbox = inbox.slice(end + 1);
    if (msg.id && pending.has(msg.id)) {
      const {resolve, reject} = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
    }
  }
});

function send(method, params, sessionId) {
  const id = nextId++;
  const msg = {id, method, params: params || {}};
  if (sessionId) msg.sessionId = sessionId;
  browser.stdio[3].write(JSON.stringify(msg) + '\0');
  return new Promise((resolve, reject) => pending.set(id, {resolve, reject}));
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

let finishing = false;
function finish(code, text) {
  if (finishing) return;
  finishing = true;
  if (text) (code ? process.stderr : process.stdout).write(text + '\n');
  const cleanup = () => {
    try {
      fs.rmSync(profileDir, {recursive: true, force: true, maxRetries: 10, retryDelay: 100});
    } catch (e) { /* a helper process still writing: CDP_TMP's owner removes it */ }
    process.exit(code);
  };
  if (browser.exitCode !== null || browser.signalCode !== null) return cleanup();
  browser.once('exit', cleanup);
  // ask politely first, so the helper processes end with the browser
  send('Browser.close').catch(() => {});
  setTimeout(() => browser.kill('SIGKILL'), 3000).unref();
}

async function main() {
  const {targetId} = await send('Target.createTarget', {url: 'about:blank'});
  const {sessionId} = await send('Target.attachToTarget', {targetId, flatten: true});
  const s = (m, p) => send(m, p, sessionId);
  await s('Emulation.setDeviceMetricsOverride',
          {width: 1400, height: 900, deviceScaleFactor: 1, mobile: false});
  await s('Page.enable');
  await s('Page.navigate', {url});
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await s('Runtime.evaluate', {expression: '!!(' + waitExpr + ')', returnByValue: true});
    if (r.result && r.result.value === true) break;
    if (Date.now() > deadline) {
      const body = await s('Runtime.evaluate',
        {expression: 'document.body ? document.body.innerText.slice(0, 2000) : ""', returnByValue: true});
      return finish(1, 'cdp.js: timed out waiting for ' + waitExpr + '\npage text: ' +
                    (body.result && body.result.value));
    }
    await sleep(+process.env.CDP_POLL_MS || 200);
  }
  const r = await s('Runtime.evaluate',
                    {expression: resultExpr || 'null', returnByValue: true, awaitPromise: true});
  if (r.exceptionDetails) return finish(1, 'cdp.js: ' + JSON.stringify(r.exceptionDetails));
  if (shot) {
    const m = await s('Page.getLayoutMetrics');
    const h = Math.ceil(Math.min(6000, m.cssContentSize ? m.cssContentSize.height : 900));
    await s('Emulation.setDeviceMetricsOverride',
            {width: 1400, height: Math.max(900, h), deviceScaleFactor: 1, mobile: false});
    const img = await s('Page.captureScreenshot', {format: 'png'});
    fs.writeFileSync(shot, Buffer.from(img.data, 'base64'));
  }
  finish(0, JSON.stringify(r.result.value));
}

setTimeout(() => finish(1, 'cdp.js: no answer from chromium\n' + stderr.slice(-2000)),
           timeoutMs + 30000).unref();
browser.on('exit', code => { if (pending.size && !finishing) finish(1, 'chromium exited (' + code + ')\n' + stderr.slice(-2000)); });
main().catch(e => finish(1, 'cdp.js: ' + e.message + '\n' + stderr.slice(-2000)));
