package adminws

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/actors"
)

// fakeSource counts the snapshots asked for; each takes delay.
type fakeSource struct {
	calls atomic.Int64
	delay time.Duration
}

func (f *fakeSource) SnapshotWithin(context.Context, time.Duration) (*actors.Snapshot, error) {
	f.calls.Add(1)
	time.Sleep(f.delay) // a pool slow to answer
	return &actors.Snapshot{At: time.Now().UTC(), Nodes: []actors.NodeStats{}, Pools: []actors.PoolSnapshot{}, Alerts: []actors.Alert{}}, nil
}

func newClient(queue int) *client {
	return &client{send: make(chan []byte, queue), gone: make(chan struct{})}
}

func recv(t *testing.T, c *client) []byte {
	t.Helper()
	select {
	case f := <-c.send:
		return f
	case <-time.After(2 * time.Second):
		t.Fatal("no frame")
		return nil
	}
}

// TestHubFansOutOneFrame: every client gets the very same bytes of one
// snapshot; a client whose queue is full is dropped and the others go on;
// the cap holds; the ticker stops with the last client.
func TestHubFansOutOneFrame(t *testing.T) {
	src := &fakeSource{}
	var seq atomic.Int64
	alerts := func(_ context.Context, since int64) []actors.Alert {
		if n := seq.Load(); n > since {
			return []actors.Alert{{Rule: "imbalance", State: "firing", Severity: "warning", Seq: n}}
		}
		return nil
	}
	m := NewMetrics(nil)
	h := NewHub(Config{Interval: 20 * time.Millisecond, SendQueue: 2, MaxClients: 3}, src, alerts, m, slog.New(slog.DiscardHandler))
	a, b, slow := newClient(64), newClient(64), newClient(1)
	for _, c := range []*client{a, b, slow} {
		if !h.join(c) {
			t.Fatal("join refused under the cap")
		}
	}
	if h.join(newClient(1)) {
		t.Fatal("a fourth client joined past the cap of 3")
	}
	fa, fb := recv(t, a), recv(t, b)
	if &fa[0] != &fb[0] {
		t.Error("two clients got two encodings of one frame")
	}
	if string(fa[:16]) != `{"type":"stats",` {
		t.Errorf("frame %s", fa)
	}
	select {
	case <-slow.gone: // never read: dropped when its one slot stayed full
	case <-time.After(2 * time.Second):
		t.Fatal("the slow client was not dropped")
	}
	if got := value(t, m.Dropped); got != 1 {
		t.Errorf("dropped %v, want 1", got)
	}
	seq.Store(7)
	deadline := time.After(2 * time.Second)
	for alert := false; !alert; {
		select {
		case f := <-a.send:
			alert = string(f[:16]) == `{"type":"alert",`
		case <-deadline:
			t.Fatal("no alert frame")
		}
	}
	h.leave(a)
	h.leave(b)
	if got := value(t, m.Clients); got != 0 {
		t.Errorf("clients gauge %v, want 0", got)
	}
	h.mu.Lock()
	running := h.stop != nil
	h.mu.Unlock()
	if running {
		t.Error("the ticker still runs with nobody watching")
	}
}

func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestHubCadenceWithSlowSnapshot: while a snapshot takes ten intervals,
// the last frame is sent again every interval.
func TestHubCadenceWithSlowSnapshot(t *testing.T) {
	const interval = 20 * time.Millisecond
	src := &fakeSource{delay: 10 * interval}
	h := NewHub(Config{Interval: interval, SendQueue: 64}, src, nil, nil, slog.New(slog.DiscardHandler))
	c := newClient(64)
	h.join(c)
	defer h.leave(c)
	first := recv(t, c)
	start := time.Now()
	for range 5 {
		if f := recv(t, c); &f[0] != &first[0] {
			t.Fatal("a second snapshot came before the slow one finished")
		}
	}
	if took := time.Since(start); took >= src.delay {
		t.Errorf("5 frames took %v: the ticker waited for the slow snapshot", took)
	}
}

