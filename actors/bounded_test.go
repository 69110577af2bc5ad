package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// boundedNode starts a one-node cluster whose grains call hooks.
func boundedNode(t *testing.T, cfg Config, hooks *testHooks) (*System, *Deps) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster node")
	}
	return boundedNodeWith(t, &Deps{Config: cfg, Logger: clustertest.Logger(), Metrics: NewMetrics(prometheus.NewRegistry()), hooks: hooks})
}

// boundedNodeWith is boundedNode with the caller's Deps (a nil Store is
// a fresh memory store).
func boundedNodeWith(t *testing.T, d *Deps) (*System, *Deps) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster node")
	}
	if d.Store == nil {
		d.Store = memory.New()
	}
	node := clustertest.Local(t, Kinds(d)...)
	return NewSystem(node.Cluster(), d), d
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func putProfile(t *testing.T, sys *System, id, gender, pool string, seeking ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := sys.PutProfile(ctx, id, &msg.ProfileData{DisplayName: id, Gender: gender, Seeking: seeking, Pool: pool})
	if err != nil || r.Error != nil {
		t.Fatalf("profile %s: %v %v", id, err, r.GetError())
	}
}

func command(t *testing.T, sys *System, id string, cmd *msg.Command) *msg.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := sys.Command(ctx, id, cmd)
	if err != nil {
		t.Fatalf("%s: command: %v", id, err)
	}
	return ev
}

// poolWatch counts what one pool's activations receive.
type poolWatch struct {
	pool     string
	ticks    atomic.Int64
	starts   atomic.Int64
	stops    atomic.Int64
	lastTick atomic.Int64 // unix nanoseconds
	stopAt   atomic.Int64 // unix nanoseconds of the last Stopping
}

func (w *poolWatch) see(kind, id string, m any) {
	if kind != KindMatchPool {
		return
	}
	switch m.(type) {
	case *actor.Started:
		// The identity is not known before Started: count every pool's
		// start only when it is ours (p.name is set from the second
		// instance on; the test pools are the only ones started twice).
		if id == w.pool || id == "" {
			w.starts.Add(1)
		}
	case waitTick:
		if id == w.pool {
			w.ticks.Add(1)
			w.lastTick.Store(time.Now().UnixNano())
		}
	case *actor.Stopping:
		if id == w.pool {
			w.stops.Add(1)
			w.stopAt.Store(time.Now().UnixNano())
		}
	}
}

// ticksIn returns how many wait ticks the pool handles during d.
func (w *poolWatch) ticksIn(d time.Duration) int64 {
	n := w.ticks.Load()
	time.Sleep(d) // a measuring window, not a wait for a condition
	return w.ticks.Load() - n
}

// TestPoolRestartKeepsOneTickChain forces a panic in a busy pool grain:
// the supervisor's fresh instance must tick at the configured rate (the old
// instance's timer stopped at Restarting, and a tick of the old instance
// already in the mailbox is dropped: not a second chain), and neither
// the pool gauge nor the session gauge may count the restarted grain twice.
func TestPoolRestartKeepsOneTickChain(t *testing.T) {
	cfg := TestConfig()
	cfg.WaitTick = 50 * time.Millisecond
	cfg.ReconnectGrace = time.Minute // Ann (no socket) keeps her place throughout
	w := &poolWatch{pool: "restart"}
	var panicPool, panicSession atomic.Bool
	var restarted atomic.Int64
	hooks := &testHooks{message: func(kind, id string, m any) {
		w.see(kind, id, m)
		if _, ok := m.(*actor.Restarting); ok {
			restarted.Add(1)
		}
		if _, ok := m.(*msg.PoolStatsRequest); ok && kind == KindMatchPool && id == w.pool && panicPool.CompareAndSwap(true, false) {
			// Hold the grain past its tick timer, so a tick of the old
			// instance waits in the mailbox as the supervisor replaces it
			// (a stale tick must not start a second chain in the new one).
			time.Sleep(3 * cfg.WaitTick)
			panic("forced pool panic (test)")
		}
		if _, ok := m.(*msg.GetProfile); ok && kind == KindUserSession && id == "ann" && panicSession.CompareAndSwap(true, false) {
			panic("forced session panic (test)")
		}
	}}
	sys, d := boundedNode(t, cfg, hooks)
	putProfile(t, sys, "ann", "female", w.pool, "male")
	if q := command(t, sys, "ann", spinCmd()).GetQueued(); q == nil {
		t.Fatal("Ann was not queued")
	}
	window := time.Second
	want := int64(window / cfg.WaitTick)
	clustertest.Eventually(t, 5*time.Second, "the pool to tick", func() bool { return w.ticks.Load() > 3 })
	if n := w.ticksIn(window); n > want*3/2 || n < want/3 {
		t.Fatalf("%d ticks in %v before the restart, want about %d", n, window, want)
	}
	pools, sessions := gauge(t, d.Metrics.PoolsActive), gauge(t, d.Metrics.Sessions)

	panicPool.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ask[*msg.PoolStats](ctx, d, w.pool, KindMatchPool, &msg.PoolStatsRequest{}, 10*time.Second); err != nil {
		t.Fatalf("pool stats after the forced panic: %v", err)
	}
	if panicPool.Load() || restarted.Load() != 1 {
		t.Fatalf("the pool did not panic and restart once (restarts %d)", restarted.Load())
	}
	if n := w.ticksIn(window); n > want*3/2 || n < want/3 {
		t.Fatalf("%d ticks in %v after the restart, want about %d: the old instance's tick chain runs on", n, window, want)
	}
	if got := gauge(t, d.Metrics.PoolsActive); got != pools {
		t.Fatalf("pools active %v after the restart, want %v", got, pools)
	}

	panicSession.Store(true)
	if r, err := sys.Profile(ctx, "ann"); err != nil || r.Profile == nil {
		t.Fatalf("profile after the forced session panic: %v %v", err, r)
	}
	if panicSession.Load() || restarted.Load() != 2 {
		t.Fatalf("the session did not panic and restart once (restarts %d)", restarted.Load())
	}
	if got := gauge(t, d.Metrics.Sessions); got != sessions {
		t.Fatalf("sessions %v after the restart, want %v", got, sessions)
	}
	// The restarted session still holds Ann's place (restored from the store).
	if st := command(t, sys, "ann", statusCmd()).GetState(); st.GetState() != StateQueued {
		t.Fatalf("Ann after the session restart: %v", st)
	}
}

