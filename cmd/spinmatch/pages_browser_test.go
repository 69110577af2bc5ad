package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/adminws"
)

// artifactDir is where browser tests write their screenshots:
// SPIN_ARTIFACTS when set (kept after the run), else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SPIN_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("artifacts dir: %v", err)
		}
		return d
	}
	return t.TempDir()
}

// screenshot writes the tab's full page as name.png into the artifacts
// directory and logs the path.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	// Let the page lay itself out at the new width (the charts resize on
	// the next frame); a page that never fits is still captured.
	_, _ = chromedp.Run(tab, chromedp.Poll[bool](`document.documentElement.scrollWidth <= innerWidth`, chromedp.WithPollingTimeout(3*time.Second)))
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	t.Logf("screenshot: %s", p)
}

// pollDOM waits until the JavaScript expression is true in tab. A poll
// that lost its document (a navigation that committed after Navigate
// returned) is started again in the new one, within the same deadline.
func pollDOM(t *testing.T, tab context.Context, d time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		lost := strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed")
		if !lost || time.Until(deadline) < 100*time.Millisecond {
			t.Fatalf("%s: %v (expression %s)", what, err, expr)
		}
	}
}

// domText returns the trimmed text of the first element matching sel.
func domText(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector(`+strconv.Quote(sel)+`)||{}).textContent||''`))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// standInAdmin serves the node's pages and routes through a reverse proxy,
// with a stand-in /admin/ws of the documented frame format (PROTOCOL.md,
// Admin) fed from the node's own System.Snapshot every 500 ms, for as long
// as the node has no /admin/ws of its own. frames, when set, replaces the
// feed (the stale test's silent stream). key, when set, is the admin key
// the stand-in asks for (?admin_key= on the socket, X-Admin-Key on its
// stand-in /api/admin/queue-stats), as the real routes do. With the real
// stream in the node, it returns the node's base unchanged.
func standInAdmin(t *testing.T, n *Node, key string, frames func(ws *websocket.Conn)) string {
	t.Helper()
	base := "http://" + n.Addr()
	if frames == nil {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/admin/queue-stats", nil)
		req.Header.Set("X-Admin-Key", key)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Log("using the node's own /admin/ws")
				return base
			}
		}
	}
	if frames == nil {
		t.Log("the node has no /admin/ws yet: using a stand-in stream of the documented frames")
	}
	target, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	up := websocket.Upgrader{}
	if frames == nil {
		frames = func(ws *websocket.Conn) {
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				snap, err := n.sys.Snapshot(ctx)
				cancel()
				if err != nil {
					return
				}
				if len(snap.Nodes) == 0 { // the snapshot's nodes are not filled in yet (adminapi)
					snap.Nodes = append(snap.Nodes, actors.NodeStats{ID: "this-node", Address: n.Addr()})
				}
				b, _ := json.Marshal(snap)
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				m["type"] = "stats"
				if err := ws.WriteJSON(m); err != nil {
					return
				}
				time.Sleep(500 * time.Millisecond) // the stream's own cadence, not a wait for a condition
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/admin/queue-stats" && key != "":
			if r.Header.Get("X-Admin-Key") != key {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusOK)
			return
		case r.URL.Path != "/admin/ws":
			proxy.ServeHTTP(w, r)
			return
		case key != "" && r.URL.Query().Get("admin_key") != key:
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		go func() { // read, so the close is noticed
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					ws.Close()
					return
				}
			}
		}()
		frames(ws)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBrowserAdminDashboard: the dashboard shows live numbers that change
// when users spin over real sockets: 3 men seeking women wait in pool
// "dash", then a woman spins and is matched with one of them.
func TestBrowserAdminDashboard(t *testing.T) {
	ctx := startBrowser(t, 90*time.Second)
	cfg := testConfig(t)
	cfg.Development = true // no ADMIN_API_KEY: the admin routes are open, and the page says so
	cfg.AdminStream = adminws.Config{HistoryStep: 100 * time.Millisecond}
	n := startNode(t, cfg)
	nodeBase := "http://" + n.Addr()
	base := standInAdmin(t, n, "", nil)
	real := base == nodeBase // the node's own stream fills in the node table
	// The node's trends of before the page opened seed its chart.
	if real {
		waitFor(t, 10*time.Second, "three history points on the node", func() bool { p, _ := firstHistory(t, nodeBase); return len(p) >= 3 })
	}
	tab := newTab(t, ctx)

	if err := chromedp.Do(tab, chromedp.Navigate(base+"/admin")); err != nil {
		t.Fatalf("open dashboard: %v", err)
	}
	pollDOM(t, tab, 10*time.Second, "dashboard connected", `document.body.dataset.connected === 'true' && document.querySelector('[data-testid=admin-live]').dataset.live === 'live'`)
	if m := domText(t, tab, `[data-testid=admin-mode]`); !strings.Contains(m, "open") {
		t.Fatalf("development without a key: mode notice %q, want it to say the routes are open", m)
	}
	if real {
		pollDOM(t, tab, 5*time.Second, "the trend chart seeded from the node's history", `Number(document.querySelector('[data-testid=chart-matches]').dataset.seeded) >= 3 && Number(document.querySelector('[data-testid=chart-matches]').dataset.points) >= 3`)
	}
	before := domText(t, tab, `[data-testid=kpi-waiting]`)

	var men []*client
	for i := range 3 {
		u := newUser(t, nodeBase, "Man"+strconv.Itoa(i), "male", "dash", "female")
		c, _ := u.dial(t)
		c.spin()
		men = append(men, c)
	}
	male := `document.querySelector('[data-testid=admin-pool][data-pool=dash] [data-testid=pool-waiting][data-gender=male]')`
	pollDOM(t, tab, 10*time.Second, "three men waiting in dash", male+`?.textContent === '3'`)
	if after := domText(t, tab, `[data-testid=kpi-waiting]`); after == before {
		t.Fatalf("waiting KPI still %q after three spins", after)
	}
	if imb := domText(t, tab, `[data-testid=admin-pool][data-pool=dash] [data-testid=pool-imbalance]`); !strings.Contains(imb, "women scarce") && !strings.Contains(imb, "balanced") {
		t.Fatalf("imbalance cell %q", imb)
	}

	w := newUser(t, nodeBase, "Woman", "female", "dash", "male")
	cw, _ := w.dial(t)
	cw.spin()
	cw.expect("match_found")
	pollDOM(t, tab, 10*time.Second, "two men left after the match", male+`?.textContent === '2'`)
	pollDOM(t, tab, 10*time.Second, "the trend chart has points", `Number(document.querySelector('[data-testid=chart-matches]').dataset.points) >= 3`)
	if nodes := domText(t, tab, `[data-testid=kpi-nodes]`); nodes != "1" {
		t.Errorf("nodes KPI %q, want 1", nodes)
	}
	if real { // four sockets are open on the one node: three men and the woman
		pollDOM(t, tab, 10*time.Second, "the node row counts the sockets", `Number(document.querySelector('[data-testid=node-connections]')?.textContent) >= 4`)
	}
	screenshot(t, tab, "admin-dashboard")
	_ = men
}

// TestBrowserAdminStale: a stream that goes silent is called stale within
// a few seconds, and a dropped stream reconnects by itself.
func TestBrowserAdminStale(t *testing.T) {
	ctx := startBrowser(t, 60*time.Second)
	cfg := testConfig(t)
	n := startNode(t, cfg)
	var conns atomic.Int32
	base := standInAdmin(t, n, "", func(ws *websocket.Conn) {
		k := conns.Add(1)
		snap := map[string]any{"type": "stats", "at": time.Now().UTC().Format(time.RFC3339Nano), "nodes": []any{map[string]any{"id": "n1", "address": "127.0.0.1:1", "sessions": 4, "connections": 5}},
			"pools": []any{map[string]any{"pool": "p", "waiting": map[string]int{"male": 4, "female": 1}, "avg_wait_s": map[string]float64{"male": 120}, "p90_wait_s": map[string]float64{"male": 300}, "eta_s": map[string]float64{"male": 240, "female": 5},
				"matches_per_min": 1.5, "match_success_rate": 0.4, "imbalance": map[string]any{"ratio": 4, "scarce": "female"}, "abandoned": map[string]int{"male": 1}, "recommendations": []string{"Invite more women to pool p."}, "what_if": []any{}}},
			"alerts": []any{map[string]any{"type": "alert", "rule": "imbalance", "state": "firing", "severity": "warning", "message": "Pool p: 4 men per woman.", "pool": "p", "at": time.Now().UTC().Format(time.RFC3339), "seq": 1}}}
		_ = ws.WriteJSON(snap)
		_ = ws.WriteJSON(map[string]any{"type": "alert", "rule": "imbalance", "state": "firing", "severity": "warning", "message": "Pool p: 4 men per woman.", "pool": "p", "at": time.Now().UTC().Format(time.RFC3339), "seq": 1})
		if k == 1 {
			time.Sleep(4500 * time.Millisecond) // silent past the page's 3 s staleness, then drop
			return
		}
		for ws.WriteJSON(snap) == nil { // the second connection stays live
			time.Sleep(500 * time.Millisecond)
		}
	})
	tab := newTab(t, ctx)
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/admin")); err != nil {
		t.Fatalf("open dashboard: %v", err)
	}
	pollDOM(t, tab, 5*time.Second, "first frame shown", `document.querySelector('[data-testid=kpi-waiting]').textContent === '5'`)
	if got := domText(t, tab, `[data-testid=alerts-firing]`); !strings.Contains(got, "4 men per woman") {
		t.Fatalf("firing alerts %q", got)
	}
	if got := domText(t, tab, `[data-testid=admin-recommendations]`); !strings.Contains(got, "Invite more women") {
		t.Fatalf("recommendations %q", got)
	}
	pollDOM(t, tab, 6*time.Second, "stale after silence", `document.body.dataset.stale === 'true' && !document.querySelector('[data-testid=admin-stale]').hidden`)
	if s := domText(t, tab, `[data-testid=admin-stale]`); !strings.Contains(s, "Stale") {
		t.Fatalf("stale notice %q", s)
	}
	screenshot(t, tab, "admin-stale")
	pollDOM(t, tab, 10*time.Second, "reconnected and live again", `document.body.dataset.stale === 'false' && document.querySelector('[data-testid=admin-live]').dataset.live === 'live'`)
	if conns.Load() < 2 {
		t.Fatalf("the page did not reconnect (%d connections)", conns.Load())
	}
}

// TestBrowserStatusPage: the public status page shows the pools, who waits
// by gender and the typical wait, and follows /status/ws live.
func TestBrowserStatusPage(t *testing.T) {
	ctx := startBrowser(t, 60*time.Second)
	cfg := testConfig(t)
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	tab := newTab(t, ctx)
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/status")); err != nil {
		t.Fatalf("open status: %v", err)
	}
	pollDOM(t, tab, 10*time.Second, "status page live", `document.body.dataset.connected === 'true'`)

	for i := range 2 {
		u := newUser(t, base, "Sam"+strconv.Itoa(i), "male", "stat", "female")
		c, _ := u.dial(t)
		c.spin()
	}
	pool := `document.querySelector('[data-testid=status-pool][data-pool=stat]')`
	pollDOM(t, tab, 10*time.Second, "pool stat shows two men", pool+`?.querySelector('[data-testid=status-waiting][data-gender=male]')?.textContent === '2'`)
	if eta := domText(t, tab, `[data-testid=status-pool][data-pool=stat] [data-testid=status-eta][data-gender=male]`); eta == "" || eta == "—" {
		t.Fatalf("typical wait of men %q", eta)
	}
	u := newUser(t, base, "Ada", "female", "stat", "male")
	c, _ := u.dial(t)
	c.spin()
	c.expect("match_found")
	pollDOM(t, tab, 10*time.Second, "live update after a match", pool+`?.querySelector('[data-testid=status-waiting][data-gender=male]')?.textContent === '1'`)
	screenshot(t, tab, "status")
}

// notificationStub replaces window.Notification (granting permission when
// asked, recording what is shown in window.__notes) and lets the test put
// the tab in the background (window.__setVisible), before the page loads.
const notificationStub = `(() => {
  window.__notes = [];
  let vis = 'visible';
  class FakeNotification {
    constructor(title, opts) { window.__notes.push({ title, body: (opts && opts.body) || '' }); }
    close() {}
    static requestPermission() { FakeNotification.permission = 'granted'; return Promise.resolve('granted'); }
  }
  FakeNotification.permission = 'default';
  window.Notification = FakeNotification;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => vis });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => vis !== 'visible' });
  window.__setVisible = (v) => { vis = v ? 'visible' : 'hidden'; document.dispatchEvent(new Event('visibilitychange')); };
})()`

// TestBrowserWaitNotifications: a man queued third in pool "nt" turns on
// "tell me when the wait drops under N minutes" and puts the tab in the
// background; two women take the men ahead of him, his estimate drops, and
// he gets one notification; then a third woman is matched with him: a
// "Match found" notification and the tab title, restored when he comes back.
func TestBrowserWaitNotifications(t *testing.T) {
	ctx := startBrowser(t, 90*time.Second)
	cfg := testConfig(t)
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	for i := range 2 {
		u := newUser(t, base, "Ahead"+strconv.Itoa(i), "male", "nt", "female")
		c, _ := u.dial(t)
		c.spin()
	}
	tab := newTab(t, ctx)
	addScript := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdpage.AddScriptToEvaluateOnNewDocument, cdpage.AddScriptToEvaluateOnNewDocumentParams{Source: notificationStub})
		return err
	})
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	if err := chromedp.Do(tab, addScript,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(css(`[data-testid=onboard-name]`)),
		chromedp.SendKeys(css(`[data-testid=onboard-name]`), "Noah"),
		chromedp.Click(css(`[data-testid=onboard-gender-male]`)),
		chromedp.Click(css(`[data-testid=onboard-seeking-female]`)),
		chromedp.SetValue(css(`[data-testid=onboard-pool]`), "nt"),
		chromedp.Click(css(`[data-testid=onboard-submit]`)),
		chromedp.WaitVisible(css(`body[data-state=idle] [data-testid=spin-button]`)),
		chromedp.Click(css(`[data-testid=spin-button]`)),
		chromedp.WaitVisible(css(`body[data-state=queued] [data-testid=waiting-view]`)),
	); err != nil {
		t.Fatalf("sign up and spin: %v", err)
	}
	// The spin asked for permission (granted by the stub): the match toggle is on.
	pollDOM(t, tab, 5*time.Second, "match notifications on after the spin", `document.querySelector('[data-testid=notify-match]').checked`)
	if on, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid=notify-sound]').checked || document.querySelector('[data-testid=notify-under]').checked`)); err != nil || on {
		t.Fatalf("the sound or the wait alert is on by default (%v)", err)
	}
	if pos := domText(t, tab, `[data-testid=queue-position]`); pos != "#3" {
		t.Fatalf("position %q, want #3", pos)
	}
	// A threshold the estimate of the third in line is clearly above
	// (armed) and the first in line's is below: "about N min" now.
	eta := domText(t, tab, `[data-testid=eta-text]`)
	mins := 3
	if _, err := fmt.Sscanf(eta, "about %d min", &mins); err != nil || mins < 2 {
		t.Fatalf("third in line: estimate %q, want several minutes", eta)
	}
	threshold := mins - 1
	if mins > 6 {
		threshold = mins / 2
	}
	t.Logf("estimate %q: alert under %d min", eta, threshold)
	under := fmt.Sprintf("Under %d min", threshold)
	if err := chromedp.Do(tab,
		chromedp.SetValue(css(`[data-testid=notify-under-min]`), strconv.Itoa(threshold)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=notify-under-min]').dispatchEvent(new Event('change'))`),
		chromedp.Click(css(`[data-testid=notify-under]`)),
	); err != nil {
		t.Fatalf("turn on the wait alert: %v", err)
	}
	pollDOM(t, tab, 5*time.Second, "wait alert armed (third in line: well over the threshold)", `document.body.dataset.waitArmed === 'true'`)
	screenshot(t, tab, "wait-notifications")
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.__setVisible(false)`)); err != nil {
		t.Fatalf("background: %v", err)
	}

	for i := range 2 {
		u := newUser(t, base, "Woman"+strconv.Itoa(i), "female", "nt", "male")
		c, _ := u.dial(t)
		c.spin()
		c.expect("match_found")
	}
	pollDOM(t, tab, 15*time.Second, "one wait notification", `window.__notes.some(n => n.title.includes(`+strconv.Quote(under)+`))`)
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`window.__notes.filter(n => n.title.includes(`+strconv.Quote(under)+`)).length`)); err != nil || n != 1 {
		t.Fatalf("wait notifications %d (%v), want exactly 1", n, err)
	}

	u := newUser(t, base, "Zoe", "female", "nt", "male")
	c, _ := u.dial(t)
	c.spin()
	c.expect("match_found")
	pollDOM(t, tab, 10*time.Second, "match notification and title", `window.__notes.some(n => n.title.includes('Match found') && n.body.includes('Zoe')) && document.title === '💘 Match found!' && document.body.dataset.matchAlert === 'title'`)
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.__setVisible(true)`)); err != nil {
		t.Fatalf("foreground: %v", err)
	}
	pollDOM(t, tab, 5*time.Second, "title restored when visible", `document.title !== '💘 Match found!' && !document.body.dataset.matchAlert`)
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`window.__notes.length`)); err != nil || n != 2 {
		t.Fatalf("%d notifications (%v), want 2 (one wait, one match)", n, err)
	}
}

