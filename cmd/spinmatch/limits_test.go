package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/limit"
)

// fromAddr returns an HTTP client and a WebSocket dialer whose connections
// leave from source address ip (any 127.0.0.0/8 address is this host).
func fromAddr(ip string) (*http.Client, *websocket.Dialer) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConnsPerHost: 64,
	}}
	return hc, &websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 5 * time.Second}
}

// limitsConfig is a one-node configuration with the production budgets;
// 127.0.0.1 (the helpers' source address) and 127.0.0.6 are exempt from
// the per-address limits.
func limitsTestConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.Actors.Limits.Budgets = limit.Defaults()
	cfg.Limits.LimitExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("127.0.0.6/32")}
	return cfg
}

// flood sends n GETs of path from hc with 8 workers and returns how many
// answered 200 and 429, and one 429's response.
func flood(t *testing.T, hc *http.Client, url string, n int) (ok, limited int, sample *http.Response, body frame) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	var failed error
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				res, err := hc.Get(url)
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				var f frame
				_ = json.NewDecoder(res.Body).Decode(&f)
				res.Body.Close()
				mu.Lock()
				switch res.StatusCode {
				case http.StatusOK:
					ok++
				case http.StatusTooManyRequests:
					limited++
					if sample == nil {
						sample, body = res, f
					}
				default:
					failed = fmt.Errorf("status %d: %v", res.StatusCode, f)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("flood %s: %v", url, failed)
	}
	return ok, limited, sample, body
}

