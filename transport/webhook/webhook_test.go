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
	queued := 0
	for i := range 20 {
		if s.Send(i) {
			queued++
		}
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Fatalf("20 Sends took %v while the webhook hangs", took)
	}
	if queued < 4 || queued > 5 {
		t.Fatalf("queued %d, want the queue's 4 (+1 being delivered)", queued)
	}
	if d := testutil.ToFloat64(m.Deliveries.WithLabelValues(Dropped)); int(d) != 20-queued {
		t.Fatalf("dropped = %v, want %d", d, 20-queued)
	}
	// The hanging first POST times out and is retried; then all go through.
	eventually(t, 5*time.Second, "deliveries", func() bool {
		return int(testutil.ToFloat64(m.Deliveries.WithLabelValues(Delivered))) == queued
	})
	if len(h.arrivals()) != queued+1 {
		t.Fatalf("POSTs = %d, want %d (one retry)", len(h.arrivals()), queued+1)
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
