/*
 * Wait-time notifications for the user page (window.SpinNotify), driven by
 * app.js:
 *   - a match found while the tab is in the background: a browser
 *     notification (when the user turned it on and the browser allowed it),
 *     the tab title "💘 Match found!" until the tab is visible again, and an
 *     optional sound (off by default; a WebAudio chime, no file);
 *   - "tell me when the wait drops under N minutes": driven by wait_update's
 *     eta.p50_s, once per crossing (it re-arms when the estimate climbs back
 *     10% above the threshold, so a wobble near it does not repeat).
 * Permission is asked for at the first spin (a click, so the browser shows
 * its prompt) or when a toggle is turned on. The choices live in
 * localStorage (spinmatch.notify). Test hooks: the toggles' data-testids
 * (notify-match, notify-sound, notify-under, notify-under-min, notify-hint),
 * document.body.dataset.waitArmed (the threshold is armed),
 * document.body.dataset.matchAlert ("title" while the title is changed) and
 * document.body.dataset.waitAlerts (how many wait alerts this queue gave).
 */
'use strict';

(() => {
  const KEY = 'spinmatch.notify';
  const MATCH_TITLE = '💘 Match found!';
  const $ = (id) => document.getElementById(id);
  const supported = typeof window.Notification === 'function';

  let prefs = { match: false, sound: false, under: false, underMin: 5, asked: false };
  try { prefs = { ...prefs, ...JSON.parse(localStorage.getItem(KEY) || '{}') }; } catch { /* defaults */ }
  const save = () => { try { localStorage.setItem(KEY, JSON.stringify(prefs)); } catch { /* private mode */ } };

  let toast = () => {};
  let baseTitle = document.title;
  let titleChanged = false;
  let audio = null; // AudioContext, made on a user gesture
  // Threshold state of the current queue: armed once the estimate was above it.
  let armed = false;
  let alerts = 0;
  let lastP50 = NaN; // the latest estimate of this stay in the queue

  /** Arms the threshold when the latest estimate is clearly above it (a toggle or the threshold changed). */
  function rearm() { setArmed(prefs.under && Number.isFinite(lastP50) && lastP50 >= prefs.underMin * 60 * 1.1); }
  function setArmed(v) { armed = v; document.body.dataset.waitArmed = String(v); }

  const permission = () => (supported ? Notification.permission : 'unsupported');
  const hidden = () => document.visibilityState !== 'visible';

  function hint() {
    const el = $('notify-hint');
    if (!el) return;
    const p = permission();
    el.textContent = p === 'denied'
      ? "Notifications are blocked for this site in your browser's settings; we'll still flag the tab's title."
      : p === 'unsupported' ? "This browser can't show notifications; we'll flag the tab's title instead." : '';
  }

  function render() {
    const m = $('notify-match'), s = $('notify-sound'), u = $('notify-under'), n = $('notify-under-min');
    if (!m) return;
    m.checked = prefs.match && permission() === 'granted';
    s.checked = prefs.sound;
    u.checked = prefs.under;
    n.value = String(prefs.underMin);
    hint();
  }

  /** Asks the browser once it is useful (a user gesture must be on the stack). */
  async function ask() {
    if (!supported || Notification.permission !== 'default') return permission();
    try { return await Notification.requestPermission(); } catch { return permission(); }
  }

  function unlockAudio() {
    if (!prefs.sound) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
    } catch { audio = null; }
  }

  /** A soft two-note chime, 0.4 s. */
  function chime() {
    if (!prefs.sound) return;
    unlockAudio();
    if (!audio) return;
    const t = audio.currentTime;
    for (const [i, f] of [[0, 880], [1, 1320]]) {
      const o = audio.createOscillator(), g = audio.createGain();
      o.type = 'sine';
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t + i * 0.15);
      g.gain.exponentialRampToValueAtTime(0.2, t + i * 0.15 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.15 + 0.25);
      o.connect(g).connect(audio.destination);
      o.start(t + i * 0.15);
      o.stop(t + i * 0.15 + 0.3);
    }
  }

  function notify(title, body, tag) {
    if (!supported || Notification.permission !== 'granted') return false;
    try {
      const n = new Notification(title, { body, tag, icon: '/static/icon.svg' });
      n.onclick = () => { window.focus(); n.close(); };
      return true;
    } catch { return false; } // e.g. Android Chrome wants a service worker
  }

  function restoreTitle() {
    if (!titleChanged) return;
    titleChanged = false;
    document.title = baseTitle;
    delete document.body.dataset.matchAlert;
  }

  document.addEventListener('visibilitychange', () => { if (!hidden()) restoreTitle(); });

  window.SpinNotify = {
    /** Wires the toggles; show is app.js's toast({title, message, kind}). */
    init({ toast: show } = {}) {
      toast = show || toast;
      baseTitle = document.title;
      const m = $('notify-match'), s = $('notify-sound'), u = $('notify-under'), n = $('notify-under-min');
      if (!m) return;
      m.addEventListener('change', async () => {
        prefs.asked = true;
        prefs.match = m.checked && (await ask()) === 'granted';
        save();
        render();
      });
      s.addEventListener('change', () => { prefs.sound = s.checked; save(); if (prefs.sound) { unlockAudio(); chime(); } });
      u.addEventListener('change', async () => {
        prefs.under = u.checked;
        if (u.checked) { prefs.asked = true; await ask(); }
        rearm();
        save();
        render();
      });
      n.addEventListener('change', () => {
        const v = Math.round(Number(n.value));
        prefs.underMin = Number.isFinite(v) && v >= 1 && v <= 120 ? v : prefs.underMin;
        rearm();
        save();
        render();
      });
      render();
    },

    /** The user clicked Spin: a good moment to ask for permission, once. */
    async onSpin() {
      unlockAudio();
      if (prefs.asked || !supported || Notification.permission !== 'default') return;
      prefs.asked = true;
      save();
      if ((await ask()) === 'granted') { prefs.match = true; save(); }
      render();
    },

    /** A new stay in the queue starts: the threshold waits to be armed again. */
    queued(eta) {
      setArmed(false);
      alerts = 0;
      lastP50 = NaN;
      document.body.dataset.waitAlerts = '0';
      this.waitUpdate(eta);
    },

    /** Left the queue (cancelled or matched). */
    left() { setArmed(false); lastP50 = NaN; },

    /** A wait estimate: notifies once when it crosses under the threshold. */
    waitUpdate(eta) {
      const p50 = eta ? Number(eta.p50_s) : NaN;
      if (!Number.isFinite(p50)) return;
      lastP50 = p50;
      if (!prefs.under) return;
      const limit = prefs.underMin * 60;
      if (p50 >= limit * 1.1) { setArmed(true); return; }
      if (!armed || p50 >= limit) return;
      setArmed(false);
      alerts++;
      document.body.dataset.waitAlerts = String(alerts);
      const mins = Math.max(1, Math.round(p50 / 60));
      const body = `Your estimated wait is now about ${mins} min.`;
      const title = `⏳ Under ${prefs.underMin} min to go`;
      if (!(hidden() && notify(title, body, 'spinmatch-wait'))) toast({ title, message: body, kind: 'info' });
      chime();
    },

    /** A match was pushed; alerts the user only when the tab is in the background. */
    matchFound(name) {
      setArmed(false);
      if (!hidden()) return;
      if (!titleChanged) baseTitle = document.title;
      titleChanged = true;
      document.title = MATCH_TITLE;
      document.body.dataset.matchAlert = 'title';
      if (prefs.match) notify(MATCH_TITLE, `You're on a date with ${name || 'someone'}. Come back to say hi!`, 'spinmatch-match');
      chime();
    },
  };
})();
