package statusws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/transport/clientip"
)

// feed is a fake queue-status source: its body is whatever the test set,
// and it counts its computations.
type feed struct {
	mu    sync.Mutex
	body  []byte
	calls atomic.Int64
}

func (f *feed) set(s string) { f.mu.Lock(); f.body = []byte(s); f.mu.Unlock() }
func (f *feed) get(context.Context) ([]byte, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body, nil
}

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(q string)   { c.mu.Lock(); c.m[q]++; c.mu.Unlock() }
func (c *counts) n(q string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.m[q] }

func writeErr(w http.ResponseWriter, code, message string) {
	status := map[string]int{"forbidden": 403, "unavailable": 503, "rate_limited": 429}[code]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// start serves a Hub; the client address is taken from X-Test-Addr (as the
// edge's middleware would put it in the context).
func start(t *testing.T, cfg Config, f *feed) (*Hub, *counts, string) {
	t.Helper()
	c := &counts{m: map[string]int{}}
	h := New(cfg, f.get, c.add, writeErr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, err := netip.ParseAddr(r.Header.Get("X-Test-Addr")); err == nil {
			r = r.WithContext(clientip.WithAddr(r.Context(), a))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { h.Close(); srv.Close() })
	return h, c, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	c, res, err := websocket.DefaultDialer.Dial(url, hdr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, res, err
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func read(t *testing.T, c *websocket.Conn, d time.Duration) (string, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.ReadMessage()
	return string(b), err
}

// TestFanOut: one computation per interval however many watch; every
// watcher gets the body at once and then only its changes.
func TestFanOut(t *testing.T) {
	f := &feed{}
	f.set(`{"pools":[1]}`)
	const interval = 50 * time.Millisecond
	h, _, url := start(t, Config{Interval: interval, MaxPerAddress: 100}, f)
	var ws []*websocket.Conn
	for range 20 {
		c, _, err := dial(t, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		ws = append(ws, c)
	}
	for i, c := range ws {
		if got, err := read(t, c, 2*time.Second); err != nil || got != `{"pools":[1]}` {
			t.Fatalf("watcher %d first frame %q, %v", i, got, err)
		}
	}
	eventually(t, time.Second, "20 watchers", func() bool { return h.Watchers() == 20 })
	before, t0 := f.calls.Load(), time.Now()
	time.Sleep(10 * interval) // measuring a rate over a fixed span, not waiting for a condition
	calls, ticks := f.calls.Load()-before, int64(time.Since(t0)/interval)
	if calls > ticks+2 {
		t.Fatalf("%d computations in %d intervals with 20 watchers: the cost is not flat", calls, ticks)
	}
	// Unchanged: nothing more was sent.
	if got, err := read(t, ws[0], 3*interval); err == nil {
		t.Fatalf("an unchanged body was sent again: %q", got)
	}
	f.set(`{"pools":[2]}`)
	for i, c := range ws[1:] {
		if got, err := read(t, c, 2*time.Second); err != nil || got != `{"pools":[2]}` {
			t.Fatalf("watcher %d changed frame %q, %v", i+1, got, err)
		}
	}
	// Everyone leaves: the loop stops computing.
	for _, c := range ws {
		c.Close()
	}
	eventually(t, 2*time.Second, "no watchers", func() bool { return h.Watchers() == 0 })
	time.Sleep(3 * interval) // let a tick in flight finish
	stopped := f.calls.Load()
	time.Sleep(5 * interval) // a span in which no computation may happen
	if n := f.calls.Load() - stopped; n != 0 {
		t.Fatalf("%d computations with nobody watching", n)
	}
}

// TestSlowWatcherDropped: a watcher that stops reading fills its bounded
// queue and is dropped; the others keep getting every change meanwhile.
func TestSlowWatcherDropped(t *testing.T) {
	f := &feed{}
	big := strings.Repeat("x", 256<<10)
	var n atomic.Int64
	f.set(`"0"`)
	const interval = 20 * time.Millisecond
	h, c, url := start(t, Config{Interval: interval, SendQueue: 2, WriteWait: 30 * time.Second}, f)
	slow, _, err := dial(t, url, nil) // never reads
	if err != nil {
		t.Fatal(err)
	}
	fast, _, err := dial(t, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = slow
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a new, large body every interval
		for {
			select {
			case <-stop:
				return
			case <-time.After(interval):
				f.set(fmt.Sprintf(`"%d%s"`, n.Add(1), big))
			}
		}
	}()
	got := 0
	deadline := time.Now().Add(20 * time.Second)
	for c.n(QueueSend) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow watcher was never dropped (%d watchers)", h.Watchers())
		}
		if _, err := read(t, fast, 5*time.Second); err != nil {
			t.Fatalf("the fast watcher stalled while the slow one was kept: %v", err)
		}
		got++
	}
	eventually(t, 2*time.Second, "one watcher left", func() bool { return h.Watchers() == 1 })
	for range 3 { // and the fast one carries on
		if _, err := read(t, fast, 2*time.Second); err != nil {
			t.Fatalf("fast watcher after the drop: %v", err)
		}
	}
	t.Logf("fast watcher read %d frames before the slow one was dropped", got)
}

// TestManySlowWatchers: several watchers that stop reading are dropped
// without freezing the stream for the others (before, each drop waited up
// to a second for its close frame), and shutdown with them is quick.
func TestManySlowWatchers(t *testing.T) {
	f := &feed{}
	big := strings.Repeat("x", 256<<10)
	var n atomic.Int64
	f.set(`"0"`)
	const interval = 20 * time.Millisecond
	h, c, url := start(t, Config{Interval: interval, SendQueue: 2, WriteWait: 30 * time.Second}, f)
	const slowOnes = 6
	for range slowOnes {
		if _, _, err := dial(t, url, nil); err != nil { // never read
			t.Fatal(err)
		}
	}
	fast, _, err := dial(t, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(interval):
				f.set(fmt.Sprintf(`"%d%s"`, n.Add(1), big))
			}
		}
	}()
	var worst time.Duration
	deadline := time.Now().Add(20 * time.Second)
	for c.n(QueueSend) < slowOnes {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d slow watchers dropped", c.n(QueueSend), slowOnes)
		}
		t0 := time.Now()
		if _, err := read(t, fast, 5*time.Second); err != nil {
			t.Fatalf("the fast watcher stalled: %v", err)
		}
		worst = max(worst, time.Since(t0))
	}
	if worst > 1500*time.Millisecond {
		t.Fatalf("the fast watcher waited %v for a frame while %d slow ones were dropped", worst, slowOnes)
	}
	t.Logf("longest gap for the fast watcher while %d slow ones were dropped: %v", slowOnes, worst)
	t0 := time.Now()
	h.Close()
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Fatalf("Close took %v", d)
	}
}

