// profpipe's built-in page: plain JavaScript, no library, no build step.
// Three views picked by the URL hash (#pipeline, #targets, #profiles?...);
// everything the profiles view shows is in its hash, so a link (or a test)
// reproduces it. Data comes from /api/v1/*; the flame graph is laid out
// here from the compact node array the server sends (see README).
'use strict';

const $ = (sel, root) => (root || document).querySelector(sel);
const view = $('#view');
let timer = null;
let renderSeq = 0;

function esc(s) {
  return String(s == null ? '' : s).replace(/[&<>"']/g,
    c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
}
function num(v) { return v == null ? '' : Number(v).toLocaleString('en-US'); }
function bytes(v) {
  if (v == null) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + ' ' + u[i];
}
function ago(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? s + 's ago' : Math.round(s / 60) + 'm ago';
}
function when(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : ''; }
function pct(v, total) { return total ? (100 * v / total).toFixed(2) + '%' : ''; }
function unitValue(v, unit) {
  if (unit === 'nanoseconds') return (v / 1e9).toFixed(2) + 's';
  if (unit === 'bytes') return bytes(v);
  return num(v);
}

async function getJSON(url) {
  const r = await fetch(url, {cache: 'no-store'});
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
  return body;
}

function route() {
  const h = location.hash.slice(1) || 'pipeline';
  const q = h.indexOf('?');
  return {name: q < 0 ? h : h.slice(0, q), params: new URLSearchParams(q < 0 ? '' : h.slice(q + 1))};
}

function setHash(name, params) {
  const s = params.toString();
  location.hash = name + (s ? '?' + s : '');
}

function done(seq, what, t0) {
  if (seq !== renderSeq) return;
  const ms = performance.now() - t0;
  document.body.dataset.ready = '1';
  document.body.dataset.renderMs = ms.toFixed(1);
  document.body.dataset.firstPaintMs = performance.now().toFixed(1);
  $('#timing').textContent = what + ' in ' + ms.toFixed(0) + ' ms';
}

function failed(seq, e) {
  if (seq !== renderSeq) return;
  view.insertAdjacentHTML('afterbegin', '<p class="error" id="error">' + esc(e.message) + '</p>');
  document.body.dataset.ready = '1';
}

// ---------------------------------------------------------------- pipeline

function queueBar(used, limit) {
  if (!limit) return '';
  const p = Math.min(100, 100 * used / limit);
  return '<div class="bar' + (p >= 90 ? ' full' : '') + '" title="' + bytes(used) + ' of ' +
    bytes(limit) + '"><div style="width:' + p.toFixed(1) + '%"></div></div>';
}

function card(c) {
  const lines = [];
  if (c.kind === 'receiver') lines.push('accepted ' + num(c.accepted));
  if (c.kind === 'processor') lines.push('in ' + num(c.accepted) + ' / out ' + num(c.sent));
  if (c.kind === 'exporter') {
    lines.push('sent ' + num(c.sent) + ' of ' + num(c.accepted));
    lines.push('rejected ' + num(c.rejected) + ', failed ' + num(c.failed) + ', dropped ' +
      num(c.dropped) + ', retries ' + num(c.retries));
  }
  return '<div class="card' + (c.trouble ? ' trouble' : '') + '" data-component="' + esc(c.id) + '">' +
    '<div class="id">' + esc(c.id) + '</div><div>' + lines.map(esc).join('<br>') + '</div>' +
    (c.queue_limit ? queueBar(c.queue_bytes, c.queue_limit) : '') +
    (c.trouble ? '<div class="why">' + esc(c.trouble) + '</div>' : '') + '</div>';
}

function renderPipeline(d) {
  const byId = {};
  for (const c of d.components) byId[c.kind + ':' + c.id + ':' + (c.pipeline || '')] = c;
  const find = (kind, id, p) => byId[kind + ':' + id + ':' + (p || '')] || {id, kind};
  let html = '';
  if (d.reload) {
    html += d.reload.ok
      ? '<div class="banner good" id="reload">Config reloaded ' + esc(ago(d.reload.at)) + '.</div>'
      : '<div class="banner bad" id="reload">The last reload (' + esc(ago(d.reload.at)) +
        ') failed; the previous config keeps running.<ul>' +
        d.reload.errors.map(e => '<li>' + esc(e) + '</li>').join('') + '</ul></div>';
  }
  for (const p of d.pipelines) {
    html += '<h2>' + esc(p.name) + '</h2><div class="graph' + (p.trouble ? ' trouble' : '') + '">' +
      '<div class="col">' + p.receivers.map(id => card(find('receiver', id))).join('') + '</div>' +
      '<div class="arrow">→</div><div class="col"><div class="card"><div class="id">queue</div>' +
      queueBar(p.queue_bytes, p.queue_limit) + 'dropped ' + num(p.dropped) +
      (p.trouble ? '<div class="why">' + esc(p.trouble) + '</div>' : '') + '</div>' +
      p.processors.map(id => card(find('processor', id, p.name))).join('') + '</div>' +
      '<div class="arrow">→</div><div class="col">' +
      p.exporters.map(id => card(find('exporter', id))).join('') + '</div></div>';
  }
  html += '<h2>Components</h2><table id="components"><tr><th>component</th><th>kind</th>' +
    '<th>pipeline</th><th>accepted</th><th>sent</th><th>rejected</th><th>failed</th>' +
    '<th>dropped</th><th>retries</th><th>queue</th><th>last error</th></tr>';
  for (const c of d.components) {
    html += '<tr class="' + (c.trouble ? 'trouble' : '') + '" data-component="' + esc(c.id) + '">' +
      '<td>' + esc(c.id) + '</td><td>' + esc(c.kind) + '</td><td>' + esc(c.pipeline || '') + '</td>' +
      ['accepted', 'sent', 'rejected', 'failed', 'dropped', 'retries']
        .map(k => '<td class="num" data-k="' + k + '">' + num(c[k]) + '</td>').join('') +
      '<td>' + (c.queue_limit ? bytes(c.queue_bytes) + ' / ' + bytes(c.queue_limit) : '') + '</td>' +
      '<td>' + (c.last_error ? esc(when(c.last_error_at)) + ': ' + esc(c.last_error) : '') +
      (c.trouble ? '<div class="why">' + esc(c.trouble) + '</div>' : '') + '</td></tr>';
  }
  html += '</table><h2>Running config</h2><p>' + esc(d.config.path) + ', running since ' +
    esc(when(d.config.since)) + '</p><details><summary>YAML</summary><pre>' +
    esc(d.config.text || '') + '</pre></details>';
  view.innerHTML = html;
}

async function showPipeline(seq) {
  const t0 = performance.now();
  try {
    const d = await getJSON('/api/v1/pipeline');
    if (seq !== renderSeq) return;
    renderPipeline(d);
    done(seq, 'pipeline', t0);
  } catch (e) { failed(seq, e); }
}

// ---------------------------------------------------------------- targets

async function showTargets(seq) {
  const t0 = performance.now();
  try {
    const d = await getJSON('/api/v1/targets');
    if (seq !== renderSeq) return;
    let html = '<h2>Scrape targets</h2><table id="targets"><tr><th>component</th><th>target</th>' +
      '<th>profile</th><th>state</th><th>last scrape</th><th>duration</th><th>bytes</th>' +
      '<th>error</th></tr>';
    d.targets.sort((a, b) => (a.component + ' ' + a.target + ' ' + a.profile)
      .localeCompare(b.component + ' ' + b.target + ' ' + b.profile));
    for (const t of d.targets) {
      html += '<tr class="' + (t.up ? 'up' : 'down') + '" data-target="' + esc(t.target) +
        '" data-profile="' + esc(t.profile) + '"><td>' + esc(t.component) + '</td><td>' +
        esc(t.target) + esc(t.path) + '</td><td>' + esc(t.profile) + '</td><td class="state">' +
        (t.up ? 'up' : 'down') + '</td><td title="' + esc(when(t.last_scrape)) + '">' +
        esc(ago(t.last_scrape)) + '</td><td class="num">' + t.duration_ms.toFixed(1) +
        ' ms</td><td class="num">' + bytes(t.bytes) + '</td><td class="err">' + esc(t.error) +
        '</td></tr>';
    }
    if (!d.targets.length) html += '<tr><td colspan="8">no scrape targets</td></tr>';
    view.innerHTML = html + '</table>';
    done(seq, 'targets', t0);
  } catch (e) { failed(seq, e); }
}

// ---------------------------------------------------------------- profiles

function selectionParams(p, prefix) {
  const out = new URLSearchParams();
  for (const k of ['window', 'from', 'until']) {
    const v = p.get(prefix + k);
    if (v) out.set(prefix + k, v);
  }
  return out;
}

function timeline(s, p, t0, t1) {
  const span = Math.max(1, t1 - t0);
  const win = p.get('window'), from = +p.get('from') || 0, until = +p.get('until') || 0;
  const bwin = p.get('base_window'), bfrom = +p.get('base_from') || 0, buntil = +p.get('base_until') || 0;
  return '<div class="timeline">' + s.windows.map(w => {
    const sel = win ? String(w.id) === win : (from || until) && w.from < (until || Infinity) && w.until >= from;
    const base = bwin ? String(w.id) === bwin : (bfrom || buntil) && w.from < (buntil || Infinity) && w.until >= bfrom;
    const left = 100 * (w.from - t0) / span, width = Math.max(0.5, 100 * (w.until - w.from) / span);
    return '<div class="w' + (sel ? ' sel' : '') + (base ? ' base' : '') + '" data-w="' + w.id +
      '" data-from="' + w.from + '" data-until="' + w.until + '" title="' + esc(when(w.from)) +
      ' – ' + esc(when(w.until)) + ', ' + bytes(w.bytes) + '" style="left:' + left.toFixed(2) +
      '%;width:' + width.toFixed(2) + '%"></div>';
  }).join('') + '</div>';
}

function seriesTable(d, p) {
  const cur = p.get('series');
  const list = d.series.slice().sort((a, b) =>
    (a.labels.service_name + a.labels.__name__).localeCompare(b.labels.service_name + b.labels.__name__));
  let t0 = Infinity, t1 = -Infinity;
  for (const s of list) for (const w of s.windows) { t0 = Math.min(t0, w.from); t1 = Math.max(t1, w.until); }
  let html = '<h2>Series (last ' + Math.round(d.retention_s / 60) + ' min, ' + bytes(d.bytes) +
    ' of ' + bytes(d.max_bytes) + ' kept)</h2><table id="series"><tr><th>service_name</th>' +
    '<th>__name__</th><th>other labels</th><th>windows</th><th>timeline (click a window; ' +
    'shift-click for a range)</th></tr>';
  for (const s of list) {
    const other = Object.entries(s.labels).filter(([k]) => k !== 'service_name' && k !== '__name__')
      .map(([k, v]) => k + '=' + v).join(', ');
    html += '<tr class="series' + (s.id === cur ? ' selected' : '') + '" data-series="' + s.id + '"><td>' +
      esc(s.labels.service_name) + '</td><td>' + esc(s.labels.__name__) + '</td><td>' + esc(other) +
      '</td><td class="num">' + s.windows.length + '</td><td>' + timeline(s, s.id === cur ? p : new URLSearchParams(), t0, t1) +
      '</td></tr>';
  }
  if (!list.length) html += '<tr><td colspan="5">no profiles seen yet</td></tr>';
  return html + '</table>';
}

function controls(p, flame) {
  const mode = p.get('view') || 'flame';
  const types = flame ? flame.sample_types : [];
  const cur = flame ? flame.sample_type.type : '';
  const q = new URLSearchParams(selectionParams(p, ''));
  q.set('series', p.get('series'));
  if (p.get('sample_type')) q.set('sample_type', p.get('sample_type'));
  q.set('format', 'pprof');
  const hasBase = p.get('base_window') || p.get('base_from');
  return '<div class="controls">' +
    '<label>sample type <select id="sample-type">' + types.map(t => '<option' +
      (t.type === cur ? ' selected' : '') + ' value="' + esc(t.type) + '">' + esc(t.type) + ' (' +
      esc(t.unit) + ')</option>').join('') + '</select></label>' +
    '<label>view <select id="mode">' + ['flame', 'top', 'diff'].map(m => '<option' +
      (m === mode ? ' selected' : '') + '>' + m + '</option>').join('') + '</select></label>' +
    '<label>search <input id="search" value="' + esc(p.get('q') || '') + '" placeholder="function"></label>' +
    '<span id="match-summary"></span>' +
    '<button id="all">all windows</button><button id="set-base">use as diff base</button>' +
    (hasBase ? '<button id="clear-base">clear diff base</button>' : '') +
    '<a id="download" href="/api/v1/profile?' + esc(q.toString()) + '">download pprof</a></div>';
}

function hue(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  return h;
}

function frameColor(name, delta, diff) {
  if (diff) {
    const a = Math.min(1, Math.abs(delta) * 8);
    if (Math.abs(delta) < 0.001) return '#e0e0e0';
    return delta > 0 ? 'rgba(229,57,53,' + (0.25 + 0.75 * a).toFixed(2) + ')'
                     : 'rgba(30,136,229,' + (0.25 + 0.75 * a).toFixed(2) + ')';
  }
  const h = hue(name);
  return 'hsl(' + (10 + (Math.abs(h) % 45)) + ',' + (70 + (Math.abs(h >> 8) % 25)) + '%,' +
    (58 + (Math.abs(h >> 16) % 12)) + '%)';
}

const ROW = 18;
// Lays the nodes out (depth-first order: a node's children follow it) and
// draws every frame at least half a pixel wide as one absolutely placed div.
function renderFlame(el, d) {
  const stride = d.stride, n = d.nodes, diff = stride === 6;
  const total = d.total || 1, baseTotal = d.base_total || 1;
  const width = el.clientWidth || 1200;
  const minFrac = 0.5 / width;
  const cursor = [0];
  const parts = [];
  let maxDepth = 0, drawn = 0;
  for (let i = 0; i < n.length; i += stride) {
    const name = d.names[n[i]], v = n[i + 1], depth = n[i + 3];
    const x = cursor[depth] || 0;
    cursor[depth] = x + v;
    cursor[depth + 1] = x;
    const frac = v / total;
    if (frac < minFrac) continue;
    const share = v / total;
    const delta = diff ? share - n[i + 4] / baseTotal : 0;
    const cls = 'frame' + (diff ? (delta > 0.01 ? ' grew' : delta < -0.01 ? ' shrank' : '') : '');
    maxDepth = Math.max(maxDepth, depth);
    drawn++;
    parts.push('<div class="' + cls + '" data-i="' + (i / stride) + '" data-n="' + n[i] +
      '" data-depth="' + depth + '" data-share="' + share.toFixed(4) +
      (diff ? '" data-delta="' + delta.toFixed(4) : '') + '" title="' + esc(name) + ': ' +
      esc(unitValue(v, d.sample_type.unit)) + ' (' + (100 * share).toFixed(2) + '%' +
      (diff ? ', ' + (delta >= 0 ? '+' : '') + (100 * delta).toFixed(2) + ' pts vs base' : '') +
      ')" style="left:' + (100 * x / total).toFixed(4) + '%;width:' + (100 * frac).toFixed(4) +
      '%;top:' + depth * ROW + 'px;background:' + frameColor(name, delta, diff) + '">' +
      esc(name) + '</div>');
  }
  el.style.height = (maxDepth + 1) * ROW + 'px';
  el.innerHTML = parts.join('');
  return drawn;
}

function highlight(d, q) {
  const needle = (q || '').toLowerCase();
  let count = 0, share = 0;
  const root = $('#flame');
  if (root) {
    let matchedDepth = Infinity;
    for (const f of root.children) {
      const depth = +f.dataset.depth;
      if (depth <= matchedDepth) matchedDepth = Infinity;
      const hit = needle !== '' && d.names[+f.dataset.n].toLowerCase().includes(needle);
      f.classList.toggle('match', hit);
      if (hit) {
        count++;
        if (matchedDepth === Infinity) { share += +f.dataset.share; matchedDepth = depth; }
      }
    }
  }
  for (const tr of document.querySelectorAll('#top tr[data-name]'))
    tr.classList.toggle('match', needle !== '' && tr.dataset.name.toLowerCase().includes(needle));
  $('#match-summary').textContent = needle ? count + ' frames match, ' +
    (100 * share).toFixed(1) + '% of the total' : '';
  $('#match-summary').dataset.count = count;
}

function renderTop(el, d, p) {
  const key = p.get('sort') || 'flat';
  const rows = d.functions.slice().sort((a, b) => key === 'name' ? a.name.localeCompare(b.name) : b[key] - a[key]);
  const unit = d.sample_type.unit;
  el.innerHTML = '<table id="top"><tr><th class="sortable" data-sort="flat">flat</th><th>flat%</th>' +
    '<th class="sortable" data-sort="cum">cum</th><th>cum%</th><th class="sortable" data-sort="name">' +
    'function</th></tr>' + rows.map(r => '<tr data-name="' + esc(r.name) + '"><td class="num">' +
      esc(unitValue(r.flat, unit)) + '</td><td class="num">' + pct(r.flat, d.total) +
      '</td><td class="num">' + esc(unitValue(r.cum, unit)) + '</td><td class="num">' +
      pct(r.cum, d.total) + '</td><td>' + esc(r.name) + '</td></tr>').join('') + '</table>';
  for (const th of el.querySelectorAll('th.sortable'))
    th.onclick = () => { p.set('sort', th.dataset.sort); setHash('profiles', p); };
}

function windowOfClick(ev, p) {
  const w = ev.target.closest('.w');
  const row = ev.target.closest('tr.series');
  if (!row) return;
  const q = new URLSearchParams();
  q.set('series', row.dataset.series);
  for (const k of ['sample_type', 'view', 'q']) if (p.get(k) && row.dataset.series === p.get('series')) q.set(k, p.get(k));
  if (w && ev.shiftKey && row.dataset.series === p.get('series') && (p.get('window') || p.get('from'))) {
    const sel = $('.w.sel', row);
    const a = Math.min(+w.dataset.from, sel ? +sel.dataset.from : +p.get('from'));
    const b = Math.max(+w.dataset.until, +(p.get('until') || 0), sel ? +sel.dataset.until : 0);
    q.set('from', a);
    q.set('until', b + 1);
  } else if (w) {
    q.set('window', w.dataset.w);
  }
  for (const k of ['base_window', 'base_from', 'base_until']) if (p.get(k) && row.dataset.series === p.get('series')) q.set(k, p.get(k));
  setHash('profiles', q);
}

async function showProfiles(seq, p) {
  const t0 = performance.now();
  try {
    const series = await getJSON('/api/v1/series');
    if (seq !== renderSeq) return;
    let html = seriesTable(series, p);
    const id = p.get('series');
    if (!id) {
      view.innerHTML = html;
      $('#series').onclick = ev => windowOfClick(ev, p);
      return done(seq, 'series', t0);
    }
    const mode = p.get('view') || 'flame';
    const q = selectionParams(p, '');
    q.set('series', id);
    if (p.get('sample_type')) q.set('sample_type', p.get('sample_type'));
    // frames under half a pixel are not drawn; the heaviest 4 per pixel of
    // width hold every frame that is (a node weighs at least its children)
    q.set('max_nodes', Math.max(2000, 4 * (view.clientWidth || 1400)));
    if (mode === 'diff') for (const [k, v] of selectionParams(p, 'base_')) q.set(k, v);
    if (mode === 'diff' && !p.get('base_window') && !p.get('base_from'))
      throw new Error('diff: pick a base first (select windows, then "use as diff base")');
    const flameUrl = '/api/v1/profile?' + q.toString();
    const [flame, top] = await Promise.all([getJSON(flameUrl),
      mode === 'top' ? getJSON(flameUrl.replace(/&(base_|max_nodes)[^&]*/g, '') + '&format=top') : null]);
    if (seq !== renderSeq) return;
    html += controls(p, flame) + '<p id="summary">' + esc(flame.sample_type.type) + ': ' +
      esc(unitValue(flame.total, flame.sample_type.unit)) + ' in ' + flame.windows + ' window(s)' +
      (mode === 'diff' ? ', against ' + esc(unitValue(flame.base_total, flame.sample_type.unit)) +
        ' in ' + flame.base_windows + ' base window(s); red grew, blue shrank (share of total)' : '') +
      (flame.nodes_shown < flame.nodes_total ? '; ' + flame.nodes_shown + ' of ' + flame.nodes_total +
        ' nodes (max_nodes)' : '') + '</p>' + (mode === 'top' ? '<div id="top-wrap"></div>' :
      '<div id="flame"></div>');
    view.innerHTML = html;
    let drawn = 0;
    if (mode === 'top') renderTop($('#top-wrap'), top, p);
    else drawn = renderFlame($('#flame'), flame);
    highlight(flame, p.get('q'));
    $('#series').onclick = ev => windowOfClick(ev, p);
    $('#search').oninput = ev => { highlight(flame, ev.target.value); p.set('q', ev.target.value);
      history.replaceState(null, '', '#profiles?' + p.toString()); };
    $('#sample-type').onchange = ev => { p.set('sample_type', ev.target.value); setHash('profiles', p); };
    $('#mode').onchange = ev => { p.set('view', ev.target.value); setHash('profiles', p); };
    $('#all').onclick = () => { for (const k of ['window', 'from', 'until']) p.delete(k); setHash('profiles', p); };
    $('#set-base').onclick = () => {
      for (const k of ['base_window', 'base_from', 'base_until']) p.delete(k);
      for (const [k, v] of selectionParams(p, '')) p.set('base_' + k, v);
      if (!p.get('base_window') && !p.get('base_from')) { p.set('base_from', 0); }
      setHash('profiles', p);
    };
    if ($('#clear-base')) $('#clear-base').onclick = () => {
      for (const k of ['base_window', 'base_from', 'base_until']) p.delete(k);
      if (p.get('view') === 'diff') p.set('view', 'flame');
      setHash('profiles', p);
    };
    document.body.dataset.frames = drawn;
    done(seq, (mode === 'top' ? 'top table' : drawn + ' frames'), t0);
  } catch (e) { failed(seq, e); }
}

// ---------------------------------------------------------------- routing

function show() {
  const seq = ++renderSeq;
  const r = route();
  document.body.dataset.ready = '0';
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.id === 'tab-' + r.name);
  clearInterval(timer);
  timer = null;
  if (r.name === 'targets') {
    showTargets(seq);
    timer = setInterval(() => showTargets(renderSeq), 5000);
  } else if (r.name === 'profiles') {
    showProfiles(seq, r.params);
  } else {
    showPipeline(seq);
    timer = setInterval(() => showPipeline(renderSeq), 2000);
  }
}

window.addEventListener('hashchange', show);
show();
