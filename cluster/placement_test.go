package cluster_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// activate asks n's activator for kind/id's PID, as the Router does.
func activate(tb testing.TB, n *cluster.Node, kind, id string) *actor.PID {
	tb.Helper()
	sys := n.Cluster().ActorSystem
	res, err := sys.Root.RequestFuture(actor.NewPID(n.Address(), cluster.ActivatorName),
		&protocluster.ActivationRequest{ClusterIdentity: protocluster.NewClusterIdentity(id, kind)}, 5*time.Second).Result()
	if err != nil {
		tb.Fatalf("activate %s/%s: %v", kind, id, err)
	}
	r, ok := res.(*protocluster.ActivationResponse)
	if !ok || r.Pid == nil {
		tb.Fatalf("activate %s/%s: reply %T %+v", kind, id, res, res)
	}
	return r.Pid
}

// TestPlacementForgetsStoppedGrains: an activation is answered with the
// same PID while it runs and with a fresh one once it stopped; the kind's
// count follows; an unknown kind fails; and a termination is not broadcast
// as ActivationTerminated.
func TestPlacementForgetsStoppedGrains(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config("127.0.0.1", "placement", newEchoKind()))
	sys := n.Cluster().ActorSystem
	var broadcasts atomic.Int64
	sub := sys.EventStream.Subscribe(func(ev any) {
		if _, ok := ev.(*protocluster.ActivationTerminated); ok {
			broadcasts.Add(1)
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	kind := n.Cluster().GetClusterKind(echoKind)
	before := kind.Count()

	a := activate(t, n, echoKind, "x")
	if again := activate(t, n, echoKind, "x"); !again.Equal(a) {
		t.Fatalf("a running grain answered %v then %v", a, again)
	}
	if kind.Count() != before+1 {
		t.Fatalf("kind count %d after one activation, want %d", kind.Count(), before+1)
	}
	if err := sys.Root.PoisonFuture(a).Wait(); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 5*time.Second, "the stopped grain forgotten", func() bool {
		return kind.Count() == before
	})
	if b := activate(t, n, echoKind, "x"); b.Equal(a) {
		t.Fatalf("a stopped grain's PID %v was handed out again", b)
	}
	if got, err := owner(n, "x"); err != nil || got != n.ID() {
		t.Fatalf("the new activation answers %q, %v", got, err)
	}

	res, err := sys.Root.RequestFuture(actor.NewPID(n.Address(), cluster.ActivatorName),
		&protocluster.ActivationRequest{ClusterIdentity: protocluster.NewClusterIdentity("y", "nosuchkind")}, 5*time.Second).Result()
	if r, ok := res.(*protocluster.ActivationResponse); err != nil || !ok || r.Pid != nil || !r.Failed {
		t.Fatalf("unknown kind: %+v, %v; want a failed response", res, err)
	}
	if broadcasts.Load() != 0 {
		t.Fatalf("%d ActivationTerminated broadcasts", broadcasts.Load())
	}
}

// BenchmarkPlacementChurn activates and stops one grain while 1k, 10k or
// 100k others stay active on the node (the pinned disthash scanned every
// activation at each stop: O(n)). The figure is flat in n.
func BenchmarkPlacementChurn(b *testing.B) {
	n := clustertest.Start(b, clustertest.Config("127.0.0.1", "churn", newEchoKind()))
	sys := n.Cluster().ActorSystem
	kind := n.Cluster().GetClusterKind(echoKind)
	live := 0
	for _, size := range []int{1_000, 10_000, 100_000} {
		for ; live < size; live++ {
			activate(b, n, echoKind, fmt.Sprintf("idle-%d", live))
		}
		b.Run(fmt.Sprintf("active=%d", size), func(b *testing.B) {
			base := kind.Count()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				pid := activate(b, n, echoKind, fmt.Sprintf("churn-%d", i))
				i++
				if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// Every churned grain was forgotten (counted down) by the activator.
			clustertest.Eventually(b, 10*time.Second, "churned grains forgotten", func() bool { return kind.Count() == base })
		})
	}
}
