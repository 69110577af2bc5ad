package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/alert"
)

// alertHook stands in for ALERT_WEBHOOK_URL on 127.0.0.1: it refuses the
// first refuse POSTs with 500 and records the alerts it accepted.
type alertHook struct {
	mu       sync.Mutex
	refuse   int
	attempts int
	got      []actors.Alert
}

func (h *alertHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts++
	if h.refuse > 0 {
		h.refuse--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var a actors.Alert
	if err := json.Unmarshal(b, &a); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.got = append(h.got, a)
}

// about returns the accepted alerts of rule in pool.
func (h *alertHook) about(rule, pool string) []actors.Alert {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []actors.Alert
	for _, a := range h.got {
		if a.Rule == rule && a.Pool == pool {
			out = append(out, a)
		}
	}
	return out
}

// alertTestConfig is a node whose imbalance rule trips at 2 waiting on one
// side (ratio above 1), held for 0.5 s, and whose other rules stay quiet.
func alertTestConfig(t testing.TB, hookURL string) Config {
	cfg := testConfig(t)
	cfg.Actors.Alerts = actors.AlertConfig{Interval: 200 * time.Millisecond, Thresholds: alert.Thresholds{
		For: 500 * time.Millisecond, WaitP90: time.Hour, Imbalance: 1, MinWaiting: 2, StoreErrorsPerMin: 1e6,
	}}
	cfg.Alerts = alertsConfig{WebhookURL: hookURL, WebhookRetry: 50 * time.Millisecond}
	return cfg
}

func onlyPool(as []actors.Alert, rule, pool string) []actors.Alert {
	var out []actors.Alert
	for _, a := range as {
		if a.Rule == rule && a.Pool == pool {
			out = append(out, a)
		}
	}
	return out
}

// TestAlertFiresAndResolvesOnce drives a pool over real sockets into an
// imbalance (three men seeking women, nobody else) and out of it (they
// cancel), and sees exactly one firing and one resolve at the webhook
// (whose first POST is refused with 500 and retried), through
// AlertsSince, and in GET /api/admin/alerts.
func TestAlertFiresAndResolvesOnce(t *testing.T) {
	hook := &alertHook{refuse: 1}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	n := startNode(t, alertTestConfig(t, srv.URL))
	base := "http://" + n.Addr()
	pool := fmt.Sprintf("alerts%d", userSeq.Add(1))

	var men []*user
	var clients []*client
	for i := range 3 {
		u := newUser(t, base, fmt.Sprintf("M%d", i), "male", pool, "female")
		c, _ := u.dial(t)
		c.spin()
		men, clients = append(men, u), append(clients, c)
	}
	waitFor(t, 10*time.Second, "imbalance firing at the webhook", func() bool { return len(hook.about("imbalance", pool)) >= 1 })
	fired := hook.about("imbalance", pool)[0]
	if fired.State != "firing" || fired.Severity != "warning" || fired.Type != "alert" || fired.Seq == 0 || fired.Message == "" {
		t.Fatalf("firing alert = %+v", fired)
	}
	st, body := rest(t, base, nil, http.MethodGet, "/api/admin/alerts", nil)
	if st != http.StatusOK {
		t.Fatalf("GET /api/admin/alerts: %d %v", st, body)
	}
	if f, _ := body["firing"].([]any); len(f) != 1 || frame(f[0].(map[string]any)).str("pool") != pool {
		t.Fatalf("firing = %v", body["firing"])
	}

	for _, u := range men {
		if st, body := rest(t, base, u, http.MethodDelete, "/api/spin", nil); st != http.StatusOK {
			t.Fatalf("cancel: %d %v", st, body)
		}
	}
	waitFor(t, 10*time.Second, "resolve at the webhook", func() bool { return len(hook.about("imbalance", pool)) >= 2 })
	// Several evaluations later, still exactly one of each.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if got := hook.about("imbalance", pool); len(got) != 2 {
			t.Fatalf("webhook got %d imbalance alerts, want 2: %+v", len(got), got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := hook.about("imbalance", pool)
	if got[1].State != "resolved" || got[1].Seq <= got[0].Seq || got[1].At.Before(got[0].At) {
		t.Fatalf("resolve = %+v after %+v", got[1], got[0])
	}
	hook.mu.Lock()
	attempts := hook.attempts
	hook.mu.Unlock()
	if attempts != 3 {
		t.Fatalf("webhook POSTs = %d, want 3 (one refused and retried)", attempts)
	}

	// The stream's source: each change once, oldest first, by seq.
	ctx := context.Background()
	changes := onlyPool(n.sys.AlertsSince(ctx, 0), "imbalance", pool)
	if len(changes) != 2 || changes[0].State != "firing" || changes[1].State != "resolved" || changes[0].Seq != got[0].Seq {
		t.Fatalf("AlertsSince(0) = %+v", changes)
	}
	if after := onlyPool(n.sys.AlertsSince(ctx, changes[0].Seq), "imbalance", pool); len(after) != 1 || after[0].Seq != changes[1].Seq {
		t.Fatalf("AlertsSince(first) = %+v", after)
	}
	if after := n.sys.AlertsSince(ctx, changes[1].Seq); len(after) != 0 {
		t.Fatalf("AlertsSince(last) = %+v", after)
	}
	if f := onlyPool(n.sys.AlertsFiring(ctx), "imbalance", pool); len(f) != 0 {
		t.Fatalf("still firing: %+v", f)
	}
	_, body = rest(t, base, nil, http.MethodGet, "/api/admin/alerts", nil)
	recent, _ := body["recent"].([]any)
	if len(recent) < 2 || frame(recent[0].(map[string]any)).str("state") != "resolved" {
		t.Fatalf("recent (newest first) = %v", body["recent"])
	}
	// The hour's report counts the firing (not the resolve).
	if st, body := rest(t, base, nil, http.MethodPost, "/api/admin/reports/run?period=hour", nil); st != http.StatusOK || body.num("alerts_fired") < 1 {
		t.Fatalf("report: %d %v", st, body)
	}
}

// TestAdminAlertsNeedsTheKey: GET /api/admin/alerts is an admin route: 404
// in production without ADMIN_API_KEY, 401 without the key or with a
// wrong one, 200 with it.
func TestAdminAlertsNeedsTheKey(t *testing.T) {
	get := func(base string, h http.Header) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/api/admin/alerts", nil)
		req.Header = h
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	t.Run("production, no key configured", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Development = false
		if code := get("http://"+startNode(t, cfg).Addr(), http.Header{"X-Admin-Key": {"guess"}}); code != 404 {
			t.Fatalf("%d, want 404", code)
		}
	})
	t.Run("production, key configured", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Development, cfg.AdminKey = false, "alerts-admin-key"
		base := "http://" + startNode(t, cfg).Addr()
		for _, tc := range []struct {
			name string
			h    http.Header
			want int
		}{
			{"no key", http.Header{}, 401},
			{"wrong key", http.Header{"X-Admin-Key": {"alerts-admin-kez"}}, 401},
			{"key", http.Header{"X-Admin-Key": {"alerts-admin-key"}}, 200},
		} {
			if code := get(base, tc.h); code != tc.want {
				t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
			}
		}
	})
}