// TestHubStopsWhenTheLastClientIsDropped: the only client never reads; it
// is dropped when its queue is full, and with it the ticker stops: no
// snapshot is computed any more.
func TestHubStopsWhenTheLastClientIsDropped(t *testing.T) {
	const interval = 10 * time.Millisecond
	src := &fakeSource{}
	m := NewMetrics(nil)
	h := NewHub(Config{Interval: interval, SendQueue: 1}, src, nil, m, slog.New(slog.DiscardHandler))
	slow := newClient(1)
	h.join(slow)
	select {
	case <-slow.gone:
	case <-time.After(2 * time.Second):
		t.Fatal("the slow client was not dropped")
	}
	h.mu.Lock()
	running := h.stop != nil
	h.mu.Unlock()
	if running {
		t.Error("the ticker still runs after its last client was dropped")
	}
	if got := value(t, m.Clients); got != 0 {
		t.Errorf("clients gauge %v, want 0", got)
	}
	h.leave(slow) // the handler's deferred leave: a no-op now
	// At most the one refresh already under way when it stopped; a ticker
	// still running would compute one every interval.
	n := src.calls.Load()
	time.Sleep(30 * interval) // asserting that nothing happens takes a wait
	if more := src.calls.Load() - n; more > 1 {
		t.Errorf("%d snapshots computed with nobody watching", more)
	}
}

// TestHubSendsHistoryFirst: points are sampled while nobody watches; a new
// client's first frame is the history with those points, oldest first,
// and the ring keeps HistoryLen.
func TestHubSendsHistoryFirst(t *testing.T) {
	src := &fakeSource{}
	h := NewHub(Config{Interval: time.Hour, HistoryStep: 5 * time.Millisecond, HistoryLen: 4}, src, nil, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(h.CloseAll)
	deadline := time.Now().Add(5 * time.Second)
	for src.calls.Load() < 6 {
		if time.Now().After(deadline) {
			t.Fatal("the sampler took no snapshot while nobody watched")
		}
		time.Sleep(time.Millisecond)
	}
	joined := time.Now().UTC()
	c := newClient(8)
	h.join(c)
	defer h.leave(c)
	var f struct {
		Type   string  `json:"type"`
		Points []Point `json:"points"`
	}
	if err := json.Unmarshal(recv(t, c), &f); err != nil || f.Type != "history" {
		t.Fatalf("first frame: %+v %v, want the history", f, err)
	}
	if len(f.Points) != 4 {
		t.Fatalf("%d points, want the ring's 4", len(f.Points))
	}
	for i, p := range f.Points {
		if !p.At.Before(joined) || (i > 0 && !p.At.After(f.Points[i-1].At)) {
			t.Fatalf("points %+v: want taken before the join (%v), oldest first", f.Points, joined)
		}
	}
	if b := recv(t, c); string(b[:16]) != `{"type":"stats",` {
		t.Fatalf("second frame %s, want stats", b)
	}
}

func TestPointOf(t *testing.T) {
	snap := &actors.Snapshot{Pools: []actors.PoolSnapshot{
		{Waiting: map[string]int{"male": 3, "female": 1}, MatchesPerMin: 3, MatchSuccessRate: 0.5},
		{Waiting: map[string]int{"male": 2}, MatchesPerMin: 1, MatchSuccessRate: 1},
		{Waiting: map[string]int{"female": 4}},
	}}
	p := PointOf(snap)
	if p.Waiting != 10 || p.MatchesPerMin != 4 || p.SuccessRate == nil || *p.SuccessRate != 0.625 {
		t.Fatalf("point %+v", p)
	}
	if p := PointOf(&actors.Snapshot{}); p.SuccessRate != nil {
		t.Fatalf("no matches: success rate %v, want null", *p.SuccessRate)
	}
}
