package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spinmatch/spinmatch/transport/web/supabasetest"
)

// Browser tests of the page's sign-in modes (README, Sign-in on the page)
// and its error boundary.

// page wraps a tab with the steps the tests use.
type page struct {
	t   *testing.T
	tab context.Context
}

// do runs steps, each call within stepTimeout.
func (p page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v (state %q)", what, err, p.eval(`document.body.dataset.state || ''`))
	}
}

// stepTimeout bounds one group of page steps.
const stepTimeout = 15 * time.Second

func (p page) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// waitTrue polls a JavaScript condition in the page.
func (p page) waitTrue(what, js string, d time.Duration) {
	p.t.Helper()
	if _, err := chromedp.Run(p.tab, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(d))); err != nil {
		p.t.Fatalf("%s: %v (state %q)", what, err, p.eval(`document.body.dataset.state || ''`))
	}
}

// eventually polls a JavaScript condition from the test side, riding out
// page loads (which end a Poll running inside the page).
func (p page) eventually(what, js string, d time.Duration) {
	p.t.Helper()
	waitFor(p.t, d, what, func() bool {
		ctx, cancel := context.WithTimeout(p.tab, time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		return err == nil && ok
	})
}

func (p page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.tab, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// fillProfile completes the onboarding form shown after a first sign-in.
func (p page) fillProfile(name, gender, seeking string) {
	p.t.Helper()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	p.do(name+" fills the profile",
		chromedp.WaitVisible(css(`body[data-state=onboarding] [data-testid=onboard-name]`)),
		chromedp.SendKeys(css(`[data-testid=onboard-name]`), name),
		chromedp.Click(css(`[data-testid=onboard-gender-`+gender+`]`)),
		chromedp.Click(css(`[data-testid=onboard-seeking-`+seeking+`]`)),
		chromedp.Click(css(`[data-testid=onboard-submit]`)),
		chromedp.WaitVisible(css(`body[data-state=idle] [data-testid=spin-button]`)),
	)
}

// signInWithPassword opens base (unless it is "": the page is open) and
// fills and submits the Supabase sign-in form.
func (p page) signInWithPassword(base, email, password string) {
	p.t.Helper()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if base != "" {
		p.do("open "+base, chromedp.Navigate(base+"/"))
	}
	p.do("sign in as "+email,
		chromedp.WaitVisible(css(`body[data-state=signin] [data-testid=signin-email]`)),
		chromedp.SendKeys(css(`[data-testid=signin-email]`), email),
		chromedp.SendKeys(css(`[data-testid=signin-password]`), password),
		chromedp.Click(css(`[data-testid=signin-submit]`)),
	)
}

// socketSpy records the page's socket traffic from when it runs:
// window.sentFrames (what it sends), window.openedURLs (sockets it opens)
// and window.lastSocket (the socket it last sent on).
const socketSpy = `(() => {
	window.sentFrames = []; window.openedURLs = [];
	const send = WebSocket.prototype.send;
	WebSocket.prototype.send = function (d) { window.lastSocket = this; window.sentFrames.push(String(d)); return send.call(this, d); };
	const Native = WebSocket;
	window.recvFrames = [];
	window.WebSocket = class extends Native { constructor(u, p) { super(u, p); window.openedURLs.push(String(u));
		this.addEventListener('message', (e) => window.recvFrames.push(String(e.data)));
		this.addEventListener('close', (e) => window.recvFrames.push('close ' + e.code)); } };
	return 'ok'; })()`

// spySockets installs socketSpy and finds the open socket, so a test can
// play the server's part with deliver.
func (p page) spySockets() {
	p.t.Helper()
	p.eval(socketSpy)
	p.findSocket()
}

// findSocket points window.lastSocket at the page's open socket (the page
// asks for status on it when it becomes visible).
func (p page) findSocket() {
	p.t.Helper()
	p.waitTrue("connected", `document.body.dataset.connected === 'true'`, 10*time.Second)
	p.eval(`window.lastSocket = null; document.dispatchEvent(new Event('visibilitychange')); 'ok'`)
	p.waitTrue("the page's socket is known", `Boolean(window.lastSocket && window.lastSocket.onmessage)`, 5*time.Second)
}

// deliver hands the page's socket a frame as if the server had sent it.
func (p page) deliver(frame string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`window.lastSocket.onmessage(new MessageEvent('message', {data: %q})); 'ok'`, frame))
}