// TestIdlePoolStopsTickingAndPassivates: a pool ticks while somebody is in
// it, stops ticking when the last waiter leaves, passivates after PoolIdle
// and wakes on the next spin.
func TestIdlePoolStopsTickingAndPassivates(t *testing.T) {
	cfg := TestConfig()
	cfg.WaitTick = 50 * time.Millisecond
	cfg.PoolIdle = 400 * time.Millisecond
	cfg.ReconnectGrace = time.Minute
	w := &poolWatch{pool: "idle"}
	sys, d := boundedNode(t, cfg, &testHooks{message: w.see})
	putProfile(t, sys, "ann", "female", w.pool, "male")
	// Every pool activated so far has nobody in it: it passivates.
	clustertest.Eventually(t, 5*time.Second, "no pool active", func() bool { return gauge(t, d.Metrics.PoolsActive) == 0 })
	base := 0.0

	if q := command(t, sys, "ann", spinCmd()).GetQueued(); q == nil {
		t.Fatal("Ann was not queued")
	}
	clustertest.Eventually(t, 5*time.Second, "the pool to tick", func() bool { return w.ticks.Load() > 3 })
	if got := gauge(t, d.Metrics.PoolsActive); got != base+1 {
		t.Fatalf("pools active %v while Ann waits, want %v", got, base+1)
	}
	if c := command(t, sys, "ann", cancelCmd()).GetCancelled(); c == nil {
		t.Fatal("Ann's cancel failed")
	}
	clustertest.Eventually(t, 5*time.Second, "the empty pool to passivate", func() bool { return w.stops.Load() == 1 })
	if idle := time.Duration(w.stopAt.Load() - w.lastTick.Load()); idle < cfg.PoolIdle*3/4 {
		t.Fatalf("last tick %v before the passivation, want no tick during the %v idle period", idle, cfg.PoolIdle)
	}
	clustertest.Eventually(t, 5*time.Second, "the pool gauge to fall back", func() bool {
		return gauge(t, d.Metrics.PoolsActive) == base
	})
	if n := w.ticksIn(300 * time.Millisecond); n != 0 {
		t.Fatalf("%d ticks after the passivation", n)
	}

	// The next spin wakes it.
	if q := command(t, sys, "ann", spinCmd()).GetQueued(); q.GetQueue().GetPosition() != 1 {
		t.Fatalf("spin into the passivated pool: %v", q)
	}
	clustertest.Eventually(t, 5*time.Second, "the woken pool to tick", func() bool { return w.ticksIn(200*time.Millisecond) > 0 })
	putProfile(t, sys, "bob", "male", w.pool, "female")
	if m := command(t, sys, "bob", spinCmd()); m.GetMatchFound() == nil && m.GetQueued().GetQueue().GetPosition() != 1 {
		t.Fatalf("Bob's spin: %v", m)
	}
	clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be matched", func() bool {
		return command(t, sys, "ann", statusCmd()).GetState().GetState() == StateMatched
	})
}

