/*
 * The public queue status page (/status): renders the /api/queue/status body
 * that GET /status/ws streams (on change, at most once a second). Hooks for
 * tests: body[data-connected], [data-testid=status-live][data-live],
 * [data-testid=status-pool][data-pool] with [data-testid=status-waiting]
 * and [data-testid=status-eta] cells carrying data-gender.
 */
'use strict';

(() => {
  const { h, genders, genderLabel, humanWait, sum, connect, wsURL } = window.SpinLive;
  const live = document.getElementById('live');
  const poolsEl = document.getElementById('pools');
  const unavailable = document.getElementById('unavailable');

  function setLive(state, text) {
    live.dataset.live = state;
    live.textContent = text;
    document.body.dataset.connected = String(state === 'live');
  }

  function poolCard(p) {
    const total = sum(p.waiting);
    const gs = genders(p.waiting, p.eta_s);
    const bar = h('div', { class: 'mixbar', role: 'img', 'aria-label': gs.map((g) => `${genderLabel(g)}: ${p.waiting[g] || 0}`).join(', ') },
      gs.map((g) => h('span', { dataset: { gender: g }, style: { width: `${total ? (100 * (p.waiting[g] || 0)) / total : 0}%` } })));
    const rows = gs.map((g) => h('tr', { dataset: { gender: g } },
      h('td', {}, h('span', { class: 'g-dot' }), genderLabel(g)),
      h('td', { class: 'num', dataset: { testid: 'status-waiting', gender: g } }, String(p.waiting[g] || 0)),
      h('td', { class: 'num', dataset: { testid: 'status-eta', gender: g } }, humanWait(p.eta_s[g]))));
    return h('article', { class: 'panel', dataset: { testid: 'status-pool', pool: p.pool } },
      h('h2', {}, h('span', { class: 'pool-name' }, p.pool), h('span', { class: 'status-total', dataset: { testid: 'status-total' } }, String(total), h('small', {}, 'waiting'))),
      bar,
      h('table', { class: 'rows' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Who'), h('th', { class: 'num' }, 'Waiting'), h('th', { class: 'num' }, 'Typical wait'))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: '3', class: 'empty' }, 'Nobody is waiting right now.')))));
  }

  function render(body) {
    const pools = (body.pools || []).slice().sort((a, b) => sum(b.waiting) - sum(a.waiting) || a.pool.localeCompare(b.pool));
    poolsEl.replaceChildren(...(pools.length ? pools.map(poolCard) : [h('p', { class: 'empty' }, 'No pools are active right now. Be the first to spin!')]));
    const un = body.unavailable || [];
    unavailable.hidden = un.length === 0;
    unavailable.textContent = un.length ? `Some pools did not answer in time and are not shown: ${un.join(', ')}.` : '';
  }

  // Fetch once so the page is useful at once, then follow the stream.
  fetch('/api/queue/status', { headers: { Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : null)).then((b) => { if (b && poolsEl.querySelector('#pools-empty')) render(b); })
    .catch(() => {});

  connect(() => wsURL('/status/ws'), {
    onOpen() { setLive('live', 'Live'); },
    onFrame(f) { if (f && Array.isArray(f.pools)) { render(f); setLive('live', 'Live'); } },
    onClose({ delay }) { setLive('offline', `Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`); },
  });
})();
