package actors

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// TestLocalSendsAcknowledgedWithoutFutures: one-way sends to a local
// session are acknowledged through the Router's acks process, and one to
// an activation that passivated since it was cached comes back as a dead
// letter and is delivered to a new activation at once: well within one
// attempt (3 s), which is what a lost dead letter would cost.
func TestLocalSendsAcknowledgedWithoutFutures(t *testing.T) {
	cfg := TestConfig()
	cfg.SessionIdle = 200 * time.Millisecond
	cfg.Refresh = time.Hour
	cfg.WaitUpdateMax = time.Hour
	cfg.ReconnectGrace = time.Hour
	w := &idleWatch{kind: KindUserSession, id: "ann"}
	var detaches atomic.Int64 // Detaches Ann's activations processed
	sys, d := boundedNode(t, cfg, &testHooks{message: func(kind, id string, m any) {
		w.see(kind, id, m)
		if _, ok := m.(*msg.Detach); ok && kind == KindUserSession && id == "ann" {
			detaches.Add(1)
		}
	}})
	r := d.Router
	ghost := &actor.PID{Address: "nonhost", Id: "gone"}
	deliver := func() time.Duration {
		t.Helper()
		start := time.Now()
		done := make(chan bool, 1)
		sys.DeliverThen("ann", &msg.Detach{Conn: ghost}, func(ok bool) { done <- ok })
		select {
		case ok := <-done:
			if !ok {
				t.Fatal("a Detach to a local session was not delivered")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a Detach to a local session never reported")
		}
		return time.Since(start)
	}
	deliver() // activates Ann, caches her PID
	for range 50 {
		deliver()
	}
	if r.acks == nil || r.acks.pending() != 0 {
		t.Fatal("the acks process holds sends that were acknowledged")
	}
	pid := r.cached(KindUserSession, "ann")
	if pid == nil || pid.Address != r.self {
		t.Fatalf("Ann's activation is not cached as local (%v): the acks path was not taken", pid)
	}
	clustertest.Eventually(t, 5*time.Second, "Ann's session to passivate", func() bool { return w.stops.Load() == 1 })
	if n := detaches.Load(); n != 51 {
		t.Fatalf("Ann processed %d Detaches, want the 51 acknowledged", n)
	}
	if took := deliver(); took >= sendAttempt/2 {
		t.Fatalf("a send to a passivated activation took %v: its dead letter was not seen", took)
	}
	if n := detaches.Load(); n != 52 {
		t.Fatalf("Ann processed %d Detaches, want 52: the one sent after she passivated was acknowledged undelivered", n)
	}
	if w.stops.Load() != 1 {
		t.Fatal("the new activation stopped early")
	}
	clustertest.Eventually(t, 5*time.Second, "nothing left to acknowledge", func() bool { return r.acks.pending() == 0 })
}
