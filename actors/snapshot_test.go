package actors

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// snapshotNode starts a one-node cluster whose pools hold waiters
// enqueued directly (no sessions); the pools never tick, so nothing is
// pushed to sessions that do not exist.
func snapshotNode(tb testing.TB, pools, perPool int) *System {
	tb.Helper()
	cfg := TestConfig()
	cfg.WaitTick, cfg.Refresh, cfg.WaitUpdateMax = time.Hour, time.Hour, time.Hour
	d := &Deps{Config: cfg, Store: memory.New(), Logger: clustertest.Logger(), Metrics: NewMetrics(prometheus.NewRegistry()), NodeName: "bench"}
	sys := NewSystem(clustertest.Local(tb, Kinds(d)...).Cluster(), d)
	ctx := context.Background()
	now := time.Now()
	for p := range pools {
		name := fmt.Sprintf("pool-%03d", p)
		for i := range perPool {
			w := &msg.Waiter{UserId: fmt.Sprintf("%s-u%d", name, i), DisplayName: "W", Gender: "male", Seeking: []string{"female"},
				EnqueuedAtMs: ms(now.Add(-time.Duration(perPool-i) * time.Second))}
			if _, err := ask[*msg.EnqueueReply](ctx, d, name, KindMatchPool, &msg.Enqueue{Waiter: w}, 5*time.Second); err != nil {
				tb.Fatalf("enqueue: %v", err)
			}
		}
	}
	clustertest.Eventually(tb, 10*time.Second, "the directory lists every pool", func() bool {
		return len(sys.Pools(ctx)) >= pools
	})
	return sys
}

// BenchmarkSnapshot computes one cluster snapshot (every pool's
// statistics, every node's load) of 100 pools holding 10k waiters.
func BenchmarkSnapshot(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a cluster node")
	}
	sys := snapshotNode(b, 100, 100)
	ctx := context.Background()
	s := sys.computeSnapshot(ctx)
	if len(s.Pools) < 100 || len(s.Unavailable) > 0 {
		b.Fatalf("%d pools, unavailable %v", len(s.Pools), s.Unavailable)
	}
	n := 0
	for _, p := range s.Pools {
		n += p.Waiting["male"]
	}
	if n != 10000 {
		b.Fatalf("%d waiting, want 10000", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sys.computeSnapshot(ctx)
	}
}

// TestSnapshotShared: callers within a second share one snapshot; a fresh
// one is computed after that, and SnapshotWithin asks for a younger one.
func TestSnapshotShared(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster node")
	}
	sys := snapshotNode(t, 2, 3)
	ctx := context.Background()
	a, _ := sys.Snapshot(ctx)
	b, _ := sys.Snapshot(ctx)
	if a != b {
		t.Fatal("two calls within a second computed two snapshots")
	}
	// The two pools and the default one.
	if len(a.Pools) != 3 || a.Pools[1].Pool != "pool-000" || a.Pools[1].Waiting["male"] != 3 || len(a.Nodes) != 1 || a.Nodes[0].ID != "bench" {
		t.Fatalf("snapshot %+v", a)
	}
	clustertest.Eventually(t, 3*time.Second, "a fresh snapshot after a second", func() bool {
		c, _ := sys.Snapshot(ctx)
		return c != a
	})
	c, _ := sys.SnapshotWithin(ctx, time.Nanosecond)
	if d, _ := sys.SnapshotWithin(ctx, time.Nanosecond); c == d || d.At.Before(c.At) {
		t.Fatal("SnapshotWithin reused an older snapshot")
	}
}

// TestSnapshotWaitersHonourTheirContext: a caller waiting for a snapshot
// that is being computed gives up when its own context ends, and the
// computation still completes for the others.
func TestSnapshotWaitersHonourTheirContext(t *testing.T) {
	release := make(chan struct{})
	sys, _ := boundedNode(t, TestConfig(), &testHooks{message: func(kind, id string, m any) {
		if _, ok := m.(*msg.PoolStatsRequest); ok && kind == KindMatchPool {
			<-release // the pools answer only when the test says so
		}
	}})
	got := make(chan *Snapshot, 1)
	go func() {
		snap, _ := sys.Snapshot(context.Background())
		got <- snap
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if snap, err := sys.Snapshot(ctx); err == nil || snap != nil {
		t.Fatalf("a waiter whose context ended got %v, %v", snap, err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("the waiter gave up after %v, want about its 200 ms", d)
	}
	close(release)
	select {
	case snap := <-got:
		if snap == nil || len(snap.Pools) == 0 {
			t.Fatalf("the patient caller's snapshot: %+v", snap)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the computation never completed")
	}
}

// TestSnapshotMemberNotAnswering: a member that does not answer in time is
// listed with what is known and marked, and the others are still there.
// (Keep this the package's last test that starts a node: protoactor's gRPC
// client keeps redialling the ghost after the node stops, and a node
// started later races with it on grpclog's globals under -race.)
func TestSnapshotMemberNotAnswering(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster node")
	}
	sys := snapshotNode(t, 1, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks gRPC
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	self, selfPort, err := sys.cl.ActorSystem.GetHostPort()
	if err != nil {
		t.Fatal(err)
	}
	// A member that hosts no grain kind, so nothing else is routed to it.
	sys.d.Router.setMembers([]*cluster.Member{
		{Id: sys.cl.ActorSystem.ID, Host: self, Port: int32(selfPort), Kinds: sys.cl.GetClusterKinds()},
		{Id: "ghost-member", Host: "127.0.0.1", Port: int32(port)},
	}, true)
	start := time.Now()
	s, _ := sys.SnapshotWithin(context.Background(), time.Nanosecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the snapshot took %v with one member silent", took)
	}
	if len(s.Nodes) != 2 {
		t.Fatalf("nodes %+v, want 2", s.Nodes)
	}
	var ghost, me NodeStats
	for _, n := range s.Nodes {
		if n.MemberID == "ghost-member" {
			ghost = n
		} else {
			me = n
		}
	}
	if !ghost.Unavailable || ghost.Address != fmt.Sprintf("127.0.0.1:%d", port) || ghost.ID != "ghost-member" {
		t.Errorf("silent member %+v, want it marked unavailable with its address and id", ghost)
	}
	if me.Unavailable || me.ID != "bench" || len(s.Pools) == 0 {
		t.Errorf("this node %+v, pools %d", me, len(s.Pools))
	}
}