// TestAnonymousFlood: 500 rapid anonymous requests from one address get
// 429s with the draft's headers while the server stays up (liveness, and
// a signed-in user elsewhere still spins); the same from an exempt address
// get none.
func TestAnonymousFlood(t *testing.T) {
	n := startNode(t, limitsTestConfig(t))
	base := "http://" + n.Addr()
	start := time.Now()
	hc5, _ := fromAddr("127.0.0.5")
	ok, limited, res, body := flood(t, hc5, base+"/api/queue/status", 500)
	elapsed := time.Since(start).Seconds()
	pub := limit.Defaults().Address[limit.RestPublic]
	t.Logf("500 anonymous requests from 127.0.0.5 in %.2fs: %d answered, %d refused with 429", elapsed, ok, limited)
	if most := float64(pub.Burst) + pub.PerSecond*elapsed + 1; float64(ok) > most || limited == 0 || ok+limited != 500 {
		t.Fatalf("from 127.0.0.5: %d ok, %d limited in %.1fs; want at most %.0f ok", ok, limited, elapsed, most)
	}
	h := res.Header
	if body.obj("error").str("code") != actors.CodeRateLimited || body.obj("error").str("help_url") == "" {
		t.Fatalf("429 body %v", body)
	}
	if h.Get("Retry-After") == "" || h.Get("Retry-After") == "0" ||
		h.Get("RateLimit-Policy") != `"rest_public";q=10;w=1;spinmatch-burst=40;spinmatch-scope="address"` ||
		!strings.HasPrefix(h.Get("RateLimit"), `"rest_public";r=0;t=`) ||
		h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Reset") == "" {
		t.Fatalf("429 headers %v", h)
	}
	// The server is up: liveness from the flooding address, and a user
	// (signed in from 127.0.0.1) spins.
	if res, err := hc5.Get(base + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz from the flooder: %v %v", res, err)
	}
	u := newUser(t, base, "Fay", "female", "flood", "male")
	c, _ := u.dial(t)
	c.spin()
	if v := metric(t, base, `spinmatch_rate_limited_total{action="rest_public",scope="address"}`); v < float64(limited) {
		t.Errorf("rate_limited metric %v, want >= %d", v, limited)
	}

	// The page's error reports have their own, tight budget.
	hc7, _ := fromAddr("127.0.0.7")
	report := func() *http.Response {
		res, err := hc7.Post(base+"/api/client-errors", "application/json", strings.NewReader(`{"message":"boom"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	rep := limit.Defaults().Address[limit.RestReport]
	for i := 0; i < rep.Burst; i++ {
		if res := report(); res.StatusCode != http.StatusNoContent {
			t.Fatalf("report %d: %d", i, res.StatusCode)
		}
	}
	if res := report(); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "6" ||
		res.Header.Get("RateLimit-Policy") != `"rest_report";q=1;w=6;spinmatch-burst=5;spinmatch-scope="address"` {
		t.Fatalf("report over the budget: %d %v", res.StatusCode, res.Header)
	}

	hc6, _ := fromAddr("127.0.0.6")
	ok, limited, _, _ = flood(t, hc6, base+"/api/queue/status", 500)
	if ok != 500 || limited != 0 {
		t.Fatalf("from exempt 127.0.0.6: %d ok, %d limited", ok, limited)
	}
}

// TestSocketLimits: signals have their own budget (a burst of 60 passes
// while the spin budget is spent), spins are cut at theirs, and the socket
// caps hold per user and per address.
func TestSocketLimits(t *testing.T) {
	cfg := limitsTestConfig(t)
	cfg.Actors.Limits.SocketsPerUser = 3
	cfg.Actors.Limits.SocketsPerAddress = 4
	n := startNode(t, cfg)
	base := "http://" + n.Addr()

	t.Run("spins cut at their budget, then 60 signals in a burst pass", func(t *testing.T) {
		d := date{a: newUser(t, base, "Sia", "female", "sig", "male"), b: newUser(t, base, "Sam", "male", "sig", "female")}
		d.ca, _ = d.a.dial(t)
		d.cb, _ = d.b.dial(t)
		spin := limit.Defaults().User[limit.Spin]
		refused := false
		for i := 0; i <= spin.Burst && !refused; i++ {
			d.ca.send("spin", nil)
			f := d.ca.expectWithin2("queued", "error")
			if f.str("type") == "error" {
				if f.str("code") != actors.CodeRateLimited || f.num("retry_after_s") <= 0 {
					t.Fatalf("spin %d: %v", i, f)
				}
				if i < spin.Burst {
					t.Fatalf("spin %d refused within the burst of %d", i, spin.Burst)
				}
				refused = true
				break
			}
			d.ca.send("cancel", nil)
			d.ca.expect("cancelled")
		}
		if !refused {
			t.Fatalf("%d spins in a row were not cut", spin.Burst+1)
		}
		// Wait for one spin's worth of budget, then the pair is made.
		waitFor(t, 5*time.Second, "a spin allowed again", func() bool {
			d.ca.send("spin", nil)
			return d.ca.expectWithin2("queued", "error").str("type") == "queued"
		})
		d.cb.spin()
		d.mid = d.ca.expect("match_found").str("match_id")
		d.cb.expect("match_found")
		start := time.Now()
		for i := 0; i < 60; i++ {
			d.ca.send("signal", map[string]any{"match_id": d.mid, "data": map[string]any{"candidate": i}})
		}
		for i := 0; i < 60; i++ {
			if s := d.cb.expect("signal"); s.obj("data").num("candidate") != float64(i) {
				t.Fatalf("signal %d: %v", i, s)
			}
		}
		if time.Since(start) > time.Second {
			t.Logf("60 signals took %v", time.Since(start))
		}
		d.ca.quiet(200 * time.Millisecond) // no error for any signal
		// The spin budget is still spent: the next spin (after the date) would
		// be refused, and signals did not refill it.
		if v := metric(t, base, `spinmatch_rate_limited_total{action="signal",scope="user"}`); v != 0 {
			t.Fatalf("signals were refused: %v", v)
		}
	})

	t.Run("sockets per user", func(t *testing.T) {
		u := newUser(t, base, "Tab", "female", "caps", "male")
		for i := 0; i < 3; i++ {
			u.dial(t)
		}
		h := http.Header{"Authorization": {"Bearer " + u.token}}
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(base), h)
		if err != nil {
			t.Fatalf("4th socket: %v", err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f frame
		if err := ws.ReadJSON(&f); err != nil || f.str("type") != "error" || f.str("code") != actors.CodeRateLimited {
			t.Fatalf("4th socket's first frame: %v %v", f, err)
		}
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != actors.CloseTooManySockets {
			t.Fatalf("4th socket closed with %v, want %d", err, actors.CloseTooManySockets)
		}
	})

	t.Run("sockets per address", func(t *testing.T) {
		_, dialer := fromAddr("127.0.0.8")
		var open []*websocket.Conn
		dial := func(u *user) (*websocket.Conn, *http.Response, error) {
			return dialer.Dial(wsURL(base), http.Header{"Authorization": {"Bearer " + u.token}})
		}
		for i := 0; i < 4; i++ {
			ws, _, err := dial(newUser(t, base, fmt.Sprintf("Net%d", i), "male", "caps", "female"))
			if err != nil {
				t.Fatalf("socket %d from 127.0.0.8: %v", i, err)
			}
			open = append(open, ws)
		}
		extra := newUser(t, base, "Net4", "male", "caps", "female")
		_, res, err := dial(extra)
		if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
			res.Header.Get("RateLimit") != `"sockets";r=0` || res.Header.Get("RateLimit-Policy") != `"sockets";q=4;qu="concurrent-requests";spinmatch-scope="address"` {
			t.Fatalf("5th socket from 127.0.0.8: %v %v", res, err)
		}
		if v := metric(t, base, `spinmatch_rate_limited_total{action="sockets",scope="address"}`); v < 1 {
			t.Fatalf("address socket cap refusals: %v", v)
		}
		// A socket closes: its lease is released and a new one fits.
		_ = open[0].Close()
		waitFor(t, 5*time.Second, "a socket after one closed", func() bool {
			ws, _, err := dial(extra)
			if err != nil {
				return false
			}
			ws.Close()
			return true
		})
		for _, ws := range open[1:] {
			ws.Close()
		}
	})
}

// expectWithin2 reads frames, skipping wait_update, until one of type a or b.
func (c *client) expectWithin2(a, b string) frame {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("%s: waiting for %q or %q: %v", c.u.name, a, b, err)
		}
		if t := f.str("type"); t == a || t == b {
			return f
		}
		if f.str("type") != "wait_update" {
			c.t.Fatalf("%s: want %q or %q, got %v", c.u.name, a, b, f)
		}
	}
}
