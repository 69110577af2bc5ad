/*
 * The operators' dashboard (/admin). It follows GET /admin/ws (PROTOCOL.md,
 * Admin): {"type": "stats", ...snapshot} at least once a second and
 * {"type": "alert", ...} on each alert change. The trends of the last hour
 * are kept here, from the frames (and in session storage, so a reload keeps
 * them), seeded by the node's own last hour: the stream's first frame,
 * {"type": "history", "points": [{at, matches_per_min, waiting,
 * success_rate}]} (an extension), so a fresh dashboard does not start empty. The admin key is asked for once and kept in session storage; the
 * socket carries it as ?admin_key= (PROTOCOL allows it on the admin socket),
 * never the address bar.
 *
 * Hooks for tests: body[data-connected], body[data-stale],
 * [data-testid=admin-live][data-live], kpi-waiting, kpi-matches,
 * kpi-success, kpi-alerts, kpi-nodes, admin-pool[data-pool] with
 * pool-waiting[data-gender], admin-nodes, alerts-firing, alerts-recent,
 * admin-recommendations, chart-matches[data-points] (and [data-seeded]: the
 * points the history frame brought), and per node row
 * (tr[data-node]) node-sessions and node-connections.
 */
'use strict';

(() => {
  const { h, genders, genderLabel, shortDur, sum, connect, wsURL } = window.SpinLive;
  const cfg = JSON.parse(document.getElementById('spinmatch-config').textContent || '{}');
  const KEY = 'spinmatch.adminKey';
  const TRENDS = 'spinmatch.adminTrends';
  const STALE_MS = 3000;
  const HOUR_S = 3600;
  const $ = (id) => document.getElementById(id);
  const tid = (t) => document.querySelector(`[data-testid="${t}"]`);

  let key = sessionStorage.getItem(KEY) || '';
  let sock = null;
  let lastFrameAt = 0; // Date.now() of the last stats frame
  let lastAt = null; // the snapshot's own time
  let connected = false;
  let retryIn = 0;
  const recent = []; // alert changes, newest first (at most 50)
  const seen = new Set(); // seq of the alert changes in recent

  // ---- trends: [t_s[], matches_per_min[], waiting[], success_pct[]] ----
  const trend = loadTrends();
  function loadTrends() {
    try {
      const t = JSON.parse(sessionStorage.getItem(TRENDS) || 'null');
      if (Array.isArray(t) && t.length === 4 && t.every(Array.isArray)) return t;
    } catch { /* start empty */ }
    return [[], [], [], []];
  }
  function addPoint(t, mpm, waiting, success) {
    const ts = trend[0];
    if (ts.length && t <= ts[ts.length - 1]) return; // one point a second at most, in order
    trend[0].push(t); trend[1].push(mpm); trend[2].push(waiting); trend[3].push(success);
    let cut = 0;
    while (cut < ts.length && ts[cut] < t - HOUR_S) cut++;
    if (cut) trend.forEach((s) => s.splice(0, cut));
  }
  // seedTrends merges the node's history points (one a minute) with those
  // already kept, in time order, and trims to the last hour.
  function seedTrends(points) {
    const rows = trend[0].map((t, i) => [t, trend[1][i], trend[2][i], trend[3][i]]);
    const have = new Set(trend[0]);
    for (const p of points || []) {
      const t = Math.floor((Date.parse(p.at) || 0) / 1000);
      if (!t || have.has(t)) continue;
      have.add(t);
      rows.push([t, p.matches_per_min || 0, p.waiting || 0, p.success_rate == null ? null : p.success_rate * 100]);
    }
    rows.sort((a, b) => a[0] - b[0]);
    const hi = rows.length ? rows[rows.length - 1][0] : 0;
    const kept = rows.filter((r) => r[0] >= hi - HOUR_S);
    trend.forEach((s, k) => { s.length = 0; for (const r of kept) s.push(r[k]); });
  }
  setInterval(() => { try { sessionStorage.setItem(TRENDS, JSON.stringify(trend)); } catch { /* full: fine */ } }, 10000);

  // ---- charts (uPlot) ----
  const css = getComputedStyle(document.documentElement);
  const color = (v, d) => (css.getPropertyValue(v) || d).trim();
  const axis = { stroke: color('--muted', '#6b5d73'), grid: { stroke: color('--border', '#ecdfea'), width: 1 }, ticks: { stroke: color('--border', '#ecdfea') } };
  const charts = [];
  function makeChart(el, series, axes) {
    if (!window.uPlot) return null;
    const opts = {
      width: Math.max(el.clientWidth, 280), height: 190, series: [{}, ...series], axes: [axis, ...axes],
      legend: { show: true }, cursor: { drag: { x: false, y: false } },
      // The x axis shows the last hour, or at least five minutes while the
      // trend is younger, so a few points do not span years.
      scales: { x: { time: true, range: (u, min, max) => { const hi = trend[0].length ? trend[0][trend[0].length - 1] : Date.now() / 1000; return [hi - Math.min(HOUR_S, Math.max(300, hi - (trend[0][0] ?? hi))), hi]; } } },
    };
    const u = new window.uPlot(opts, [trend[0], ...series.map((s) => trend[s.idx])], el);
    // Resize on the next frame, and only when the width changed: resizing
    // inside the observer's callback would loop (a "ResizeObserver loop" error).
    let width = opts.width;
    new ResizeObserver(() => requestAnimationFrame(() => {
      const w = Math.max(el.clientWidth, 280);
      if (w !== width) { width = w; u.setSize({ width: w, height: 190 }); }
    })).observe(el);
    const c = { u, el, series };
    charts.push(c);
    return c;
  }
  function drawCharts() {
    for (const c of charts) {
      c.u.setData([trend[0], ...c.series.map((s) => trend[s.idx])]);
      c.el.dataset.points = String(trend[0].length);
    }
  }
  makeChart($('chart-matches'), [
    { idx: 1, label: 'Matches / min', stroke: color('--rose', '#e11d74'), width: 2, fill: 'rgba(225,29,116,.08)', scale: 'mpm', value: (u, v) => (v == null ? '—' : v.toFixed(1)) },
    { idx: 2, label: 'Waiting', stroke: color('--violet', '#7c3aed'), width: 2, scale: 'n', value: (u, v) => (v == null ? '—' : String(v)) },
  ], [{ ...axis, scale: 'mpm' }, { ...axis, scale: 'n', side: 1, grid: { show: false } }]);
  makeChart($('chart-success'), [
    { idx: 3, label: 'Success rate', stroke: color('--ok', '#059669'), width: 2, fill: 'rgba(5,150,105,.08)', scale: '%', value: (u, v) => (v == null ? '—' : `${v.toFixed(0)} %`) },
  ], [{ ...axis, scale: '%', size: 56, values: (u, vs) => vs.map((v) => `${v} %`) }]);

  // ---- rendering ----
  const pct = (r) => (r == null || !isFinite(r) ? '—' : `${Math.round(r * 100)} %`);
  const fmtTime = (s) => { const d = new Date(s); return isNaN(d) ? '' : d.toLocaleTimeString(); };

  function setText(t, v) { const el = tid(t); if (el) el.textContent = v; }

  function render(snap) {
    const pools = (snap.pools || []).slice().sort((a, b) => sum(b.waiting) - sum(a.waiting) || a.pool.localeCompare(b.pool));
    const waiting = pools.reduce((n, p) => n + sum(p.waiting), 0);
    const mpm = pools.reduce((n, p) => n + (p.matches_per_min || 0), 0);
    // Success rate of the cluster: the pools' rates weighted by their match rates.
    const rated = pools.filter((p) => p.matches_per_min > 0 && p.match_success_rate != null);
    const w = rated.reduce((n, p) => n + p.matches_per_min, 0);
    const success = w > 0 ? rated.reduce((n, p) => n + p.match_success_rate * p.matches_per_min, 0) / w : null;
    const firing = snap.alerts || [];
    setText('kpi-waiting', String(waiting));
    setText('kpi-matches', mpm.toFixed(1));
    setText('kpi-success', pct(success));
    setText('kpi-alerts', String(firing.length));
    $('kpi-alerts-box').dataset.alerting = String(firing.length > 0);
    setText('kpi-nodes', String((snap.nodes || []).length));

    const t = Math.floor((Date.parse(snap.at) || Date.now()) / 1000);
    addPoint(t, mpm, waiting, success == null ? null : success * 100);
    drawCharts();

    $('pools').replaceChildren(...(pools.length ? pools.map(poolPanel) : [h('p', { class: 'empty' }, 'No pools yet: nobody has spun since this node started.')]));
    const un = snap.unavailable || [];
    $('pools-note').textContent = un.length ? `Not answering: ${un.join(', ')}` : `${pools.length} active`;
    renderNodes(snap.nodes || []);
    renderAlerts(firing);
    renderRecs(pools);
  }

  function poolPanel(p) {
    const gs = genders(p.waiting, p.avg_wait_s, p.p90_wait_s, p.eta_s, p.abandoned);
    const total = sum(p.waiting);
    const imb = p.imbalance || {};
    const bar = h('div', { class: 'mixbar', role: 'img', 'aria-label': gs.map((g) => `${genderLabel(g)}: ${(p.waiting || {})[g] || 0}`).join(', ') },
      gs.map((g) => h('span', { dataset: { gender: g }, style: { width: `${total ? (100 * ((p.waiting || {})[g] || 0)) / total : 0}%` } })));
    const cell = (m, g, f) => h('td', { class: 'num' }, f((m || {})[g]));
    const rows = gs.map((g) => h('tr', { dataset: { gender: g } },
      h('td', {}, h('span', { class: 'g-dot' }), genderLabel(g)),
      h('td', { class: 'num', dataset: { testid: 'pool-waiting', gender: g } }, String((p.waiting || {})[g] || 0)),
      cell(p.avg_wait_s, g, shortDur), cell(p.p90_wait_s, g, shortDur), cell(p.eta_s, g, shortDur),
      cell(p.abandoned, g, (v) => String(v || 0))));
    const scarce = imb.scarce ? `${imb.ratio != null ? imb.ratio.toFixed(1) : '—'} : 1, ${genderLabel(imb.scarce).toLowerCase()} scarce` : 'balanced';
    return h('article', { class: 'panel', dataset: { testid: 'admin-pool', pool: p.pool } },
      h('h2', {}, h('span', { class: 'pool-name' }, p.pool), h('span', { class: 'status-total' }, String(total), h('small', {}, 'waiting'))),
      h('p', { class: 'metric-line' },
        h('span', {}, h('b', { dataset: { testid: 'pool-mpm' } }, (p.matches_per_min || 0).toFixed(1)), ' matches/min'),
        h('span', {}, h('b', { dataset: { testid: 'pool-success' } }, pct(p.match_success_rate)), ' success'),
        h('span', {}, 'imbalance ', h('b', { dataset: { testid: 'pool-imbalance' } }, scarce))),
      bar,
      h('table', { class: 'rows' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Gender'), h('th', { class: 'num' }, 'Waiting'), h('th', { class: 'num' }, 'Avg'),
          h('th', { class: 'num' }, 'p90'), h('th', { class: 'num' }, 'ETA'), h('th', { class: 'num', title: 'Left unmatched in the window' }, 'Left'))),
        h('tbody', {}, rows)));
  }

  function renderNodes(nodes) {
    const rows = nodes.slice().sort((a, b) => String(a.id).localeCompare(String(b.id))).map((n) => h('tr', { dataset: { node: n.id } },
      h('td', {}, h('span', { class: 'pool-name' }, n.id)), h('td', { class: 'muted' }, n.address || ''),
      h('td', { class: 'num', dataset: { testid: 'node-sessions' } }, String(n.sessions ?? 0)),
      h('td', { class: 'num', dataset: { testid: 'node-connections' } }, String(n.connections ?? 0))));
    $('nodes').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '4', class: 'empty' }, 'No node has reported yet.'))]));
  }

  function alertItem(a) {
    const level = a.state === 'resolved' ? 'resolved' : (a.severity || 'warning');
    return h('li', { dataset: { rule: a.rule, state: a.state || 'firing' } },
      h('span', { class: 'pill', dataset: { level } }, a.state === 'resolved' ? 'resolved' : (a.severity || 'warning')),
      h('span', {}, a.message || a.rule, h('br'), h('span', { class: 'rule' }, a.rule, a.pool ? ` · ${a.pool}` : '')),
      h('time', { datetime: a.at || '' }, fmtTime(a.at)));
  }
  let firingNow = []; // the alerts firing in the last stats frame
  function renderAlerts(firing) {
    firingNow = firing;
    $('alerts-firing').replaceChildren(...(firing.length ? firing.map(alertItem) : [h('li', { class: 'empty' }, h('span', { class: 'pill', dataset: { level: 'ok' } }, 'ok'), 'Nothing is firing.')]));
    $('alerts-recent').replaceChildren(...(recent.length ? recent.slice(0, 20).map(alertItem) : [h('li', { class: 'empty' }, 'No alert changes since this page opened.')]));
  }
  function addRecent(a) {
    if (a.seq != null) { if (seen.has(a.seq)) return; seen.add(a.seq); }
    recent.unshift(a);
    recent.sort((x, y) => (Date.parse(y.at) || 0) - (Date.parse(x.at) || 0));
    if (recent.length > 50) recent.length = 50;
  }

  function renderRecs(pools) {
    const items = [];
    for (const p of pools) {
      for (const r of p.recommendations || []) items.push(h('li', {}, h('span', { class: 'pool-name' }, p.pool), ' ', r));
      for (const wi of p.what_if || []) {
        const parts = Object.entries(wi.p50_wait_s || {}).map(([g, nt]) => `${genderLabel(g).toLowerCase()} ${shortDur(nt.now)} → ${shortDur(nt.then)}`);
        items.push(h('li', {}, h('span', { class: 'pool-name' }, p.pool), ` What if ${wi.more_per_hour} more ${genderLabel(wi.gender).toLowerCase()} joined each hour: median waits ${parts.join(', ')}.`));
      }
    }
    $('recs').replaceChildren(items.length ? h('ul', { class: 'recs' }, items) : h('p', { class: 'empty' }, 'No recommendations: the pools look healthy.'));
  }

  // ---- liveness ----
  function setLive(state, text) {
    const el = $('live');
    el.dataset.live = state;
    el.textContent = text;
    document.body.dataset.connected = String(connected);
    document.body.dataset.stale = String(state === 'stale' || state === 'offline');
  }
  function tickLive() {
    const notice = $('stale-notice');
    if (!sock) return;
    const age = lastFrameAt ? Date.now() - lastFrameAt : Infinity;
    const since = lastAt ? ` Showing data from ${fmtTime(lastAt)}.` : '';
    if (connected && age <= STALE_MS) {
      setLive('live', 'Live');
      notice.hidden = true;
      $('updated').textContent = `Updated ${fmtTime(lastAt)}`;
    } else if (connected) {
      setLive('stale', 'Stale');
      notice.hidden = false;
      notice.textContent = lastFrameAt
        ? `Stale: no update for ${Math.round(age / 1000)} s although the stream is connected.${since}`
        : 'Connected, waiting for the first update…';
    } else {
      setLive(lastFrameAt ? 'offline' : 'connecting', retryIn ? `Reconnecting in ${retryIn} s…` : 'Connecting…');
      notice.hidden = !lastFrameAt;
      notice.textContent = `Stale: the live stream is down, reconnecting by itself.${since}`;
    }
  }
  setInterval(tickLive, 500);

  // ---- the key and the stream ----
  function showKeybox(message) {
    $('keybox').hidden = false;
    $('main').hidden = true;
    $('key-error').textContent = message || '';
    $('key-input').focus();
  }
  async function probe(k) {
    // What does the REST side say about this key? 401/404 are answers; anything else: let the socket try.
    try {
      const r = await fetch('/api/admin/queue-stats', { headers: k ? { 'X-Admin-Key': k } : {}, cache: 'no-store' });
      return r.status;
    } catch { return 0; }
  }
  function streamURL() {
    return wsURL('/admin/ws') + (key ? `?admin_key=${encodeURIComponent(key)}` : '');
  }
  function start() {
    $('keybox').hidden = true;
    $('main').hidden = false;
    $('forget-key').hidden = !key;
    if (sock) return;
    seedRecent();
    sock = connect(streamURL, {
      onOpen() { connected = true; retryIn = 0; tickLive(); },
      onFrame(f) {
        if (f.type === 'stats') {
          lastFrameAt = Date.now();
          lastAt = f.at;
          render(f);
          tickLive();
        } else if (f.type === 'history') {
          seedTrends(f.points);
          drawCharts();
          $('chart-matches').dataset.seeded = String((f.points || []).length);
        } else if (f.type === 'alert') {
          addRecent(f);
          renderAlerts(firingNow); // the next stats frame carries the new firing set
        }
      },
      async onClose({ everOpened, delay }) {
        connected = false;
        retryIn = Math.max(1, Math.round(delay / 1000));
        const t0 = Date.now();
        const cd = setInterval(() => { retryIn = Math.max(0, Math.round((delay - (Date.now() - t0)) / 1000)); if (!retryIn) clearInterval(cd); }, 500);
        tickLive();
        if (!everOpened && cfg.admin === 'key') {
          const st = await probe(key);
          if (st === 401) {
            sock.stop();
            sock = null;
            sessionStorage.removeItem(KEY);
            key = '';
            showKeybox('That key was not accepted. Check ADMIN_API_KEY and enter it again.');
          }
        }
      },
    });
  }
  async function seedRecent() {
    try {
      const r = await fetch('/api/admin/alerts', { headers: key ? { 'X-Admin-Key': key } : {}, cache: 'no-store' });
      if (!r.ok) return;
      const b = await r.json();
      for (const a of (b.recent || []).slice(0, 50)) addRecent(a);
      renderAlerts(firingNow);
    } catch { /* the stream still shows the changes from now on */ }
  }

  $('key-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const k = $('key-input').value.trim();
    if (!k) { $('key-error').textContent = 'Enter the key.'; return; }
    const st = await probe(k);
    if (st === 401) { $('key-error').textContent = 'That key was not accepted.'; return; }
    key = k;
    sessionStorage.setItem(KEY, k);
    $('key-input').value = '';
    start();
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    key = '';
    if (sock) { sock.stop(); sock = null; }
    connected = false;
    setLive('connecting', 'Signed out');
    showKeybox('');
  });

  // ---- mode ----
  const mode = $('mode-notice');
  if (cfg.admin === 'open') {
    mode.hidden = false;
    mode.append(h('strong', {}, 'Development:'), ' the admin routes are open on this server (no ADMIN_API_KEY configured). Set ADMIN_API_KEY before exposing it.');
    start();
  } else if (cfg.admin === 'off') {
    mode.hidden = false;
    mode.dataset.kind = 'danger';
    mode.append(h('strong', {}, 'Admin routes are off:'), ' this server has no ADMIN_API_KEY configured, so the admin API and stream are not served. Set ADMIN_API_KEY and restart to use the dashboard.');
    setLive('offline', 'Off');
  } else if (key) {
    start();
  } else {
    setLive('connecting', 'Key needed');
    showKeybox('');
  }
})();