// TestRefusals: Origin, the node cap and the per-address cap (exempt
// addresses aside) are checked before the upgrade.
func TestRefusals(t *testing.T) {
	f := &feed{}
	f.set(`{}`)
	ips := clientip.New(nil, []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")})
	h, c, url := start(t, Config{MaxWatchers: 4, MaxPerAddress: 2, ClientIP: ips}, f)
	addr := func(a string) http.Header { return http.Header{"X-Test-Addr": {a}} }
	status := func(res *http.Response) int {
		if res == nil {
			return 0
		}
		return res.StatusCode
	}

	if _, res, err := dial(t, url, http.Header{"Origin": {"http://evil.example"}}); err == nil || status(res) != http.StatusForbidden {
		t.Fatalf("foreign Origin: %v, status %d; want 403", err, status(res))
	}
	for range 2 {
		if _, _, err := dial(t, url, addr("192.0.2.1")); err != nil {
			t.Fatalf("dial: %v", err)
		}
	}
	if _, res, err := dial(t, url, addr("192.0.2.1")); err == nil || status(res) != http.StatusTooManyRequests {
		t.Fatalf("third from one address: %v, status %d; want 429", err, status(res))
	}
	if _, _, err := dial(t, url, addr("192.0.2.2")); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if _, _, err := dial(t, url, addr("10.9.1.1")); err != nil { // exempt: not capped per address
		t.Fatalf("exempt address: %v", err)
	}
	if _, res, err := dial(t, url, addr("10.9.1.1")); err == nil || status(res) != http.StatusServiceUnavailable {
		t.Fatalf("over the node cap: %v, status %d; want 503", err, status(res))
	}
	if n := c.n(QueueWatchers); n != 2 {
		t.Fatalf("refusals counted %d, want 2", n)
	}
	eventually(t, time.Second, "4 watchers", func() bool { return h.Watchers() == 4 })
}

// TestClose: Close ends every watcher with 1001 and refuses new ones.
func TestClose(t *testing.T) {
	f := &feed{}
	f.set(`{}`)
	h, _, url := start(t, Config{}, f)
	c, _, err := dial(t, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, c, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	h.Close()
	_, err = read(t, c, 2*time.Second)
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after Close: %v, want close 1001", err)
	}
	if _, res, err := dial(t, url, nil); err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v; want 503", err)
	}
}
