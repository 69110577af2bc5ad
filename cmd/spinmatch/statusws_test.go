package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors/limit"
)

func statusWSURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/status/ws" }

// TestStatusStream: /status/ws sends the /api/queue/status body at once
// and again when it changes (a spin), refuses a foreign Origin, and its
// upgrades spend the address's rest_public budget.
func TestStatusStream(t *testing.T) {
	n := startNode(t, limitsTestConfig(t))
	base := "http://" + n.Addr()

	ws, _, err := websocket.DefaultDialer.Dial(statusWSURL(base), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	next := func() map[string]any {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("read: %v", err)
		}
		return f
	}
	waitingMen := func(f map[string]any, pool string) float64 {
		ps, _ := f["pools"].([]any)
		for _, p := range ps {
			if m, _ := p.(map[string]any); m["pool"] == pool {
				w, _ := m["waiting"].(map[string]any)
				v, _ := w["male"].(float64)
				return v
			}
		}
		return -1
	}
	first := next()
	if _, ok := first["pools"].([]any); !ok {
		t.Fatalf("first frame %v has no pools", first)
	}
	u := newUser(t, base, "Stan", "male", "sws", "female")
	c, _ := u.dial(t)
	c.spin()
	deadline := time.Now().Add(5 * time.Second)
	for f := next(); waitingMen(f, "sws") != 1; f = next() {
		if time.Now().After(deadline) {
			t.Fatalf("no frame with the spin: last %v", f)
		}
	}
	// The same body as the REST route.
	_, rest := rest(t, base, nil, http.MethodGet, "/api/queue/status", nil)
	if waitingMen(rest, "sws") != 1 {
		t.Fatalf("REST body %v", rest)
	}

	if _, res, err := websocket.DefaultDialer.Dial(statusWSURL(base), http.Header{"Origin": {"http://evil.example"}}); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Origin: %v; want 403", err)
	}

	// Upgrades from one (not exempt) address spend its rest_public budget.
	_, dialer := fromAddr("127.0.0.8")
	pub := limit.Defaults().Address[limit.RestPublic]
	start := time.Now()
	ok, limited := 0, 0
	for i := 0; i < 3*pub.Burst && limited == 0; i++ {
		c, res, err := dialer.Dial(statusWSURL(base), nil)
		switch {
		case err == nil:
			ok++
			c.Close()
			// Wait for the node to see the close, so the per-address watcher cap is not what refuses.
			waitFor(t, 2*time.Second, "watcher gone", func() bool { return statusWatchers(n) == 1 })
		case res != nil && res.StatusCode == http.StatusTooManyRequests:
			if !strings.HasPrefix(res.Header.Get("RateLimit"), `"rest_public";`) {
				t.Fatalf("429 without the rest_public budget's headers: %v", res.Header)
			}
			var body map[string]map[string]string
			_ = json.NewDecoder(res.Body).Decode(&body)
			if body["error"]["code"] != "rate_limited" {
				t.Fatalf("429 body %v", body)
			}
			limited++
		default:
			t.Fatalf("dial %d: %v (%v)", i, err, res)
		}
	}
	if most := float64(pub.Burst) + pub.PerSecond*time.Since(start).Seconds() + 1; limited == 0 || float64(ok) > most {
		t.Fatalf("%d upgrades allowed, %d refused; want a refusal after at most %.0f", ok, limited, most)
	}
	t.Logf("%d upgrades from 127.0.0.8 before the first 429 (rest_public burst %d)", ok, pub.Burst)
}

// statusWatchers reports the node's /status/ws watchers.
func statusWatchers(n *Node) int { return n.edge.StatusWatchers() }
