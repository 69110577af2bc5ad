/*
 * Spinmatch user page: onboarding, the user socket, the views, toasts.
 *
 * One module-level `app` object holds all state; only the functions in this
 * file change it. The server is the source of truth: every (re)connect gets a
 * `state` message and the page renders from it, so a reload resumes.
 *
 * Views (document.body.dataset.state): signin, signin-elsewhere, onboarding,
 * connecting, idle, queued, matched, result.
 *
 * Sign-in (signin.js): in development the onboarding form signs in through
 * POST /api/dev/token; in production the token comes from Supabase Auth or
 * a hand-over, and the form reads and writes the profile with GET/PUT
 * /api/me. A token the server calls expired (socket `token_expired`, close
 * 4001, REST 401) is renewed when the mode can, and sent on the socket as
 * `auth`; otherwise the sign-in-again modal asks the user to sign in.
 *
 * Storage: sessionStorage holds this tab's identity ({user_id, token,
 * profile}) so two tabs can be two users; localStorage only remembers the
 * last profile to prefill the form (and, in Supabase mode, supabase-js
 * keeps its session there).
 */
(() => {
  'use strict';

  // ---- constants ----

  const KEY_SESSION = 'spinmatch.session';   // sessionStorage
  const KEY_MATCHES = 'spinmatch.matches';   // sessionStorage: per-match {seenAt, vote}
  const KEY_QUEUED = 'spinmatch.queuedSince'; // sessionStorage
  const KEY_PROFILE = 'spinmatch.profile';   // localStorage: form prefill only

  const RECONNECT_MIN_MS = 250;
  const RECONNECT_BASE_MS = 500;
  const RECONNECT_MAX_MS = 15000;
  const TOAST_MS = 7000;
  const MAX_TOASTS = 4;
  const MAX_PENDING = 256;
  const POOL_RE = /^[a-z0-9_-]{1,32}$/;
  const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  const SIGNAL_RETRIES = 5;
  const SignIn = window.SpinmatchSignIn;
  const DEV = SignIn.mode === 'development';
  const GENDERS = ['female', 'male', 'nonbinary'];

  const GENDER_WORDS = {
    female: { one: 'woman', many: 'women', label: 'Woman' },
    male: { one: 'man', many: 'men', label: 'Man' },
    nonbinary: { one: 'nonbinary person', many: 'nonbinary people', label: 'Nonbinary' },
  };

  const CONFIDENCE = {
    low: { text: 'Rough estimate', title: 'Based on little history so far' },
    medium: { text: 'Fair estimate', title: 'Based on recent matches in this pool' },
    high: { text: 'Reliable estimate', title: 'Based on plenty of recent matches in this pool' },
  };

  const ERROR_TITLES = {
    unauthorized: 'Please sign in again',
    token_expired: 'Your sign-in has expired',
    forbidden: "That isn't allowed",
    not_found: 'Not found',
    bad_request: 'Something was off',
    invalid_message: 'Something was off',
    profile_incomplete: 'Finish your profile',
    busy: 'Not right now',
    already_queued: "You're already in the queue",
    not_queued: "You're not in the queue",
    match_not_found: 'That date has ended',
    vote_closed: 'Voting has closed',
    rate_limited: 'Slow down a little',
    message_too_large: 'That was too long',
    unavailable: 'Spinmatch is busy',
    internal: 'Something went wrong',
    network: "Can't reach Spinmatch",
    offline: "You're offline",
  };

  // ---- state (single owner: this file) ----

  const app = {
    session: null,          // {user_id, token, profile}
    socket: null,           // the live WebSocket, or null
    nextId: 1,              // id of the next client message
    pending: new Map(),     // message id -> {type, fields, tries}, until its reply arrives
    renewing: null,         // Promise of the token renewal under way
    socketToken: '',        // the token the open socket carries (opened with, or last sent as auth)
    reconnectAttempt: 0,
    reconnectTimer: 0,
    view: '',
    queue: null,            // last `queue` object while queued
    eta: null,              // last `eta` object while queued
    queuedSince: 0,         // local ms timestamp
    match: null,            // current match_found payload
    matchSeenAt: 0,         // local ms when this tab first saw the match
    vote: '',               // recorded choice for the current match
    votePending: '',        // choice sent, not yet recorded
    voteClosed: false,
    chat: null,             // PeerChat of the current match
    strayedSignals: [],     // signals that arrived before their match
    skewMs: 0,              // server clock minus local clock
    spinBlockedUntil: 0,    // local ms; set by rate limiting
    spinBusy: false,
    poolStatsAt: 0,
  };

  // ---- DOM helpers ----

  const $ = (id) => document.getElementById(id);
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const form = $('onboarding-form');

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  /** Speaks a short status change to screen readers. */
  function announce(text) {
    const el = $('announcer');
    el.textContent = '';
    setTimeout(() => { el.textContent = text; }, 50);
  }

  function hueOf(s) {
    let h = 0;
    for (const ch of String(s)) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }

  function paintAvatar(el, name, seed) {
    const initial = [...String(name || '?').trim()][0] || '?';
    setText(el, initial.toUpperCase());
    el.style.setProperty('--hue', String(hueOf(seed || name)));
  }

  // ---- storage ----

  function readJSON(store, key) {
    try { return JSON.parse(store.getItem(key) || 'null'); } catch { return null; }
  }

  function writeJSON(store, key, value) {
    try {
      if (value == null) store.removeItem(key); else store.setItem(key, JSON.stringify(value));
    } catch { /* storage full or disabled: the page still works for this visit */ }
  }

  function saveSession(session) {
    app.session = session;
    writeJSON(sessionStorage, KEY_SESSION, session);
  }

  /** Per-match memory that survives a reload: when we first saw it, how we voted. */
  function matchMemory(matchId) {
    const all = readJSON(sessionStorage, KEY_MATCHES) || {};
    return all[matchId] || null;
  }

  function rememberMatch(matchId, patch) {
    const all = readJSON(sessionStorage, KEY_MATCHES) || {};
    for (const id of Object.keys(all)) if (id !== matchId) delete all[id]; // keep only the current one
    all[matchId] = { ...(all[matchId] || {}), ...patch };
    writeJSON(sessionStorage, KEY_MATCHES, all);
  }

  // ---- time ----

  function serverNow() { return Date.now() + app.skewMs; }

  /** Learns the server clock from an HTTP Date header (1 s resolution). */
  function noteServerDate(res) {
    const d = Date.parse(res.headers.get('Date') || '');
    if (Number.isNaN(d)) return;
    const skew = d + 500 - Date.now();
    app.skewMs = Math.abs(skew) > 1500 ? skew : 0;
  }

  /** "2:05" from milliseconds. */
  function clock(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  /** "about 40 s", "about 3 min": the typical (p50) wait. */
  function formatAbout(seconds) {
    const s = Number(seconds);
    if (!Number.isFinite(s) || s < 0) return 'unknown';
    if (s < 10) return 'a few seconds';
    if (s < 58) return `about ${Math.round(s / 5) * 5} s`;
    if (s < 3570) return `about ${Math.max(1, Math.round(s / 60))} min`;
    const h = Math.round(s / 360) / 10;
    return `about ${h} h`;
  }

  /** "usually under 2 min": the p90 wait, rounded up. */
  function formatUnder(seconds) {
    const s = Number(seconds);
    if (!Number.isFinite(s) || s < 0) return '';
    if (s <= 50) return `usually under ${Math.max(10, Math.ceil(s / 10) * 10)} s`;
    if (s < 3600) return `usually under ${Math.max(1, Math.ceil(s / 60))} min`;
    return `usually under ${Math.ceil(s / 3600)} h`;
  }

  // ---- views ----

  /** Shows one view, records it on <body> for tests, and moves focus to its heading. */
  function showView(name) {
    const changed = app.view !== name;
    app.view = name;
    document.body.dataset.state = name;
    for (const el of document.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== name;
    renderAccount();
    if (!changed) return;
    const heading = document.querySelector(`[data-view="${name}"] [tabindex="-1"]`);
    if (heading && !(name === 'onboarding' && !app.session)) heading.focus({ preventScroll: true });
    if (name === 'idle') refreshPoolPulse();
  }

  function renderAccount() {
    const s = app.session;
    const show = Boolean(s && s.profile) && app.view !== 'onboarding';
    $('account').hidden = !show;
    if (!show) return;
    setText($('me-name'), s.profile.display_name);
    setText($('me-pool'), s.profile.pool);
    paintAvatar($('me-avatar'), s.profile.display_name, s.user_id);
    $('change-profile').hidden = app.view === 'matched'; // the profile is locked during a date
    $('sign-out').hidden = DEV || app.view === 'matched';
  }

  // ---- toasts ----

  /** Shows a toast: {title, message, help_url, kind: 'error'|'info'}; never a blocking dialog. */
  function toast({ title, message, help_url: helpUrl, kind = 'error' }) {
    const stack = $('toasts');
    for (const old of stack.children) {
      if (old.dataset.key === `${title}|${message}`) { restartToastTimer(old); return; }
    }
    while (stack.children.length >= MAX_TOASTS) stack.firstElementChild.remove();

    const el = document.createElement('div');
    el.className = `toast toast-${kind}`;
    el.dataset.testid = 'toast';
    el.dataset.kind = kind;
    el.dataset.key = `${title}|${message}`;

    const heading = document.createElement('p');
    heading.className = 'toast-title';
    heading.textContent = title;
    el.append(heading);

    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'toast-close';
    close.setAttribute('aria-label', 'Dismiss notification');
    close.textContent = '×';
    close.addEventListener('click', () => dismissToast(el));
    el.append(close);

    if (message) {
      const body = document.createElement('p');
      body.className = 'toast-message';
      body.textContent = message;
      el.append(body);
    }
    if (helpUrl && /^(https?:\/\/|\/)/.test(helpUrl)) {
      const link = document.createElement('a');
      link.className = 'toast-link';
      link.href = helpUrl;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      link.textContent = 'Learn more';
      link.dataset.testid = 'toast-learn-more';
      el.append(link);
    }

    // Pause auto-dismiss while the pointer or keyboard focus is on the toast.
    el.addEventListener('mouseenter', () => clearTimeout(el.timer));
    el.addEventListener('mouseleave', () => restartToastTimer(el));
    el.addEventListener('focusin', () => clearTimeout(el.timer));
    el.addEventListener('focusout', () => restartToastTimer(el));
    stack.append(el);
    restartToastTimer(el);
  }

  function restartToastTimer(el) {
    clearTimeout(el.timer);
    el.timer = setTimeout(() => dismissToast(el), TOAST_MS);
  }

  function dismissToast(el) {
    clearTimeout(el.timer);
    el.classList.add('leaving');
    setTimeout(() => el.remove(), 200);
  }

  /** Toasts a protocol or HTTP error object {code, message, help_url, retry_after_s}. */
  function toastError(err) {
    let message = err.message || 'Please try again in a moment.';
    if (err.retry_after_s > 0) message += ` Try again in ${Math.ceil(err.retry_after_s)} s.`;
    toast({ title: ERROR_TITLES[err.code] || 'Something went wrong', message, help_url: err.help_url });
  }

  // ---- HTTP ----

  /** An HTTP failure carrying the server's {code, message, help_url}. */
  class ApiError extends Error {
    constructor(status, info) {
      super(info.message);
      this.status = status;
      this.code = info.code;
      this.help_url = info.help_url;
      this.retry_after_s = info.retry_after_s;
    }
  }

  const STATUS_CODES = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'busy', 429: 'rate_limited', 503: 'unavailable' };

  /** Calls the JSON API; throws ApiError (status 0 when the network failed). */
  async function api(method, path, body, { auth = true } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && app.session) headers.Authorization = `Bearer ${app.session.token}`;
    let res;
    try {
      res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, { code: 'network', message: "We couldn't reach Spinmatch. Check your connection and try again." });
    }
    noteServerDate(res);
    let data = null;
    try { data = await res.json(); } catch { /* empty or not JSON */ }
    if (!res.ok) {
      const e = (data && data.error) || {};
      throw new ApiError(res.status, {
        code: e.code || STATUS_CODES[res.status] || 'internal',
        message: e.message || 'Something went wrong on our side. Please try again.',
        help_url: e.help_url,
        retry_after_s: Number(res.headers.get('Retry-After')) || undefined,
      });
    }
    return data;
  }

  // ---- onboarding ----

  /** Fills the form with a profile; null empties it (pool back to "global"). */
  function fillForm(p) {
    const els = form.elements;
    els.display_name.value = (p && p.display_name) || '';
    for (const el of els.gender) el.checked = Boolean(p) && el.value === p.gender;
    for (const el of els.seeking) el.checked = Boolean(p) && Array.isArray(p.seeking) && p.seeking.includes(el.value);
    els.pool.value = (p && p.pool) || 'global';
    for (const el of form.querySelectorAll('[aria-invalid]')) el.setAttribute('aria-invalid', 'false');
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  }

  /**
   * Prepares the form: this tab's own profile when editing; otherwise an empty
   * form plus a one-click offer of the last profile saved in this browser.
   * (Filling a new tab's fields silently would mix two users' answers when a
   * second person, or a test, types into it.)
   */
  function prefillForm() {
    const own = app.session && app.session.profile;
    const last = own ? null : readJSON(localStorage, KEY_PROFILE);
    fillForm(own || null);
    $('welcome-back').hidden = !(last && last.display_name);
    if (last && last.display_name) setText($('last-profile-name'), last.display_name);
  }

  function useLastProfile() {
    fillForm(readJSON(localStorage, KEY_PROFILE));
    $('welcome-back').hidden = true;
    $('onboard-submit').focus();
  }

  function setFieldError(input, errorId, message) {
    setText($(errorId), message);
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
  }

  /** Reads and validates the form; returns the profile or null (errors shown). */
  function readForm() {
    const els = form.elements;
    const name = els.display_name.value.trim();
    const gender = [...els.gender].find((el) => el.checked)?.value || '';
    const seeking = [...els.seeking].filter((el) => el.checked).map((el) => el.value);
    const pool = els.pool.value.trim().toLowerCase() || 'global';

    const nameLen = [...name].length;
    const errors = [
      [els.display_name, 'display-name-error', nameLen === 0 ? 'Please pick a name.' : nameLen > 40 ? 'Keep it to 40 characters or fewer.' : ''],
      [els.gender[0].closest('fieldset'), 'gender-error', gender ? '' : 'Please choose one.'],
      [els.seeking[0].closest('fieldset'), 'seeking-error', seeking.length ? '' : 'Pick at least one.'],
      [els.pool, 'pool-error', POOL_RE.test(pool) ? '' : 'Use 1 to 32 lowercase letters, digits, dashes or underscores, with no spaces.'],
    ];
    let first = null;
    for (const [el, id, msg] of errors) {
      setFieldError(el, id, msg);
      if (msg && !first) first = el;
    }
    if (first) {
      (first.matches('fieldset') ? first.querySelector('input') : first).focus();
      return null;
    }
    return { display_name: name, gender, seeking, pool };
  }

  async function submitOnboarding(event) {
    event.preventDefault();
    const profile = readForm();
    if (!profile) return;
    const button = $('onboard-submit');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      if (DEV) {
        const body = { ...profile };
        if (app.session && app.session.user_id) body.user_id = app.session.user_id;
        const res = await api('POST', '/api/dev/token', body, { auth: false });
        saveSession({ user_id: res.user_id, token: res.token, profile });
      } else {
        const saved = await authedApi('PUT', '/api/me', profile);
        if (!saved) return;
        saveSession({ ...app.session, profile: { ...profile, ...pickProfile(saved) } });
      }
      writeJSON(localStorage, KEY_PROFILE, profile);
      startConnecting();
    } catch (err) {
      toastError(err);
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  function openOnboarding() {
    if (app.view === 'matched') return;
    if (app.view === 'queued') send('cancel');
    disconnect();
    prefillForm();
    const editing = Boolean(app.session && app.session.profile);
    $('editing-note').hidden = !editing || !DEV;
    $('onboard-back').hidden = !editing;
    if (editing) setText($('editing-name'), app.session.profile.display_name);
    setText($('onboard-submit'), editing ? 'Save and continue' : 'Start spinning');
    showView('onboarding');
    form.elements.display_name.focus();
  }

  function startFresh() {
    saveSession(null);
    writeJSON(sessionStorage, KEY_MATCHES, null);
    openOnboarding();
  }

  // ---- sign-in (production) ----

  function pickProfile(p) {
    const out = {};
    for (const k of ['display_name', 'gender', 'seeking', 'pool']) if (p && p[k] !== undefined) out[k] = p[k];
    return out;
  }

  /** Shows the way to sign in that this mode has. */
  function openSignIn() {
    disconnect();
    if (SignIn.mode === 'supabase') {
      $('signin-sent').hidden = true;
      showView('signin');
      $('signin-email').focus();
    } else {
      const link = $('elsewhere-link');
      link.hidden = !SignIn.signInURL;
      if (SignIn.signInURL) link.href = SignIn.signInURL;
      showView('signin-elsewhere');
    }
  }

  /** A sign-in arrived: keep its token, then load (or ask for) the profile. */
  async function signedIn(s) {
    hideSignInAgain();
    const same = app.session && app.session.user_id === s.user_id;
    saveSession({ user_id: s.user_id, token: s.token, profile: same ? app.session.profile : null });
    SignIn.noteToken(s.token);
    showView('connecting');
    await loadProfile();
  }

  /** GET /api/me: a profile connects, none opens the form; retries while the server is unreachable. */
  async function loadProfile(attempt = 0) {
    try {
      const profile = await authedApi('GET', '/api/me');
      if (!profile) return; // the sign-in-again modal is up
      saveSession({ ...app.session, profile: pickProfile(profile) });
      writeJSON(localStorage, KEY_PROFILE, app.session.profile);
      hideBanner();
      startConnecting();
    } catch (err) {
      if (err.code === 'profile_incomplete' || err.status === 404) {
        hideBanner();
        app.session.profile = null;
        openOnboarding();
        return;
      }
      if (err.status === 0 || err.status >= 500 || err.status === 429) {
        showBanner("Can't reach Spinmatch. Retrying…");
        const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
        app.reconnectTimer = setTimeout(() => loadProfile(attempt + 1), delay);
        return;
      }
      toastError(err);
    }
  }

  async function submitSignIn(event) {
    event.preventDefault();
    const email = $('signin-email').value.trim();
    const password = $('signin-password').value;
    if (!checkEmail(email)) return;
    if (!password) { await sendMagicLink(); return; }
    const button = $('signin-submit');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const s = await SignIn.signInWithPassword(email, password);
      $('signin-password').value = '';
      await signedIn(s);
    } catch (err) {
      setFieldError($('signin-password'), 'signin-password-error', err.code === 'unauthorized' ? err.message : '');
      if (err.code !== 'unauthorized') toast({ title: ERROR_TITLES[err.code] || ERROR_TITLES.network, message: err.message });
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  function checkEmail(email) {
    const bad = !EMAIL_RE.test(email);
    setFieldError($('signin-email'), 'signin-email-error', bad ? 'Please enter your email address.' : '');
    setFieldError($('signin-password'), 'signin-password-error', '');
    if (bad) $('signin-email').focus();
    return !bad;
  }

  async function sendMagicLink() {
    const email = $('signin-email').value.trim();
    if (!checkEmail(email)) return;
    const button = $('signin-magic');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await SignIn.sendMagicLink(email);
      setText($('signin-sent-to'), email);
      $('signin-sent').hidden = false;
      announce(`We sent a sign-in link to ${email}.`);
    } catch (err) {
      toast({ title: ERROR_TITLES[err.code] || ERROR_TITLES.network, message: err.message });
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  async function signOut() {
    if (app.view === 'queued') send('cancel');
    disconnect();
    await SignIn.signOut();
    saveSession(null);
    writeJSON(sessionStorage, KEY_MATCHES, null);
    openSignIn();
  }

  /** A token the mode handed over later (supabase-js refreshed it): use it at once. */
  function onNewToken(s) {
    if (!s) return; // signed out in another tab: this one carries on until the server objects
    if (!app.session || app.session.user_id !== s.user_id || app.session.token === s.token) return;
    saveSession({ ...app.session, token: s.token });
    if (document.body.dataset.signinExpired) {
      // Signed in again in another tab while this one asked to: carry on.
      hideSignInAgain();
      startConnecting();
      return;
    }
    sendAuth();
  }

  /**
   * Gets a token to replace one the server refused: development signs in
   * again, Supabase refreshes the session, a hand-over cannot. Resolves
   * true with app.session.token renewed; false after asking the user to
   * sign in again (or, offline, leaving it to the reconnect).
   */
  function renewToken() {
    if (!app.renewing) {
      app.renewing = (DEV ? reissueToken() : renewProduction()).finally(() => { app.renewing = null; });
    }
    return app.renewing;
  }

  async function renewProduction() {
    const refused = app.session && app.session.token;
    const s = await SignIn.fresh(refused); // may already have reached onNewToken
    if (s && app.session && s.user_id === app.session.user_id && s.token !== refused) {
      saveSession({ ...app.session, token: s.token });
      return true;
    }
    showSignInAgain();
    return false;
  }

  function showSignInAgain() {
    disconnect();
    const link = $('signin-again-link');
    const button = $('signin-again-button');
    const elsewhere = SignIn.mode === 'handoff';
    link.hidden = !(elsewhere && SignIn.signInURL);
    button.hidden = elsewhere && Boolean(SignIn.signInURL);
    if (SignIn.signInURL) link.href = SignIn.signInURL;
    setText(button, elsewhere ? 'OK' : 'Sign in again');
    setText($('signin-again-text'), elsewhere
      ? 'Your sign-in has expired. Sign in again in the Spinmatch app; it brings you back here.'
      : 'Your sign-in has expired. Sign in again to carry on; if you were waiting for a match, your place is kept for a few seconds.');
    $('signin-again').hidden = false;
    document.body.dataset.signinExpired = 'true';
    $('signin-again-title').focus();
  }

  function hideSignInAgain() {
    $('signin-again').hidden = true;
    delete document.body.dataset.signinExpired;
  }

  async function signInAgain() {
    hideSignInAgain();
    if (DEV) { openOnboarding(); return; }
    await SignIn.signOut();
    const profile = app.session && app.session.profile;
    saveSession(null);
    if (profile) writeJSON(localStorage, KEY_PROFILE, profile);
    openSignIn();
  }

  /** api() with the session's token; a 401 renews the token once, else resolves null after the modal. */
  async function authedApi(method, path, body) {
    try {
      return await api(method, path, body);
    } catch (err) {
      if (err.status !== 401) throw err;
      if (!(await renewToken())) return null;
      return api(method, path, body);
    }
  }

  // ---- socket ----

  function startConnecting() {
    app.reconnectAttempt = 0;
    showView('connecting');
    connect();
  }

  function socketURL() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/ws?access_token=${encodeURIComponent(app.session.token)}`;
  }

  /** Opens the user socket; its first message is the server's `state`. */
  function connect() {
    clearTimeout(app.reconnectTimer);
    if (!app.session) { openOnboarding(); return; }
    closeSocket();
    let ws;
    try { ws = new WebSocket(socketURL()); } catch { scheduleReconnect(false); return; }
    app.socketToken = app.session.token;
    let opened = false;
    app.socket = ws;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (event) => {
      if (ws !== app.socket) return;
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      if (msg && typeof msg.type === 'string') handleMessage(msg);
    };
    ws.onclose = (event) => {
      if (ws !== app.socket) return;
      app.socket = null;
      app.pending.clear();
      renderControls();
      if (event.code === 4001) {
        // The token expired and was not replaced in time: renew, then reconnect.
        renewToken().then((ok) => { if (ok) connect(); });
        return;
      }
      // A socket that never opened was probably refused (expired token?).
      scheduleReconnect(!opened);
    };
  }

  function closeSocket() {
    const ws = app.socket;
    app.socket = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(1000, 'bye'); } catch { /* already closing */ }
    }
  }

  /** Stops talking to the server (for the profile form). */
  function disconnect() {
    clearTimeout(app.reconnectTimer);
    closeSocket();
    hideBanner();
  }

  function isOpen() {
    return Boolean(app.socket && app.socket.readyState === WebSocket.OPEN);
  }

  /** Exponential backoff with full jitter, capped; shows the banner meanwhile. */
  function scheduleReconnect(checkAuth) {
    if (!app.session) return;
    clearTimeout(app.reconnectTimer);
    const attempt = app.reconnectAttempt++;
    const cap = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
    const delay = RECONNECT_MIN_MS + Math.random() * cap;
    showBanner(attempt === 0 ? 'Connection lost. Reconnecting…' : `Reconnecting… (attempt ${attempt + 1})`);
    app.reconnectTimer = setTimeout(() => reconnect(checkAuth), delay);
  }

  async function reconnect(checkAuth) {
    if (checkAuth && !(await refreshAuth())) return;
    connect();
  }

  function reconnectNow() {
    if (!app.session || isOpen() || app.view === 'onboarding') return;
    if (app.socket && app.socket.readyState === WebSocket.CONNECTING) return;
    reconnect(true);
  }

  /** Checks the token; when the server no longer accepts it, gets a new one. */
  async function refreshAuth() {
    try {
      await api('GET', '/api/me');
      return true;
    } catch (err) {
      if (err.status !== 401) return true; // network trouble or no /api/me: just retry the socket
      return renewToken();
    }
  }

  /** Development sign-in again with the same user id and profile. */
  async function reissueToken() {
    const s = app.session;
    if (!s || !s.profile) { openOnboarding(); return false; }
    try {
      const res = await api('POST', '/api/dev/token', { ...s.profile, user_id: s.user_id }, { auth: false });
      saveSession({ ...s, user_id: res.user_id, token: res.token });
      return true;
    } catch (err) {
      if (err.status === 0) return true; // offline: the socket retry will back off
      toastError(err);
      openOnboarding();
      return false;
    }
  }

  function showBanner(text) {
    setText($('banner-text'), text);
    $('banner').hidden = false;
    document.body.dataset.connected = 'false';
  }

  function hideBanner() {
    $('banner').hidden = true;
  }

  /** Gives the open socket the session's token, once per token. */
  function sendAuth() {
    if (!isOpen() || !app.session || app.socketToken === app.session.token) return;
    if (send('auth', { access_token: app.session.token })) app.socketToken = app.session.token;
  }

  /** Sends one client message with a fresh id; returns the id, or 0 when offline. */
  function send(type, fields = {}) {
    if (!isOpen()) {
      if (type !== 'signal') toast({ title: ERROR_TITLES.offline, message: "We're reconnecting; try again in a moment.", kind: 'info' });
      return 0;
    }
    const id = app.nextId++;
    app.socket.send(JSON.stringify({ type, id, ...fields }));
    // A signal keeps its body: a rate-limited one is sent again (trickle ICE must not be lost).
    app.pending.set(id, type === 'signal' ? { type, fields, tries: 0 } : { type });
    if (app.pending.size > MAX_PENDING) app.pending.delete(app.pending.keys().next().value);
    return id;
  }

  // ---- server messages ----

  const handlers = {
    state: onState,
    queued: onQueued,
    wait_update: onWaitUpdate,
    match_found: onMatchFound,
    vote_recorded: onVoteRecorded,
    match_result: onMatchResult,
    signal: onSignal,
    cancelled: onCancelled,
    error: onError,
  };

  function handleMessage(msg) {
    let request;
    if (msg.ref != null) {
      request = app.pending.get(msg.ref);
      app.pending.delete(msg.ref);
    }
    const handler = handlers[msg.type];
    if (handler) handler(msg, request && request.type, request);
  }

  /** `state`: sent on connect and in reply to `status`; the page follows it. */
  function onState(msg) {
    app.reconnectAttempt = 0;
    hideBanner();
    document.body.dataset.connected = 'true';
    app.spinBusy = false;
    if (msg.state === 'queued') {
      enterQueued(msg.queue, msg.eta);
    } else if (msg.state === 'matched' && msg.match) {
      enterMatch(msg.match, true);
    } else {
      enterIdleFromState();
    }
    renderControls();
  }

  function enterIdleFromState() {
    if (app.view === 'result') return; // the result stays until the user spins again
    if (app.view === 'matched' && app.match) {
      // The date ended while we were away and we missed its result.
      endMatch();
      showResult('unknown', null);
      return;
    }
    if (app.view === 'queued') {
      toast({ title: 'You left the queue', message: 'We lost you for too long and freed your place. Spin again when ready.', kind: 'info' });
    }
    clearQueued();
    showView('idle');
  }

  function onQueued(msg) {
    app.spinBusy = false;
    if (app.match) return; // a match_found overtook this reply: the match wins
    enterQueued(msg.queue, msg.eta);
    announce(`You're in the queue. Estimated wait ${formatAbout(msg.eta && msg.eta.p50_s)}.`);
  }

  function onWaitUpdate(msg) {
    if (app.view !== 'queued') return;
    if (msg.queue) app.queue = msg.queue;
    if (msg.eta) app.eta = msg.eta;
    renderQueue();
    window.SpinNotify.waitUpdate(msg.eta);
  }

  function onCancelled() {
    clearQueued();
    $('cancel').removeAttribute('aria-busy');
    if (app.view === 'queued') {
      showView('idle');
      announce('You left the queue.');
    }
    renderControls();
  }

  function onMatchFound(msg) {
    const fresh = !app.match || app.match.match_id !== msg.match_id;
    enterMatch(msg, false);
    if (fresh) window.SpinNotify.matchFound(msg.partner && msg.partner.display_name);
  }

  function onVoteRecorded(msg) {
    if (!app.match || msg.match_id !== app.match.match_id) return;
    app.vote = msg.choice;
    app.votePending = '';
    rememberMatch(msg.match_id, { vote: msg.choice });
    renderVote();
    announce(msg.choice === 'yes' ? 'Your yes is saved.' : 'Your vote is saved.');
  }

  function onMatchResult(msg) {
    if (!app.match || msg.match_id !== app.match.match_id) return;
    const partner = app.match.partner;
    endMatch();
    showResult(msg.result === 'mutual' ? 'mutual' : 'no_match', partner);
  }

  function onSignal(msg) {
    if (app.chat && app.match && msg.match_id === app.match.match_id) {
      app.chat.handleSignal(msg.data);
      return;
    }
    // It may precede our own view of the match (reconnect ordering): keep a few.
    app.strayedSignals.push(msg);
    if (app.strayedSignals.length > 32) app.strayedSignals.shift();
  }

  function onError(msg, requestType, request) {
    const quiet = requestType === 'signal' || msg.code === 'already_queued' || msg.code === 'not_queued' ||
      msg.code === 'token_expired' || requestType === 'auth';
    switch (requestType) {
      case 'signal':
        if (msg.code === 'rate_limited') resendSignal(request, msg.retry_after_s);
        break;
      case 'auth':
        if (msg.code === 'unauthorized' || msg.code === 'token_expired' || msg.code === 'forbidden') {
          showSignInAgain();
        } else if (msg.code === 'rate_limited') {
          app.socketToken = '';
          setTimeout(sendAuth, Math.max(0.25, Number(msg.retry_after_s) || 1) * 1000);
        } else {
          connect(); // a server without `auth`: the new token opens a new socket (the place is kept meanwhile)
        }
        return;
      case 'spin':
        app.spinBusy = false;
        if (msg.retry_after_s > 0) app.spinBlockedUntil = Date.now() + msg.retry_after_s * 1000;
        if (msg.code === 'already_queued') send('status');
        break;
      case 'cancel':
        $('cancel').removeAttribute('aria-busy');
        if (msg.code === 'not_queued') send('status');
        break;
      case 'vote':
        app.votePending = '';
        if (msg.code === 'vote_closed' || msg.code === 'match_not_found') app.voteClosed = true;
        renderVote();
        break;
      default:
        break;
    }
    if (msg.code === 'token_expired') {
      // The server waits 30 s for a new token on this socket.
      renewToken().then((ok) => { if (ok) sendAuth(); });
    } else if (msg.code === 'unauthorized') {
      refreshAuth().then((ok) => { if (ok) connect(); });
    } else if (msg.code === 'profile_incomplete') {
      openOnboarding();
    }
    renderControls();
    if (!quiet) toastError(msg);
  }

  /** Sends a rate-limited signal again after the server's retry_after_s, while its match lasts. */
  function resendSignal(request, retryAfterS) {
    if (!request || !request.fields || request.tries >= SIGNAL_RETRIES) return;
    const { match_id: matchId, data } = request.fields;
    const tries = request.tries + 1;
    const delay = Math.max(0.25, Number(retryAfterS) || 1) * 1000;
    setTimeout(() => {
      if (!app.match || app.match.match_id !== matchId || !isOpen()) return;
      const id = app.nextId++;
      app.socket.send(JSON.stringify({ type: 'signal', id, match_id: matchId, data }));
      app.pending.set(id, { type: 'signal', fields: { match_id: matchId, data }, tries });
    }, delay);
  }

  // ---- idle ----

  function spin() {
    if (app.spinBusy || Date.now() < app.spinBlockedUntil) return;
    if (!send('spin')) return;
    window.SpinNotify.onSpin();
    app.spinBusy = true;
    renderControls();
  }

  /** Enables or disables the controls that need the socket. */
  function renderControls() {
    const open = isOpen();
    const blocked = Date.now() < app.spinBlockedUntil;
    for (const button of [$('spin'), $('spin-again')]) {
      button.disabled = !open || app.spinBusy || blocked;
      if (app.spinBusy) button.setAttribute('aria-busy', 'true'); else button.removeAttribute('aria-busy');
    }
    const label = blocked ? `Wait ${Math.ceil((app.spinBlockedUntil - Date.now()) / 1000)} s` : app.spinBusy ? 'Spinning…' : 'Spin';
    setText($('spin-label'), label);
    $('cancel').disabled = !open;
    renderVote();
  }

  /** The live pool headcount under the spin button; quiet on failure. */
  async function refreshPoolPulse() {
    if (!app.session || Date.now() - app.poolStatsAt < 10000) return;
    app.poolStatsAt = Date.now();
    const el = $('pool-pulse');
    const pool = app.session.profile.pool;
    try {
      const data = await api('GET', '/api/queue/status', undefined, { auth: false });
      const entry = (data && Array.isArray(data.pools) ? data.pools : []).find((p) => p.pool === pool);
      const total = entry ? Object.values(entry.waiting || {}).reduce((a, b) => a + (Number(b) || 0), 0) : 0;
      setText(el, total > 0
        ? `${total} ${total === 1 ? 'person is' : 'people are'} spinning in ${pool} right now`
        : `Be the first to spin in ${pool}`);
      el.hidden = false;
    } catch {
      el.hidden = true;
    }
  }

  // ---- queued ----

  function enterQueued(queue, eta) {
    if (app.view !== 'queued') {
      window.SpinNotify.queued(eta);
      const stored = Number(readJSON(sessionStorage, KEY_QUEUED)) || 0;
      app.queuedSince = stored && Date.now() - stored < 3600e3 ? stored : Date.now();
      writeJSON(sessionStorage, KEY_QUEUED, app.queuedSince);
    }
    app.queue = queue || app.queue;
    app.eta = eta || app.eta;
    renderQueue();
    showView('queued');
  }

  function clearQueued() {
    window.SpinNotify.left();
    app.queue = null;
    app.eta = null;
    writeJSON(sessionStorage, KEY_QUEUED, null);
  }

  function renderQueue() {
    const eta = app.eta || {};
    const queue = app.queue || {};
    setText($('eta-text'), formatAbout(eta.p50_s));
    setText($('eta-p90'), formatUnder(eta.p90_s));
    const conf = CONFIDENCE[eta.confidence];
    const badge = $('eta-confidence');
    setText(badge, conf ? conf.text : '');
    badge.dataset.level = eta.confidence || '';
    badge.title = conf ? conf.title : '';
    setText($('eta-reason'), eta.reason || 'We pair people the moment someone compatible is free.');
    setText($('queue-position'), queue.position ? `#${queue.position}` : '–');
    $('queue-position').setAttribute('aria-label', queue.position === 1 ? 'You are next in line' : `Number ${queue.position || 'unknown'} in line`);
    setText($('queue-pool'), queue.pool || (app.session && app.session.profile.pool) || 'your pool');
    renderWaiting(queue.waiting || {});
    renderElapsed();
  }

  /** The "who is waiting" chips: counts by gender. */
  function renderWaiting(waiting) {
    const list = $('waiting-list');
    const items = [];
    const keys = [...GENDERS, ...Object.keys(waiting).filter((g) => !GENDERS.includes(g))];
    for (const g of keys) {
      const n = Number(waiting[g]) || 0;
      if (n <= 0) continue;
      const words = GENDER_WORDS[g] || { one: g, many: g };
      items.push([n, n === 1 ? words.one : words.many, g]);
    }
    list.replaceChildren(...items.map(([n, word, g]) => {
      const li = document.createElement('li');
      li.dataset.gender = g;
      const strong = document.createElement('strong');
      strong.textContent = String(n);
      li.append(strong, ` ${word}`);
      return li;
    }));
    if (!items.length) {
      const li = document.createElement('li');
      li.textContent = 'Just you so far';
      list.append(li);
    }
  }

  function renderElapsed() {
    if (app.view === 'queued' || app.queue) setText($('queue-elapsed'), clock(Date.now() - app.queuedSince));
  }

  function cancel() {
    if (send('cancel')) $('cancel').setAttribute('aria-busy', 'true');
  }

  // ---- matched ----

  /** Shows a match; idempotent for the match already on screen. */
  function enterMatch(m, resumed) {
    if (!m || !m.match_id) return;
    clearQueued();
    if (app.match && app.match.match_id === m.match_id) {
      app.match = { ...app.match, ...m };
      if (app.view !== 'matched') showView('matched');
      renderMatch();
      return;
    }
    endMatch();
    app.match = m;
    const memory = matchMemory(m.match_id) || {};
    app.vote = memory.vote || '';
    app.votePending = '';
    app.voteClosed = false;
    app.matchSeenAt = memory.seenAt || Date.now();
    rememberMatch(m.match_id, { seenAt: app.matchSeenAt });
    $('chat-log').replaceChildren();
    $('chat-input').value = '';
    renderMatch();
    showView('matched');
    const name = (m.partner && m.partner.display_name) || 'someone';
    announce(`Match found! You're on a date with ${name}.`);
    startChat(resumed);
  }

  function renderMatch() {
    const p = app.match.partner || {};
    setText($('partner-name'), p.display_name || 'Your date');
    setText($('partner-gender'), (GENDER_WORDS[p.gender] || {}).label || '');
    paintAvatar($('partner-avatar'), p.display_name, p.user_id);
    renderTimer();
    renderVote();
  }

  /** The countdown: to date_ends_at, then to vote_deadline. */
  function renderTimer() {
    if (!app.match) return;
    const now = serverNow();
    const ends = Date.parse(app.match.date_ends_at);
    const deadline = Date.parse(app.match.vote_deadline);
    const timer = byTestId('match-timer');
    let phase;
    let label;
    let remaining;
    let fraction;
    if (now < ends) {
      phase = 'date';
      label = 'Date ends in';
      remaining = ends - now;
      fraction = remaining / Math.max(1, ends - Math.min(app.matchSeenAt + app.skewMs, now));
    } else if (now < deadline) {
      phase = 'voting';
      label = 'Voting closes in';
      remaining = deadline - now;
      fraction = remaining / Math.max(1, deadline - ends);
    } else {
      phase = 'closed';
      label = 'Voting closed';
      remaining = 0;
      fraction = 0;
    }
    setText($('timer-label'), label);
    setText($('timer-value'), clock(remaining));
    $('timer-bar').style.transform = `scaleX(${Math.min(1, Math.max(0, fraction)).toFixed(4)})`;
    if (timer.dataset.phase !== phase) {
      timer.dataset.phase = phase;
      onPhaseChange(phase);
    }
  }

  function onPhaseChange(phase) {
    if (phase === 'voting') {
      announce('The date is over. Time to vote.');
      addChatLine('The date is over.', 'system');
    }
    renderChatInput();
    renderVote();
  }

  function matchPhase() {
    return byTestId('match-timer').dataset.phase || 'date';
  }

  /** Vote buttons: usable until vote_deadline, locked once a vote is recorded. */
  function renderVote() {
    if (!app.match) return;
    const closed = app.voteClosed || matchPhase() === 'closed';
    const name = (app.match.partner && app.match.partner.display_name) || 'your date';
    for (const button of document.querySelectorAll('.vote-btn')) {
      const choice = button.dataset.choice;
      button.disabled = Boolean(app.vote || app.votePending) || closed || !isOpen();
      button.setAttribute('aria-pressed', String(app.vote === choice));
      if (app.votePending === choice) button.setAttribute('aria-busy', 'true'); else button.removeAttribute('aria-busy');
    }
    let prompt = 'Would you like to see them again?';
    let note = 'You can vote at any time. Your vote stays private unless it is mutual.';
    if (app.vote) {
      prompt = app.vote === 'yes' ? 'You said yes.' : 'You said no thanks.';
      note = `We'll let you know as soon as ${name} has voted.`;
    } else if (closed) {
      prompt = 'Voting has closed.';
      note = 'Getting the result…';
    } else if (matchPhase() === 'voting') {
      prompt = `Time's up! Would you like to see ${name} again?`;
    }
    setText($('vote-prompt'), prompt);
    setText($('vote-note'), note);
  }

  function castVote(choice) {
    if (!app.match || app.vote || app.votePending) return;
    if (!send('vote', { match_id: app.match.match_id, choice })) return;
    app.votePending = choice;
    renderVote();
  }

  /** Leaves the match: closes the chat and forgets the match. */
  function endMatch() {
    if (app.chat) {
      app.chat.close();
      app.chat = null;
    }
    app.match = null;
    app.vote = '';
    app.votePending = '';
    writeJSON(sessionStorage, KEY_MATCHES, null);
    delete byTestId('match-timer').dataset.phase;
  }

  // ---- chat ----

  function startChat(resumed) {
    const m = app.match;
    const me = app.session.user_id;
    const partnerId = (m.partner && m.partner.user_id) || '';
    const matchId = m.match_id;
    app.chat = new window.PeerChat({
      initiator: me < partnerId, // the lower user_id offers
      resumed,
      sendSignal: (data) => send('signal', { match_id: matchId, data }),
      onStatus: renderChatStatus,
      onMessage: (text) => addChatLine(text, 'partner'),
    });
    app.chat.start();
    const strays = app.strayedSignals.filter((s) => s.match_id === matchId);
    app.strayedSignals = [];
    for (const s of strays) app.chat.handleSignal(s.data);
  }

  const CHAT_STATUS_TEXT = {
    connecting: 'Connecting chat…',
    open: 'Chat connected. Say hi!',
    unavailable: 'Chat unavailable right now. You can still vote.',
    closed: 'Chat closed.',
  };

  function renderChatStatus(status) {
    const el = $('chat-status');
    el.dataset.status = status;
    const name = app.match && app.match.partner ? app.match.partner.display_name : 'your date';
    setText(el, status === 'open' ? `Chat with ${name} is open. Say hi!` : CHAT_STATUS_TEXT[status] || '');
    renderChatInput();
  }

  function renderChatInput() {
    const open = Boolean(app.chat && app.chat.status === 'open') && matchPhase() === 'date';
    $('chat-input').disabled = !open;
    $('chat-send').disabled = !open;
  }

  function addChatLine(text, who) {
    const log = $('chat-log');
    const li = document.createElement('li');
    li.className = `bubble bubble-${who}`;
    li.dataset.testid = `chat-line-${who}`;
    li.textContent = text;
    log.append(li);
    log.scrollTop = log.scrollHeight;
  }

  function sendChat(event) {
    event.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text || !app.chat) return;
    if (app.chat.send(text)) {
      addChatLine(text, 'me');
      input.value = '';
    }
  }

  // ---- result ----

  function showResult(result, partner) {
    const name = (partner && partner.display_name) || 'your date';
    const art = $('result-art');
    art.dataset.result = result;
    if (result === 'mutual') {
      setText($('result-text'), "It's a match!");
      setText($('result-detail'), `You and ${name} both said yes. Enjoy getting to know each other.`);
    } else if (result === 'no_match') {
      setText($('result-text'), 'Not this time');
      setText($('result-detail'), `It wasn't a match with ${name}, and that's completely fine. Spin again whenever you're ready.`);
    } else {
      setText($('result-text'), 'Your date has ended');
      setText($('result-detail'), 'It finished while you were away. Mutual matches are kept for you.');
    }
    showView('result');
    announce($('result-text').textContent);
    renderControls();
  }

  // ---- ticking ----

  /** One timer drives every countdown on the page. */
  function tick() {
    if (app.view === 'queued') renderElapsed();
    if (app.view === 'matched') renderTimer();
    if (app.spinBlockedUntil && (app.view === 'idle' || app.view === 'result')) {
      if (Date.now() >= app.spinBlockedUntil) app.spinBlockedUntil = 0;
      renderControls();
    }
  }

  // ---- wiring ----

  function init() {
    form.addEventListener('submit', submitOnboarding);
    // Editing a field clears its error; the next submit validates again.
    form.addEventListener('input', (event) => {
      const field = event.target.closest('.field');
      const err = field && field.querySelector('.field-error');
      if (!err || !err.textContent) return;
      err.textContent = '';
      (field.matches('fieldset') ? field : event.target).setAttribute('aria-invalid', 'false');
    });
    $('onboard-back').addEventListener('click', () => startConnecting());
    $('start-fresh').addEventListener('click', startFresh);
    $('use-last-profile').addEventListener('click', useLastProfile);
    $('change-profile').addEventListener('click', openOnboarding);
    $('banner-retry').addEventListener('click', () => { app.reconnectAttempt = 0; reconnectNow(); });
    $('spin').addEventListener('click', spin);
    $('spin-again').addEventListener('click', spin);
    $('cancel').addEventListener('click', cancel);
    for (const button of document.querySelectorAll('.vote-btn')) {
      button.addEventListener('click', () => castVote(button.dataset.choice));
    }
    $('chat-form').addEventListener('submit', sendChat);
    $('signin-form').addEventListener('submit', submitSignIn);
    $('signin-magic').addEventListener('click', sendMagicLink);
    $('sign-out').addEventListener('click', signOut);
    $('signin-again-button').addEventListener('click', signInAgain);
    window.SpinNotify.init({ toast });

    window.addEventListener('online', reconnectNow);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      if (isOpen()) send('status'); else reconnectNow();
    });
    setInterval(tick, 250);

    app.session = readJSON(sessionStorage, KEY_SESSION);
    if (DEV) {
      if (app.session && app.session.token && app.session.profile) {
        startConnecting();
      } else {
        app.session = null;
        openOnboarding();
      }
      return;
    }
    showView('connecting');
    SignIn.start(onNewToken).then((s) => {
      if (s) { signedIn(s); return; }
      saveSession(null);
      openSignIn();
    }, (err) => {
      saveSession(null);
      openSignIn();
      toast({ title: ERROR_TITLES[err.code] || ERROR_TITLES.unauthorized, message: err.message });
    });
  }

  init();
})();
