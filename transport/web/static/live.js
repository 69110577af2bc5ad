/*
 * Shared by the status page and the operators' dashboard: a WebSocket that
 * reconnects by itself with capped, jittered backoff, and small DOM and
 * formatting helpers. Exposes window.SpinLive.
 */
'use strict';

(() => {
  /** Creates an element: h('td', {class: 'num', dataset: {g: 'male'}}, 'text', child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style') Object.assign(el.style, v); // CSSOM: allowed by the CSP, a style attribute is not
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const GENDERS = ['female', 'male', 'nonbinary'];
  const LABELS = { female: 'Women', male: 'Men', nonbinary: 'Non-binary' };
  const genderLabel = (g) => LABELS[g] || g;

  /** The genders of a {gender: n} map in a stable order: the known ones first. */
  function genders(...maps) {
    const seen = new Set();
    for (const m of maps) for (const g of Object.keys(m || {})) seen.add(g);
    return [...GENDERS.filter((g) => seen.has(g)), ...[...seen].filter((g) => !GENDERS.includes(g)).sort()];
  }

  /** A wait in seconds for people: "under a minute", "about 4 min", "about 1 h 10 min". */
  function humanWait(s) {
    if (s == null || !isFinite(s)) return '—';
    if (s < 60) return 'under a minute';
    const m = Math.round(s / 60);
    if (m < 60) return `about ${m} min`;
    const hh = Math.floor(m / 60), mm = m % 60;
    return mm ? `about ${hh} h ${mm} min` : `about ${hh} h`;
  }

  /** A duration in seconds for operators: "42 s", "3.5 min", "1.2 h". */
  function shortDur(s) {
    if (s == null || !isFinite(s)) return '—';
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${(s / 60).toFixed(1)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  function sum(m) { return Object.values(m || {}).reduce((a, b) => a + (Number(b) || 0), 0); }

  /**
   * Opens url (a function, so a changed key is picked up) and keeps it open:
   * after a close it waits 0.5 s, doubling to at most 15 s (with jitter),
   * and starts again at 0.5 s once a socket has stayed up for 10 s.
   * Handlers: onOpen(), onFrame(obj), onClose({everOpened, delay}).
   */
  function connect(url, handlers) {
    let ws = null, delay = 500, timer = 0, stopped = false, openedAt = 0;
    function open() {
      timer = 0;
      if (stopped) return;
      const sock = new WebSocket(url());
      ws = sock;
      let opened = false;
      sock.onopen = () => { opened = true; openedAt = Date.now(); handlers.onOpen && handlers.onOpen(); };
      sock.onmessage = (ev) => {
        let f;
        try { f = JSON.parse(ev.data); } catch { return; }
        handlers.onFrame(f);
      };
      sock.onclose = () => {
        if (ws !== sock) return;
        ws = null;
        if (opened && Date.now() - openedAt > 10000) delay = 500;
        const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
        delay = Math.min(delay * 2, 15000);
        if (!stopped) timer = setTimeout(open, wait);
        handlers.onClose && handlers.onClose({ everOpened: opened, delay: wait });
      };
    }
    open();
    return {
      /** Reconnects now (the next attempt's backoff starts over). */
      retry() { delay = 500; if (timer) { clearTimeout(timer); timer = 0; } if (ws) ws.close(); else open(); },
      stop() { stopped = true; clearTimeout(timer); if (ws) ws.close(); },
    };
  }

  function wsURL(path) {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
  }

  window.SpinLive = { h, genders, genderLabel, humanWait, shortDur, sum, connect, wsURL };
})();
