/*
 * Spinmatch page error boundary: an uncaught error or an unhandled promise
 * rejection shows a friendly toast and is reported to POST
 * /api/client-errors as {message, stack, url, user_agent, at}.
 *
 * Loaded before the page's other scripts, so their failures are caught too.
 * Reports are small (every field cut to a bound), carry no query string,
 * fragment or token (JWT-looking strings are masked), and are limited to
 * REPORTS_PER_MINUTE from one page; a report that fails (offline, or a 404
 * from a server without the endpoint) is dropped without a retry.
 */
(() => {
  'use strict';

  const ENDPOINT = '/api/client-errors';
  const REPORTS_PER_MINUTE = 3;
  const TOAST_MS = 7000;
  const LIMITS = { message: 500, stack: 4000, url: 500, user_agent: 300 }; // characters
  const MAX_BODY = 7 * 1024; // bytes; the endpoint takes at most 8 KiB
  const JWT_RE = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

  const sentAt = []; // timestamps of the reports of the last minute

  function clip(value, max) {
    const s = String(value == null ? '' : value).replace(JWT_RE, '[token]');
    return s.length > max ? `${s.slice(0, max - 1)}…` : s;
  }

  function describe(value) {
    if (value instanceof Error) return { message: `${value.name}: ${value.message}`, stack: value.stack || '' };
    try { return { message: `Unhandled rejection: ${typeof value === 'string' ? value : JSON.stringify(value)}`, stack: '' }; } catch { return { message: 'Unhandled rejection', stack: '' }; }
  }

  /** Sends one report unless the page has used up its share; never throws. */
  function report(message, stack) {
    const now = Date.now();
    while (sentAt.length && now - sentAt[0] > 60000) sentAt.shift();
    if (sentAt.length >= REPORTS_PER_MINUTE) return;
    sentAt.push(now);
    const encode = (shrink) => JSON.stringify({
      message: clip(message, LIMITS.message / shrink),
      stack: clip(stack, LIMITS.stack / shrink),
      url: clip(location.origin + location.pathname, LIMITS.url), // never the query or fragment
      user_agent: clip(navigator.userAgent, LIMITS.user_agent),
      at: new Date().toISOString(),
    });
    let body = encode(1);
    if (new TextEncoder().encode(body).length > MAX_BODY) body = encode(4); // wide characters: the server takes 8 KiB
    try {
      fetch(ENDPOINT, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
        keepalive: true,
        credentials: 'omit',
        cache: 'no-store',
      }).catch(() => { /* offline: nothing to do */ });
    } catch { /* fetch unavailable */ }
  }

  /** The friendly toast; one at a time. */
  function showToast() {
    const stack = document.getElementById('toasts');
    if (!stack || stack.querySelector('[data-source="boundary"]')) return;
    const el = document.createElement('div');
    el.className = 'toast toast-error';
    el.dataset.testid = 'toast';
    el.dataset.kind = 'error';
    el.dataset.source = 'boundary';
    const title = document.createElement('p');
    title.className = 'toast-title';
    title.textContent = 'Something went wrong on this page';
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'toast-close';
    close.setAttribute('aria-label', 'Dismiss notification');
    close.textContent = '×';
    const text = document.createElement('p');
    text.className = 'toast-message';
    text.textContent = "It has been reported. You can carry on; if something looks stuck, reload the page.";
    el.append(title, close, text);
    const remove = () => { clearTimeout(el.timer); el.remove(); };
    close.addEventListener('click', remove);
    el.timer = setTimeout(remove, TOAST_MS);
    stack.append(el);
  }

  function onFailure(message, stack) {
    try {
      report(message, stack);
      showToast();
    } catch { /* the boundary itself must never throw */ }
  }

  window.addEventListener('error', (event) => {
    // Resource load failures do not reach window's bubble-phase listener;
    // this is a script error.
    const err = event.error;
    const d = err instanceof Error ? describe(err) : { message: event.message || 'Script error', stack: '' };
    if (!d.stack && event.filename) d.stack = `at ${event.filename}:${event.lineno}:${event.colno}`;
    onFailure(d.message, d.stack);
  });

  window.addEventListener('unhandledrejection', (event) => {
    const d = describe(event.reason);
    onFailure(d.message, d.stack);
  });
})();
