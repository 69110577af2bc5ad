/*
 * Spinmatch sign-in: where the page's user token comes from.
 *
 * The node writes the page's configuration into index.html
 * (#spinmatch-config, also GET /api/config). Three modes follow from it:
 *
 *   development  POST /api/dev/token (app.js does it; nothing here).
 *   supabase     production with supabase_anon_key: email + password or a
 *                magic link through Supabase Auth, with the vendored
 *                supabase-js (loaded only in this mode). supabase-js keeps
 *                the session in localStorage and refreshes it before it
 *                expires; every new token is passed to the onToken callback.
 *   handoff      production without the anon key: a token handed over in the
 *                URL fragment (/#access_token=...&expires_in=..., as Supabase
 *                redirects do), kept in sessionStorage; it cannot be
 *                refreshed, so an expired one means signing in again in the
 *                main app (config.signin_url, when set).
 *
 * Whatever the mode, a token in the URL fragment is taken out of the
 * address bar (history.replaceState) as soon as this script runs.
 *
 * Exposes window.SpinmatchSignIn; app.js is its only user.
 */
(() => {
  'use strict';

  const KEY_HANDOFF = 'spinmatch.handoff'; // sessionStorage: {token, user_id, expires_at}
  const EXPIRY_MARGIN_MS = 5000;

  function readConfig() {
    const el = document.getElementById('spinmatch-config');
    let c = null;
    try { c = JSON.parse((el && el.textContent) || 'null'); } catch { c = null; }
    return c && typeof c === 'object' ? c : { mode: 'production' };
  }

  const config = readConfig();
  const mode = config.mode === 'development' ? 'development'
    : config.supabase_url && config.supabase_anon_key ? 'supabase' : 'handoff';

  /** The claims of a JWT, unverified (the server verifies); null when malformed. */
  function claimsOf(token) {
    try {
      const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = decodeURIComponent([...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
      const c = JSON.parse(json);
      return c && typeof c === 'object' ? c : null;
    } catch {
      return null;
    }
  }

  /** Takes sign-in parameters out of the URL fragment and the address bar. */
  function takeFragment() {
    const hash = location.hash.startsWith('#') ? location.hash.slice(1) : '';
    if (!/(^|&)(access_token|error|error_description)=/.test(hash)) return null;
    const p = new URLSearchParams(hash);
    history.replaceState(history.state, '', location.pathname + location.search);
    if (p.get('error') || p.get('error_description')) {
      return { error: p.get('error_code') || p.get('error') || 'sign_in_failed' };
    }
    return {
      access_token: p.get('access_token') || '',
      refresh_token: p.get('refresh_token') || '',
      expires_in: Number(p.get('expires_in')) || 0,
      expires_at: Number(p.get('expires_at')) || 0,
    };
  }

  const KEY_HANDED = 'spinmatch.handed'; // sessionStorage: a fragment taken just before a reload

  function takeStashed() {
    let f = null;
    try {
      f = JSON.parse(sessionStorage.getItem(KEY_HANDED) || 'null');
      sessionStorage.removeItem(KEY_HANDED);
    } catch { f = null; }
    return f && typeof f === 'object' ? f : null;
  }

  const handed = takeFragment() || takeStashed(); // at once: the token must not linger in the address bar

  // A token handed over to an already open page (a same-document navigation):
  // take it out of the address bar at once, then start over with it.
  window.addEventListener('hashchange', () => {
    const f = takeFragment();
    if (!f) return;
    try { sessionStorage.setItem(KEY_HANDED, JSON.stringify(f)); } catch { return; }
    location.reload();
  });

  function readHandoff() {
    let s = null;
    try { s = JSON.parse(sessionStorage.getItem(KEY_HANDOFF) || 'null'); } catch { s = null; }
    if (!s || !s.token || !(s.expires_at > Date.now() + EXPIRY_MARGIN_MS)) return null;
    return s;
  }

  function writeHandoff(s) {
    try {
      if (s) sessionStorage.setItem(KEY_HANDOFF, JSON.stringify(s)); else sessionStorage.removeItem(KEY_HANDOFF);
    } catch { /* storage disabled: this visit only */ }
  }

  /** A sign-in from a handed-over token; null when it is unusable. */
  function handoffFrom(f) {
    const claims = claimsOf(f.access_token);
    if (!claims || typeof claims.sub !== 'string' || !claims.sub) return null;
    let expiresAt = 0;
    if (f.expires_at > 0) expiresAt = f.expires_at * 1000;
    else if (f.expires_in > 0) expiresAt = Date.now() + f.expires_in * 1000;
    if (Number(claims.exp) > 0) expiresAt = expiresAt ? Math.min(expiresAt, claims.exp * 1000) : claims.exp * 1000;
    if (!(expiresAt > Date.now() + EXPIRY_MARGIN_MS)) return null;
    return { token: f.access_token, user_id: claims.sub, expires_at: expiresAt };
  }

  /** A user-facing failure of a sign-in step. */
  class SignInError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code || 'unauthorized';
    }
  }

  // ---- supabase ----

  let client = null;      // the supabase-js client, once loaded
  let loading = null;     // Promise of client
  let onToken = () => {}; // set by start()
  let current = null;     // {token, user_id} last seen

  function loadSupabase() {
    if (loading) return loading;
    loading = new Promise((resolve, reject) => {
      if (window.supabase && window.supabase.createClient) { resolve(); return; }
      const meta = document.querySelector('meta[name="spinmatch-supabase-js"]');
      const script = document.createElement('script');
      script.src = (meta && meta.content) || '/static/vendor/supabase.js';
      script.onload = () => resolve();
      script.onerror = () => reject(new SignInError("We couldn't load the sign-in. Check your connection and reload the page.", 'network'));
      document.head.append(script);
    }).then(() => {
      client = window.supabase.createClient(config.supabase_url, config.supabase_anon_key, {
        auth: { autoRefreshToken: true, persistSession: true, detectSessionInUrl: false, flowType: 'implicit' },
      });
      client.auth.onAuthStateChange((event, session) => {
        // Never await supabase-js from inside this callback (it holds its lock).
        if (session && session.access_token && session.user) {
          const next = { token: session.access_token, user_id: session.user.id };
          const changed = !current || current.token !== next.token;
          current = next;
          if (changed && (event === 'TOKEN_REFRESHED' || event === 'SIGNED_IN')) onToken(next, event);
        } else if (event === 'SIGNED_OUT') {
          current = null;
          onToken(null, event);
        }
      });
      return client;
    });
    return loading;
  }

  function fromSession(session) {
    if (!session || !session.access_token || !session.user) return null;
    current = { token: session.access_token, user_id: session.user.id };
    return current;
  }

  function friendly(error, fallback) {
    const status = error && error.status;
    if (status === 400 || status === 401 || status === 422) return new SignInError(fallback, 'unauthorized');
    if (status === 429) return new SignInError('Too many attempts. Please wait a minute and try again.', 'rate_limited');
    return new SignInError("We couldn't reach the sign-in service. Please try again in a moment.", 'network');
  }

  // ---- the interface ----

  window.SpinmatchSignIn = {
    /** 'development', 'supabase' or 'handoff'. */
    mode,
    /** The main app's sign-in address, or ''. */
    signInURL: typeof config.signin_url === 'string' ? config.signin_url : '',

    /**
     * Starts the mode and resolves to the current sign-in {token, user_id},
     * or null. listener(signIn, event) hears every later token (refreshes,
     * new sign-ins) and null when the user signed out.
     */
    async start(listener) {
      onToken = listener || (() => {});
      if (handed && handed.error) {
        throw new SignInError('That sign-in link has expired or was already used. Please sign in again.', 'unauthorized');
      }
      if (mode === 'handoff') {
        if (handed) {
          const s = handoffFrom(handed);
          writeHandoff(s);
          if (!s) throw new SignInError('That sign-in has expired. Please sign in again in the Spinmatch app.', 'unauthorized');
        }
        return readHandoff();
      }
      if (mode !== 'supabase') return null;
      const sb = await loadSupabase();
      if (handed && handed.access_token && handed.refresh_token) {
        const { data, error } = await sb.auth.setSession({ access_token: handed.access_token, refresh_token: handed.refresh_token });
        if (error) throw friendly(error, 'That sign-in link has expired or was already used. Please sign in again.');
        return fromSession(data.session);
      }
      const { data } = await sb.auth.getSession();
      return fromSession(data && data.session);
    },

    /** Signs in with email and password (supabase mode). */
    async signInWithPassword(email, password) {
      const sb = await loadSupabase();
      const { data, error } = await sb.auth.signInWithPassword({ email, password });
      if (error) throw friendly(error, "That email and password don't match. Check them, or get a sign-in link by email.");
      const s = fromSession(data && data.session);
      if (!s) throw new SignInError('Please confirm your email address first: follow the link we sent you.', 'unauthorized');
      return s;
    },

    /** Emails a magic sign-in link that leads back to this page (supabase mode). */
    async sendMagicLink(email) {
      const sb = await loadSupabase();
      const { error } = await sb.auth.signInWithOtp({
        email,
        options: { emailRedirectTo: `${location.origin}/`, shouldCreateUser: true },
      });
      if (error) throw friendly(error, "We couldn't send a link to that address. Check it and try again.");
    },

    /**
     * A token to replace refused, which the server called expired or
     * invalid: supabase-js's session when it already holds a newer one
     * (getSession refreshes one close to its end), else a refreshed
     * session; a handed-over token cannot be renewed (null).
     */
    async fresh(refused) {
      if (mode === 'handoff') {
        const s = readHandoff();
        return s && s.token !== refused ? s : null;
      }
      if (mode !== 'supabase' || !client) return null;
      try {
        const got = await client.auth.getSession();
        let session = got.data && got.data.session;
        if (!session || session.access_token === refused) {
          const { data, error } = await client.auth.refreshSession();
          if (error) return null;
          session = data && data.session;
        }
        return fromSession(session);
      } catch {
        return null;
      }
    },

    /** Forgets the sign-in on this device. */
    async signOut() {
      current = null;
      writeHandoff(null);
      if (client) {
        try { await client.auth.signOut({ scope: 'local' }); } catch { /* it is gone locally anyway */ }
      }
    },

    /** Records the token app.js uses (so fresh() never returns the same one). */
    noteToken(token) {
      if (token && (!current || current.token !== token)) current = { ...(current || {}), token };
    },
  };
})();