// TestQueueStatusLeavesOutAPoolThatCannotAnswer: one pool's grain is
// stuck; the others are answered within the per-pool timeout, and the
// stuck one is named, not turned into a failure for all.
func TestQueueStatusLeavesOutAPoolThatCannotAnswer(t *testing.T) {
	cfg := TestConfig()
	release := make(chan struct{})
	var stuck atomic.Bool
	sys, _ := boundedNode(t, cfg, &testHooks{message: func(kind, id string, m any) {
		if _, ok := m.(*msg.PoolStatsRequest); ok && kind == KindMatchPool && id == "stuck" && stuck.Load() {
			<-release
		}
	}})
	unstick := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unstick) // before the node stops (cleanups run last first)
	putProfile(t, sys, "ann", "female", "stuck", "male")
	putProfile(t, sys, "eve", "female", "fine", "male")
	for _, id := range []string{"ann", "eve"} {
		if q := command(t, sys, id, spinCmd()).GetQueued(); q == nil {
			t.Fatalf("%s was not queued", id)
		}
	}
	ctx := context.Background()
	clustertest.Eventually(t, 5*time.Second, "the directory to list both pools", func() bool {
		p := sys.Pools(ctx)
		return slices.Contains(p, "stuck") && slices.Contains(p, "fine")
	})
	stuck.Store(true)
	start := time.Now()
	a := sys.PoolStatsAnswers(ctx)
	took := time.Since(start)
	if took > poolStatsTimeout+2*time.Second {
		t.Fatalf("queue status took %v with one stuck pool", took)
	}
	if !slices.Equal(a.Unavailable, []string{"stuck"}) {
		t.Fatalf("unavailable %q, want [stuck]", a.Unavailable)
	}
	var names []string
	for _, st := range a.Stats {
		names = append(names, st.Pool)
		if st.Pool == "fine" && st.Waiting["female"] != 1 {
			t.Fatalf("fine pool %v, want Eve waiting", st)
		}
	}
	if !slices.Contains(names, "fine") || !slices.Contains(names, DefaultPool) || slices.Contains(names, "stuck") {
		t.Fatalf("answered pools %q, want fine and %s without stuck", names, DefaultPool)
	}
	stuck.Store(false)
	unstick()

	// A caller that hangs up does not poison the shared answer: the
	// fetch does not run on its context.
	time.Sleep(statsTTL) // let the cached answer expire (a TTL, not a wait for a condition)
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if a := sys.PoolStatsAnswers(gone); len(a.Unavailable) != 0 {
		t.Fatalf("a cancelled caller's answer: unavailable %q", a.Unavailable)
	}
	if a := sys.PoolStatsAnswers(ctx); len(a.Unavailable) != 0 || len(a.Stats) < 2 {
		t.Fatalf("the next caller's answer: %d pools, unavailable %q", len(a.Stats), a.Unavailable)
	}
}

func TestPoolLabelsAreBounded(t *testing.T) {
	t.Run("SPIN_POOLS", func(t *testing.T) {
		m := NewMetrics(nil)
		allowed := []string{"eu", "us"}
		for name, want := range map[string]string{"eu": "eu", "us": "us", "asia": OtherPool, "other": OtherPool} {
			if got := m.PoolLabel(allowed, name); got != want {
				t.Fatalf("label of %q = %q, want %q", name, got, want)
			}
		}
	})
	t.Run("first seen", func(t *testing.T) {
		m := NewMetrics(nil)
		labels := map[string]bool{}
		for i := range 3 * maxPoolLabels {
			labels[m.PoolLabel(nil, fmt.Sprintf("p%d", i))] = true
		}
		if len(labels) != maxPoolLabels+1 || !labels[OtherPool] || !labels["p0"] || labels[fmt.Sprintf("p%d", maxPoolLabels)] {
			t.Fatalf("%d labels %v, want the first %d names plus %q", len(labels), labels, maxPoolLabels, OtherPool)
		}
		if got := m.PoolLabel(nil, "p1"); got != "p1" {
			t.Fatalf("a name seen early keeps its label: %q", got)
		}
	})
}

// TestWithdrawnPool: with SPIN_POOLS set, a stored profile that names a
// pool the list no longer has gets profile_incomplete at its spin (the
// page opens the profile form) and is queued once it names a listed pool.
func TestWithdrawnPool(t *testing.T) {
	cfg := TestConfig()
	cfg.Pools = []string{"eu", "us"}
	sys, d := boundedNode(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Store.PutProfile(ctx, persistence.Profile{UserID: "ann", DisplayName: "Ann", Gender: "female", Seeking: []string{"male"}, Pool: "asia"}); err != nil {
		t.Fatal(err)
	}
	e := command(t, sys, "ann", spinCmd()).GetError()
	if e.GetCode() != CodeProfileIncomplete || !strings.Contains(e.GetMessage(), `"asia"`) || !strings.Contains(e.GetMessage(), "eu, us") {
		t.Fatalf("spin from a withdrawn pool: %v, want profile_incomplete naming it and the listed pools", e)
	}
	if r, err := sys.PutProfile(ctx, "ann", &msg.ProfileData{DisplayName: "Ann", Gender: "female", Seeking: []string{"male"}, Pool: "asia"}); err != nil || r.GetError().GetCode() != CodeBadRequest {
		t.Fatalf("profile in the withdrawn pool: %v %v, want bad_request", err, r.GetError())
	}
	putProfile(t, sys, "ann", "female", "us", "male")
	if q := command(t, sys, "ann", spinCmd()).GetQueued(); q.GetQueue().GetPool() != "us" {
		t.Fatalf("spin after choosing a listed pool: %v", q)
	}
}
