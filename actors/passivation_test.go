package actors

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// idleWatch counts the receive timeouts and stops of one grain.
type idleWatch struct {
	kind, id string
	timeouts atomic.Int64
	stops    atomic.Int64
}

func (w *idleWatch) see(kind, id string, m any) {
	if kind != w.kind || id != w.id {
		return
	}
	switch m.(type) {
	case *actor.ReceiveTimeout:
		w.timeouts.Add(1)
	case *actor.Stopping:
		w.stops.Add(1)
	}
}

// TestBusySessionPassivatesLater: protoactor fires a receive timeout once.
// A session that is queued when it first fires must still passivate once
// it is idle again (before, it lived until its node restarted).
func TestBusySessionPassivatesLater(t *testing.T) {
	cfg := TestConfig()
	cfg.SessionIdle = 300 * time.Millisecond
	cfg.Refresh = time.Hour // no re-announcements: the session's mailbox stays quiet
	cfg.WaitUpdateMax = time.Hour
	cfg.ReconnectGrace = time.Hour
	w := &idleWatch{kind: KindUserSession, id: "ann"}
	sys, _ := boundedNode(t, cfg, &testHooks{message: w.see})
	putProfile(t, sys, "ann", "female", "quiet", "male")
	if q := command(t, sys, "ann", spinCmd()).GetQueued(); q == nil {
		t.Fatal("Ann was not queued")
	}
	clustertest.Eventually(t, 5*time.Second, "a receive timeout while Ann is queued", func() bool { return w.timeouts.Load() >= 1 })
	if w.stops.Load() != 0 {
		t.Fatal("a queued session passivated")
	}
	if c := command(t, sys, "ann", cancelCmd()).GetCancelled(); c == nil {
		t.Fatal("Ann's cancel failed")
	}
	clustertest.Eventually(t, 5*time.Second, "the idle session to passivate", func() bool { return w.stops.Load() == 1 })
}

// TestBusyLimiterPassivatesLater: a Limiter grain whose budget has not
// refilled at its first receive timeout passivates once it has.
func TestBusyLimiterPassivatesLater(t *testing.T) {
	cfg := TestConfig()
	cfg.Limits = LimitConfig{Budgets: limit.Off(), Idle: 200 * time.Millisecond}
	cfg.Limits.Address[limit.Spin] = limit.Rate{PerSecond: 1, Burst: 1} // refills in 1 s: five idle periods
	const key = "ip:192.0.2.7"
	w := &idleWatch{kind: KindLimiter, id: key}
	sys, _ := boundedNode(t, cfg, &testHooks{message: w.see})
	if d, _ := sys.TakeAddress(context.Background(), key, limit.Spin, ""); !d.Allowed {
		t.Fatalf("first spin refused: %+v", d)
	}
	clustertest.Eventually(t, 5*time.Second, "a receive timeout with the budget spent", func() bool { return w.timeouts.Load() >= 1 })
	clustertest.Eventually(t, 5*time.Second, "the refilled limiter to passivate", func() bool { return w.stops.Load() == 1 })
	if n := w.timeouts.Load(); n < 2 {
		t.Fatalf("passivated after %d receive timeouts; the first found the budget spent", n)
	}
}