// sentAuth is a condition: the page sent {"type":"auth"} with the token it holds now.
const sentAuth = `window.sentFrames.some((f) => { const m = JSON.parse(f);
	return m.type === 'auth' && m.access_token === JSON.parse(sessionStorage.getItem('spinmatch.session')).token; })`

// pageToken is the token the page holds for its socket and REST calls.
func (p page) pageToken() string {
	return p.eval(`(JSON.parse(sessionStorage.getItem('spinmatch.session') || '{}') || {}).token || ''`)
}

// putProfile writes a profile through REST with a bearer token.
func putProfile(t *testing.T, base, token string, profile map[string]any) {
	t.Helper()
	u := &user{token: token, name: fmt.Sprint(profile["display_name"]), base: base}
	if status, body := rest(t, base, u, http.MethodPut, "/api/me", profile); status != http.StatusOK {
		t.Fatalf("PUT /api/me: %d %v", status, body)
	}
}

var signinSeq atomic.Int64

// TestBrowserSignInSupabase runs the page in production with Supabase Auth
// (a local stand-in whose ES256 tokens the node verifies through its key
// set) and checks password sign-in through to a match with a socket client
// (and a rate-limited signal resent), a token that expired before it
// reached the server (refreshed, the request retried), a refreshed token
// sent on the open socket as auth, the node's token_expired answered with
// auth (and, when no refresh can be had, the sign-in-again modal), a close
// with 4001, a refused refresh (the modal), and the magic link (request,
// then the redirect's fragment) and sign-out.
func TestBrowserSignInSupabase(t *testing.T) {
	browser := startBrowser(t, 120*time.Second)
	sb := supabasetest.New(t, []byte(testSecret))
	sb.UseES256() // the node verifies them against the stand-in's key set
	cfg := testConfig(t)
	cfg.Development = false
	cfg.SupabaseURL, cfg.SupabaseAnonKey = sb.URL, supabasetest.AnonKey
	cfg.Actors.DateLength, cfg.Actors.VoteWindow = 60*time.Second, 10*time.Second
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	email := func(name string) string { return fmt.Sprintf("%s-%d@example.test", name, signinSeq.Add(1)) }

	if status, _ := rest(t, base, nil, http.MethodPost, "/api/dev/token", map[string]any{"display_name": "X"}); status != http.StatusNotFound {
		t.Fatalf("production node: POST /api/dev/token = %d, want 404", status)
	}

	t.Run("password sign-in, profile, match", func(t *testing.T) {
		mia := email("mia")
		miaID := sb.AddUser(mia, "correct horse")
		p := page{t, newTab(t, browser)}
		p.signInWithPassword(base, mia, "wrong horse")
		p.waitTrue("wrong password is refused", `document.querySelector('[data-testid=signin-password-error]').textContent.length > 0`, 10*time.Second)
		if state := p.eval(`document.body.dataset.state`); state != "signin" {
			t.Fatalf("after a wrong password the page is %q", state)
		}
		p.eval(`document.querySelector('[data-testid=signin-password]').value = ''`)
		p.do("retype the password",
			chromedp.SendKeys(css(`[data-testid=signin-password]`), "correct horse"),
			chromedp.Click(css(`[data-testid=signin-submit]`)),
		)
		p.fillProfile("Mia", "female", "male")
		grants := sb.Calls("/auth/v1/token", "password")
		if len(grants) != 2 || grants[1].APIKey != supabasetest.AnonKey || grants[1].Email != mia {
			t.Fatalf("password grants %+v, want two with the anon key", grants)
		}
		if tok := p.pageToken(); tok == "" || tok != sb.LatestToken(miaID) {
			t.Fatalf("page token is not the one Supabase issued")
		}
		// The profile was written for the Supabase user.
		if status, me := rest(t, base, &user{token: sb.LatestToken(miaID)}, http.MethodGet, "/api/me", nil); status != http.StatusOK || me.str("display_name") != "Mia" {
			t.Fatalf("GET /api/me as Mia: %d %v", status, me)
		}

		p.do("Mia spins",
			chromedp.Click(css(`[data-testid=spin-button]`)),
			chromedp.WaitVisible(css(`body[data-state=queued] [data-testid=waiting-view]`)),
		)
		p.spySockets()
		leoID := fmt.Sprintf("leo-%d", signinSeq.Add(1)) // above Mia's hex id: Mia offers (rtc.js)
		leoTok := sb.Token(leoID, time.Hour)
		putProfile(t, base, leoTok, map[string]any{"display_name": "Leo", "gender": "male", "seeking": []string{"female"}, "pool": "global"})
		leo, _ := (&user{id: leoID, token: leoTok, name: "Leo", base: base}).dial(t)
		leo.spin()
		found := leo.expect("match_found")
		if partner := found.obj("partner"); partner.str("user_id") != miaID || partner.str("display_name") != "Mia" {
			t.Fatalf("Leo's partner %v, want Mia (%s)", partner, miaID)
		}
		p.do("Mia sees the match", chromedp.WaitVisible(css(`body[data-state=matched] [data-testid=match-card]`)))
		if name := p.text(`[data-testid=partner-name]`); !strings.Contains(name, "Leo") {
			t.Fatalf("Mia's partner shown as %q", name)
		}
		if toasts := p.eval(`String(document.querySelectorAll('[data-testid=toast-stack] .toast-error').length)`); toasts != "0" {
			t.Errorf("%s error toasts along the way", toasts)
		}

		// A signal the server rate-limits is sent again after retry_after_s.
		p.waitTrue("Mia signals", `window.sentFrames.some((f) => JSON.parse(f).type === 'signal')`, 10*time.Second)
		first := p.eval(`window.sentFrames.find((f) => JSON.parse(f).type === 'signal')`)
		var sig struct {
			ID   float64         `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(first), &sig); err != nil {
			t.Fatalf("signal frame %s: %v", first, err)
		}
		p.deliver(fmt.Sprintf(`{"type":"error","code":"rate_limited","ref":%v,"retry_after_s":0.3,"message":"Slow down."}`, sig.ID))
		p.waitTrue("the signal is sent again", fmt.Sprintf(`window.sentFrames.some((f) => { const m = JSON.parse(f);
			return m.type === 'signal' && m.id > %v && JSON.stringify(m.data) === JSON.stringify(%s); })`, sig.ID, sig.Data), 5*time.Second)
	})

	t.Run("expired token is refreshed", func(t *testing.T) {
		ana := email("ana")
		anaID := sb.AddUser(ana, "pw-ana-123")
		refreshes := len(sb.Calls("/auth/v1/token", "refresh_token"))
		sb.ExpireNext(1) // the session's first token is expired when it reaches the node: GET /api/me answers 401
		p := page{t, newTab(t, browser)}
		p.signInWithPassword(base, ana, "pw-ana-123")
		p.fillProfile("Ana", "female", "male")
		if got := len(sb.Calls("/auth/v1/token", "refresh_token")) - refreshes; got < 1 {
			t.Fatalf("%d refresh grants, want at least 1", got)
		}
		if tok := p.pageToken(); tok != sb.LatestToken(anaID) {
			t.Fatal("the page does not hold the refreshed token")
		}
		if p.eval(`String(document.querySelector('[data-testid=signin-again-modal]').hidden)`) != "true" {
			t.Fatal("the sign-in-again modal is showing although the token was refreshed")
		}
	})

	t.Run("refreshed token goes to the open socket", func(t *testing.T) {
		ida := email("ida")
		idaID := sb.AddUser(ida, "pw-ida-123")
		sb.SetTTL(80 * time.Second) // supabase-js refreshes a session this close to its end on its next tick
		defer sb.SetTTL(time.Hour)
		p := page{t, newTab(t, browser)}
		p.signInWithPassword(base, ida, "pw-ida-123")
		p.fillProfile("Ida", "female", "male")
		p.waitTrue("connected", `document.body.dataset.connected === 'true'`, 10*time.Second)
		// Record what the page sends on its sockets from now on.
		p.eval(`(() => { const send = WebSocket.prototype.send; window.sentFrames = [];
			WebSocket.prototype.send = function (d) { window.sentFrames.push(String(d)); return send.call(this, d); };
			return 'ok'; })()`)
		refreshes := len(sb.Calls("/auth/v1/token", "refresh_token"))
		p.eval(`window.dispatchEvent(new Event('visibilitychange')); 'ok'`) // supabase-js (listening on window) ticks at once when the page shows
		waitFor(t, 15*time.Second, "a refresh grant", func() bool { return len(sb.Calls("/auth/v1/token", "refresh_token")) > refreshes })
		p.eventually("the page holds the refreshed token", fmt.Sprintf(`(JSON.parse(sessionStorage.getItem('spinmatch.session') || '{}') || {}).token === %q`, sb.LatestToken(idaID)), 10*time.Second)
		p.eventually("the page sent it as auth", `window.sentFrames.some((f) => { const m = JSON.parse(f); return m.type === 'auth' && m.access_token === JSON.parse(sessionStorage.getItem('spinmatch.session')).token; })`, 10*time.Second)
		p.eventually("still connected and idle", `document.body.dataset.connected === 'true' && document.body.dataset.state === 'idle'`, 10*time.Second)
		if p.eval(`String(document.querySelector('[data-testid=signin-again-modal]').hidden)`) != "true" {
			t.Fatal("the sign-in-again modal is showing after a refresh")
		}
	})

	t.Run("token_expired on the socket", func(t *testing.T) {
		uma := email("uma")
		umaID := sb.AddUser(uma, "pw-uma-123")
		sb.SetTTL(6 * time.Second) // the node tells the socket when it expires
		defer sb.SetTTL(time.Hour)
		p := page{t, newTab(t, browser)}
		p.do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`body[data-state=signin]`)))
		p.eval(socketSpy)
		p.signInWithPassword("", uma, "pw-uma-123")
		p.fillProfile("Uma", "female", "male")
		refreshes := len(sb.Calls("/auth/v1/token", "refresh_token"))
		first := p.pageToken()
		waitFor(t, 20*time.Second, "a refresh grant after token_expired", func() bool { return len(sb.Calls("/auth/v1/token", "refresh_token")) > refreshes })
		p.waitTrue("the fresh token is sent as auth", sentAuth, 10*time.Second)
		if tok := p.pageToken(); tok == first || tok != sb.LatestToken(umaID) {
			t.Fatal("the page does not hold the refreshed token")
		}
		p.waitTrue("the node answers auth with state", `document.body.dataset.connected === 'true' && document.body.dataset.state === 'idle'`, 5*time.Second)
		if n := p.eval(`String(window.openedURLs.length)`); n != "1" {
			t.Errorf("%s sockets opened; auth should keep the first one (sent %s, received %s)", n,
				p.eval(`JSON.stringify(window.sentFrames)`), p.eval(`JSON.stringify(window.recvFrames)`))
		}
		if n := p.eval(`String(document.querySelectorAll('[data-testid=toast-stack] .toast-error').length)`); n != "0" {
			t.Errorf("token_expired showed %s error toasts; a renewal needs none", n)
		}

		// When no fresh token can be had, the modal asks to sign in again.
		sb.RefuseRefresh(true)
		defer sb.RefuseRefresh(false)
		p.do("the next expiry gets the modal", chromedp.WaitVisible(css(`[data-testid=signin-again-modal] [data-testid=signin-again-button]`)))
	})

	// A close with 4001 (no auth within the node's wait) is played through
	// the page's own socket handler: the page renews the token before the
	// node's wait is over whenever it can.
	t.Run("close 4001 renews and reconnects", func(t *testing.T) {
		vic := email("vic")
		vicID := sb.AddUser(vic, "pw-vic-123")
		p := page{t, newTab(t, browser)}
		p.signInWithPassword(base, vic, "pw-vic-123")
		p.fillProfile("Vic", "female", "male")
		p.waitTrue("connected", `document.body.dataset.connected === 'true'`, 10*time.Second)
		p.spySockets()
		refreshes := len(sb.Calls("/auth/v1/token", "refresh_token"))
		p.eval(`window.lastSocket.onclose(new CloseEvent('close', {code: 4001, reason: 'token expired'})); 'ok'`)
		waitFor(t, 10*time.Second, "a refresh grant", func() bool { return len(sb.Calls("/auth/v1/token", "refresh_token")) > refreshes })
		p.waitTrue("a new socket with the fresh token", fmt.Sprintf(`window.openedURLs.some((u) => new URL(u).searchParams.get('access_token') === %q)`, sb.LatestToken(vicID)), 10*time.Second)
		if tok := p.pageToken(); tok != sb.LatestToken(vicID) {
			t.Fatal("the page reconnected without the refreshed token")
		}
		p.waitTrue("connected again", `document.body.dataset.connected === 'true' && document.body.dataset.state === 'idle'`, 10*time.Second)
	})

	t.Run("refused refresh asks to sign in again", func(t *testing.T) {
		eva := email("eva")
		sb.AddUser(eva, "pw-eva-123")
		sb.ExpireNext(1)
		sb.RefuseRefresh(true)
		defer sb.RefuseRefresh(false)
		p := page{t, newTab(t, browser)}
		p.signInWithPassword(base, eva, "pw-eva-123")
		p.do("the modal asks to sign in again",
			chromedp.WaitVisible(css(`[data-testid=signin-again-modal]`)),
			chromedp.Click(css(`[data-testid=signin-again-button]`)),
			chromedp.WaitVisible(css(`body[data-state=signin] [data-testid=signin-email]`)),
		)
		if p.eval(`String(document.querySelector('[data-testid=signin-again-modal]').hidden)`) != "true" {
			t.Fatal("the modal stayed after choosing to sign in again")
		}
	})

	t.Run("magic link", func(t *testing.T) {
		zoe := email("zoe")
		p := page{t, newTab(t, browser)}
		p.do("Zoe asks for a link",
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(css(`body[data-state=signin] [data-testid=signin-email]`)),
			chromedp.SendKeys(css(`[data-testid=signin-email]`), zoe),
			chromedp.Click(css(`[data-testid=signin-magic]`)),
			chromedp.WaitVisible(css(`[data-testid=signin-sent]`)),
		)
		otp := sb.Calls("/auth/v1/otp", "")
		if len(otp) == 0 || otp[len(otp)-1].Email != zoe {
			t.Fatalf("otp requests %+v, want one for %s", otp, zoe)
		}
		// Zoe follows the link: Supabase redirects back with the session in the fragment.
		sess, ok := sb.NewSession(zoe)
		if !ok {
			t.Fatal("the stand-in did not sign Zoe up on the link request")
		}
		frag := url.Values{"access_token": {sess.AccessToken}, "refresh_token": {sess.RefreshToken},
			"expires_in": {fmt.Sprint(sess.ExpiresIn)}, "expires_at": {fmt.Sprint(sess.ExpiresAt)},
			"token_type": {"bearer"}, "type": {"magiclink"}}
		// The link opens in the page already open (a same-document navigation).
		p.do("Zoe follows the link", chromedp.Navigate(base+"/#"+frag.Encode()))
		p.eventually("the token leaves the address bar, the page starts over with it",
			`!location.href.includes('access_token') && !location.href.includes('#') && document.body.dataset.state === 'onboarding'`, 10*time.Second)
		p.fillProfile("Zoe", "female", "male")
		if tok := p.pageToken(); tok != sess.AccessToken {
			t.Fatal("the page does not hold the magic link's token")
		}
		p.do("Zoe signs out",
			chromedp.Click(css(`[data-testid=sign-out]`)),
			chromedp.WaitVisible(css(`body[data-state=signin] [data-testid=signin-email]`)),
			chromedp.Reload(),
			chromedp.WaitVisible(css(`body[data-state=signin] [data-testid=signin-email]`)),
		)
	})
}

// TestBrowserSignInHandoff runs the page in production without the anon
// key: it says that signing in happens in the main app, takes a token
// handed over in the URL fragment (and removes it from the address bar at
// once), and asks to sign in again when the server refuses the token.
func TestBrowserSignInHandoff(t *testing.T) {
	browser := startBrowser(t, 60*time.Second)
	sb := supabasetest.New(t, []byte(testSecret)) // only mints the tokens the main app would hand over
	cfg := testConfig(t)
	cfg.Development = false
	cfg.SignInURL = "https://app.example/signin"
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	p := page{t, newTab(t, browser)}
	p.do("a visitor without a token",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(css(`body[data-state=signin-elsewhere] [data-testid=signin-elsewhere-link]`)),
	)
	if href := p.eval(`document.querySelector('[data-testid=signin-elsewhere-link]').href`); href != cfg.SignInURL {
		t.Fatalf("sign-in link %q, want %q", href, cfg.SignInURL)
	}

	uid := fmt.Sprintf("handoff-%d", signinSeq.Add(1))
	tok := sb.Token(uid, time.Hour)
	p.do("the main app hands over a token",
		chromedp.Navigate("about:blank"), // the main app is another site
		chromedp.Navigate(base+"/#access_token="+tok+"&expires_in=3600&token_type=bearer"))
	// At once, before the profile form: the fragment is gone.
	if href := p.eval(`location.href`); href != base+"/" {
		t.Fatalf("address bar %q, want %q (token removed)", href, base+"/")
	}
	p.fillProfile("Noa", "nonbinary", "female")
	if p.pageToken() != tok || !strings.Contains(p.eval(`sessionStorage.getItem('spinmatch.handoff') || ''`), tok) {
		t.Fatal("the handed-over token is not kept in sessionStorage")
	}
	if status, me := rest(t, base, &user{token: tok}, http.MethodGet, "/api/me", nil); status != http.StatusOK || me.str("display_name") != "Noa" {
		t.Fatalf("GET /api/me as Noa: %d %v", status, me)
	}
	p.do("a reload keeps the sign-in", chromedp.Reload(), chromedp.WaitVisible(css(`body[data-state=idle] [data-testid=spin-button]`)))

	// A token that expires on an open socket cannot be renewed here: the modal links to the main app.
	p.spySockets()
	p.deliver(`{"type":"error","code":"token_expired","message":"Your sign-in has expired.","help_url":"/help/errors#token_expired"}`)
	p.do("token_expired gets the sign-in-again modal", chromedp.WaitVisible(css(`[data-testid=signin-again-modal] [data-testid=signin-again-link]`)))

	// A token the server refuses (revoked, or signed with a rotated key) cannot be renewed here.
	p.eval(`(() => { const s = JSON.parse(sessionStorage.getItem('spinmatch.handoff'));
		s.token = s.token.slice(0, -4) + 'AAAA'; sessionStorage.setItem('spinmatch.handoff', JSON.stringify(s));
		const me = JSON.parse(sessionStorage.getItem('spinmatch.session')); me.token = s.token;
		sessionStorage.setItem('spinmatch.session', JSON.stringify(me)); return 'ok'; })()`)
	p.do("the refused token gets the sign-in-again modal",
		chromedp.Reload(),
		chromedp.WaitVisible(css(`[data-testid=signin-again-modal] [data-testid=signin-again-link]`)),
	)
	if href := p.eval(`document.querySelector('[data-testid=signin-again-link]').href`); href != cfg.SignInURL {
		t.Fatalf("sign-in-again link %q, want %q", href, cfg.SignInURL)
	}
}

// clientErrors records what reaches POST /api/client-errors on its way to
// the node.
type clientErrors struct {
	mu       sync.Mutex
	reports  []map[string]any // guarded by mu
	statuses []int            // the node's answers; guarded by mu
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (c *clientErrors) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reports)
}

func (c *clientErrors) all() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.reports...)
}

// TestBrowserErrorBoundary throws an uncaught error and an unhandled
// rejection in the page: each shows the friendly toast and is reported to
// POST /api/client-errors (seen by a recording proxy in front of the node,
// which answers 204), without the URL's query or fragment, within the
// endpoint's 8 KiB even for wide characters, and no more than three a minute.
func TestBrowserErrorBoundary(t *testing.T) {
	browser := startBrowser(t, 60*time.Second)
	n := startNode(t, testConfig(t))
	target, _ := url.Parse("http://" + n.Addr())
	rec := &clientErrors{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/client-errors" {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
			var report map[string]any
			if err := json.Unmarshal(body, &report); err != nil {
				report = map[string]any{"undecodable": string(body)}
			}
			rec.mu.Lock()
			rec.reports = append(rec.reports, report)
			rec.mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(body))) // on to the node
			sw := &statusWriter{ResponseWriter: w}
			proxy.ServeHTTP(sw, r)
			rec.mu.Lock()
			rec.statuses = append(rec.statuses, sw.status)
			rec.mu.Unlock()
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	p := page{t, newTab(t, browser)}
	p.do("open the page", chromedp.Navigate(front.URL+"/?ref=mail#section"), chromedp.WaitVisible(css(`body[data-state=onboarding]`)))
	p.eval(`setTimeout(() => { throw new Error('boom from the test'); }, 0); 'ok'`)
	p.do("the toast", chromedp.WaitVisible(css(`[data-testid=toast-stack] [data-source=boundary]`)))
	waitFor(t, 10*time.Second, "the error report", func() bool { return rec.count() >= 1 })
	p.eval(`Promise.reject(new Error('rejected in the test')); 'ok'`)
	waitFor(t, 10*time.Second, "the rejection report", func() bool { return rec.count() >= 2 })

	reports := rec.all()
	for i, want := range []string{"boom from the test", "rejected in the test"} {
		r := reports[i]
		if msg, _ := r["message"].(string); !strings.Contains(msg, want) {
			t.Errorf("report %d message %q, want %q", i, msg, want)
		}
		if u, _ := r["url"].(string); u != front.URL+"/" {
			t.Errorf("report %d url %q, want %q (no query, no fragment)", i, u, front.URL+"/")
		}
		if ua, _ := r["user_agent"].(string); ua == "" {
			t.Errorf("report %d has no user_agent", i)
		}
		if at, _ := r["at"].(string); at == "" {
			t.Errorf("report %d has no time", i)
		} else if _, err := time.Parse(time.RFC3339, at); err != nil {
			t.Errorf("report %d at %q: %v", i, at, err)
		}
		if stack, _ := r["stack"].(string); i == 0 && !strings.Contains(stack, "boom") && stack == "" {
			t.Errorf("report %d has no stack", i)
		}
	}

	rec.mu.Lock()
	statuses := append([]int(nil), rec.statuses...)
	rec.mu.Unlock()
	for i, st := range statuses {
		if st != http.StatusNoContent {
			t.Errorf("the node answered report %d with %d, want 204", i, st)
		}
	}

	// A report with wide characters stays within the endpoint's 8 KiB.
	p.eval(`setTimeout(() => { throw new Error('宽'.repeat(3000)); }, 0); 'ok'`)
	waitFor(t, 10*time.Second, "the wide report", func() bool { return rec.count() >= 3 })
	rec.mu.Lock()
	wide := rec.statuses[len(rec.statuses)-1]
	rec.mu.Unlock()
	if wide != http.StatusNoContent {
		t.Errorf("the node answered the wide report with %d, want 204", wide)
	}

	// A burst: only the page's share (3 a minute) is reported.
	p.eval(`for (let i = 0; i < 5; i++) setTimeout(() => { throw new Error('burst ' + i); }, 0);
		setTimeout(() => { document.body.dataset.burstDone = 'true'; }, 0); 'ok'`)
	p.waitTrue("the burst ran", `document.body.dataset.burstDone === 'true'`, 10*time.Second)
	waitFor(t, 10*time.Second, "the third report", func() bool { return rec.count() >= 3 })
	if ok, err := chromedp.Run(p.tab, chromedp.Evaluate[bool](`fetch('/healthz').then((r) => r.ok)`, chromedp.EvalAwaitPromise)); err != nil || !ok {
		t.Fatalf("a later request: %v %v", ok, err)
	}
	if got := rec.count(); got != 3 {
		t.Fatalf("%d reports after 8 errors, want 3 (the per-minute share)", got)
	}
	if p.eval(`document.body.dataset.state`) != "onboarding" {
		t.Fatal("the page left its view after errors")
	}
}