// TestBrowserAdminKey: with ADMIN_API_KEY set the page asks for the key,
// refuses a wrong one, connects with the right one, keeps it in session
// storage (never in the address bar) and does not ask again on a reload.
func TestBrowserAdminKey(t *testing.T) {
	ctx := startBrowser(t, 60*time.Second)
	cfg := testConfig(t)
	cfg.AdminKey = "admin-key-for-the-browser-test"
	n := startNode(t, cfg)
	base := standInAdmin(t, n, cfg.AdminKey, nil)
	tab := newTab(t, ctx)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	if err := chromedp.Do(tab,
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(css(`[data-testid=admin-key-input]`)),
		chromedp.SendKeys(css(`[data-testid=admin-key-input]`), "wrong-key"),
		chromedp.Click(css(`[data-testid=admin-key-submit]`)),
	); err != nil {
		t.Fatalf("wrong key: %v", err)
	}
	pollDOM(t, tab, 5*time.Second, "wrong key refused", `document.querySelector('[data-testid=admin-key-error]').textContent.includes('not accepted')`)
	if err := chromedp.Do(tab,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=admin-key-input]').value = ''`),
		chromedp.SendKeys(css(`[data-testid=admin-key-input]`), cfg.AdminKey),
		chromedp.Click(css(`[data-testid=admin-key-submit]`)),
	); err != nil {
		t.Fatalf("right key: %v", err)
	}
	live := `document.body.dataset.connected === 'true' && document.querySelector('[data-testid=admin-live]').dataset.live === 'live'`
	pollDOM(t, tab, 10*time.Second, "live with the key", live)
	where, err := chromedp.Run(tab, chromedp.Evaluate[string](`location.href`))
	if err != nil || strings.Contains(where, "admin-key") || strings.Contains(where, cfg.AdminKey) {
		t.Fatalf("address bar %q (%v) carries the key", where, err)
	}
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	pollDOM(t, tab, 10*time.Second, "live again after a reload, without asking", live+` && document.querySelector('[data-testid=admin-keybox]').hidden`)
}
