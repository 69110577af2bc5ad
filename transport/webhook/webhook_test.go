package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// hook is a webhook stand-in on 127.0.0.1 that answers each POST with the
// next status of its script (200 once the script is spent) and records
// when each POST arrived.
type hook struct {
	mu     sync.Mutex
	script []int
	at     []time.Time
	bodies []string
	block  chan struct{} // when set, the first POST hangs until the client gives up
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.at = append(h.at, time.Now())
	h.bodies = append(h.bodies, string(b))
	first := len(h.at) == 1
	status := http.StatusOK
	if len(h.script) > 0 {
		status, h.script = h.script[0], h.script[1:]
	}
	h.mu.Unlock()
	if first && h.block != nil {
		<-r.Context().Done()
		return
	}
	w.WriteHeader(status)
}

func (h *hook) arrivals() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.at...)
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newSender(t *testing.T, url string, cfg Config) (*Sender, *Metrics) {
	t.Helper()
	cfg.URL, cfg.Metrics = url, NewMetrics(nil)
	if cfg.FirstRetry == 0 {
		cfg.FirstRetry, cfg.MaxRetry = 40*time.Millisecond, 100*time.Millisecond
	}
	s := New(cfg)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, cfg.Metrics
}

func TestRetriesWithBackoffAfter500(t *testing.T) {
	h := &hook{script: []int{500, 500, 503}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	s, m := newSender(t, srv.URL, Config{Attempts: 5})
	if !s.Send(map[string]string{"rule": "imbalance", "state": "firing"}) {
		t.Fatal("not queued")
	}
	eventually(t, 5*time.Second, "delivery", func() bool { return testutil.ToFloat64(m.Deliveries.WithLabelValues(Delivered)) == 1 })
	at := h.arrivals()
	if len(at) != 4 {
		t.Fatalf("POSTs = %d, want 4 (3 refused, 1 taken)", len(at))
	}
	// Backoff: 40 ms, 80 ms, then capped at 100 ms.
	for i, want := range []time.Duration{40 * time.Millisecond, 80 * time.Millisecond, 100 * time.Millisecond} {
		if gap := at[i+1].Sub(at[i]); gap < want {
			t.Errorf("gap %d = %v, want at least %v", i, gap, want)
		}
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(h.bodies[3]), &got); err != nil || got["rule"] != "imbalance" {
		t.Fatalf("body %q: %v", h.bodies[3], err)
	}
	if n := testutil.ToFloat64(m.Attempts.WithLabelValues("error")); n != 3 {
		t.Fatalf("failed attempts = %v", n)
	}
}

func TestGivesUpOnADownWebhook(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook/secret-path-token"
	_ = ln.Close() // nothing listens there now: connection refused
	var logs syncBuf
	s, m := newSender(t, url, Config{Attempts: 3, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	start := time.Now()
	s.Send("x")
	eventually(t, 5*time.Second, "giving up", func() bool { return testutil.ToFloat64(m.Deliveries.WithLabelValues(Failed)) == 1 })
	if took := time.Since(start); took < 120*time.Millisecond {
		t.Fatalf("gave up after %v: the two retries wait 40+80 ms", took)
	}
	if n := testutil.ToFloat64(m.Attempts.WithLabelValues("error")); n != 3 {
		t.Fatalf("attempts = %v, want 3", n)
	}
	if out := logs.String(); !strings.Contains(out, "giving up") || strings.Contains(out, "secret-path-token") {
		t.Fatalf("logs must say it gave up and never name the URL:\n%s", out)
	}
}

// syncBuf is a bytes.Buffer safe for the sender's goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSlowWebhookIsRetriedAndNeverBlocksSend(t *testing.T) {
	h := &hook{block: make(chan struct{})}
	srv := httptest.NewServer(h)
	defer srv.Close()
	s, m := newSender(t, srv.URL, Config{Client: &http.Client{Timeout: 150 * time.Millisecond}, Queue: 4, Attempts: 3})
	start := time.Now()
	for i := range 20 {
		if !s.Send(i) {
			t.Fatalf("Send %d refused", i)
		}
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Fatalf("20 Sends took %v while the webhook hangs", took)
	}
	// The queue keeps the newest 4 (+1 possibly taken already): the oldest go.
	dropped := int(testutil.ToFloat64(m.Deliveries.WithLabelValues(Dropped)))
	if dropped < 15 || dropped > 16 {
		t.Fatalf("dropped = %d, want 16 (15 with the first in flight)", dropped)
	}
	// The hanging first POST times out and is retried; then all go through.
	eventually(t, 5*time.Second, "deliveries", func() bool {
		return int(testutil.ToFloat64(m.Deliveries.WithLabelValues(Delivered))) == 20-dropped
	})
	if len(h.arrivals()) != 20-dropped+1 {
		t.Fatalf("POSTs = %d, want %d (one retry)", len(h.arrivals()), 20-dropped+1)
	}
	h.mu.Lock()
	last := h.bodies[len(h.bodies)-4:]
	h.mu.Unlock()
	if strings.Join(last, ",") != "16,17,18,19" {
		t.Fatalf("the last POSTs carried %v, want the newest 16..19 in order", last)
	}
}

// alertDoc is an alert change as the node sends it.
func alertDoc(rule, pool, state string) map[string]string {
	return map[string]string{"type": "alert", "rule": rule, "pool": pool, "state": state}
}

// TestResolveReplacesItsQueuedFiring: while the receiver is slow, a firing
// still queued is replaced by its resolve (the receiver ends with the
// latest state), another alert's firing stays, and a full queue drops its
// oldest firing, never a resolve while a firing is left to drop.
func TestResolveReplacesItsQueuedFiring(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a map[string]string
		_ = json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		got = append(got, a)
		first := len(got) == 1
		mu.Unlock()
		if first {
			<-release // the receiver is slow with the first one
		}
	}))
	defer srv.Close()
	defer close(release)
	s, m := newSender(t, srv.URL, Config{Queue: 3})
	s.Send(alertDoc("node_lost", "", "firing")) // taken at once, held by the receiver
	eventually(t, 5*time.Second, "first POST", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	s.Send(alertDoc("imbalance", "a", "firing"))
	s.Send(alertDoc("imbalance", "b", "firing"))
	s.Send(alertDoc("imbalance", "a", "resolved")) // replaces a's firing: b firing, a resolved
	s.Send(alertDoc("wait_p90", "c", "resolved"))  // 3 queued now
	s.Send(alertDoc("imbalance", "d", "resolved")) // full: b's firing (the oldest firing) goes
	if d := testutil.ToFloat64(m.Deliveries.WithLabelValues(Dropped)); d != 2 {
		t.Fatalf("dropped = %v, want 2 (a's firing replaced, b's firing for room)", d)
	}
	release <- struct{}{}
	eventually(t, 5*time.Second, "deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 4 })
	mu.Lock()
	defer mu.Unlock()
	var order []string
	for _, a := range got[1:] {
		order = append(order, a["rule"]+"/"+a["pool"]+"/"+a["state"])
	}
	if want := "imbalance/a/resolved,wait_p90/c/resolved,imbalance/d/resolved"; strings.Join(order, ",") != want {
		t.Fatalf("delivered %v, want %s", order, want)
	}
}

// TestGivesUpOnAnOldAlert: an alert older than MaxAge is given up even
// with attempts left, so the next one is not held behind it for long.
func TestGivesUpOnAnOldAlert(t *testing.T) {
	var mu sync.Mutex
	var refused, taken []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(string(b), `"pool":"a"`) { // pool a's receiver is broken
			refused = append(refused, time.Now())
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		taken = append(taken, time.Now())
	}))
	defer srv.Close()
	const maxAge = 300 * time.Millisecond
	s, m := newSender(t, srv.URL, Config{Attempts: 1000, MaxAge: maxAge, FirstRetry: 40 * time.Millisecond, MaxRetry: 40 * time.Millisecond})
	start := time.Now()
	s.Send(alertDoc("imbalance", "a", "firing"))
	eventually(t, 5*time.Second, "three refused POSTs", func() bool { mu.Lock(); defer mu.Unlock(); return len(refused) >= 3 })
	s.Send(alertDoc("imbalance", "b", "firing"))
	eventually(t, 5*time.Second, "the second delivered", func() bool { return testutil.ToFloat64(m.Deliveries.WithLabelValues(Delivered)) == 1 })
	if f := testutil.ToFloat64(m.Deliveries.WithLabelValues(Failed)); f != 1 {
		t.Fatalf("failed = %v, want the first given up (too old)", f)
	}
	mu.Lock()
	defer mu.Unlock()
	// No attempt starts after MaxAge; one that started just before it
	// may reach the receiver a little later on a busy machine (it was
	// seen 0.4 ms late): a POST's own time is allowed on top.
	const postTime = 100 * time.Millisecond
	if last := refused[len(refused)-1].Sub(start); last > maxAge+postTime {
		t.Fatalf("the old alert was still tried %v after it was queued (max age %v, and %v for the POST)", last, maxAge, postTime)
	}
	if len(refused) > 10 {
		t.Fatalf("%d POSTs of the old alert, want about %v/40ms", len(refused), maxAge)
	}
}

// TestRedirectIsNotFollowed: a 307 to another address is a failed
// attempt; the POST never reaches the other address.
func TestRedirectIsNotFollowed(t *testing.T) {
	elsewhere := &hook{}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		client *http.Client
	}{{"default client", nil}, {"caller's client", &http.Client{Timeout: time.Second}}} {
		t.Run(tc.name, func(t *testing.T) {
			s, m := newSender(t, srv.URL, Config{Client: tc.client, Attempts: 2})
			s.Send(alertDoc("imbalance", "a", "firing"))
			eventually(t, 5*time.Second, "giving up", func() bool { return testutil.ToFloat64(m.Deliveries.WithLabelValues(Failed)) == 1 })
			if n := len(elsewhere.arrivals()); n != 0 {
				t.Fatalf("the redirect was followed: %d POSTs elsewhere", n)
			}
		})
	}
}

func TestShutdownEndsARetry(t *testing.T) {
	h := &hook{script: []int{500, 500, 500, 500}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := New(Config{URL: srv.URL, FirstRetry: time.Hour, Metrics: NewMetrics(nil)})
	s.Send("x")
	eventually(t, 5*time.Second, "first POST", func() bool { return len(h.arrivals()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
