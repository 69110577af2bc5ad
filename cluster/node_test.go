package cluster_test

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// echoKind is the test grain kind: it answers any StringValue with the id
// of the node hosting the activation.
const echoKind = "echo"

// newEchoKind returns a fresh echo kind (one per node).
func newEchoKind() *protocluster.Kind {
	return protocluster.NewKind(echoKind, actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*wrapperspb.StringValue); ok {
			ctx.Respond(wrapperspb.String(ctx.ActorSystem().ID))
		}
	}))
}

// owner asks identity's echo grain, through n, which node hosts it.
func owner(n *cluster.Node, identity string) (string, error) {
	res, err := n.Cluster().Request(identity, echoKind, wrapperspb.String("who"))
	if err != nil {
		return "", fmt.Errorf("request %s via %s: %w", identity, n.ID(), err)
	}
	sv, ok := res.(*wrapperspb.StringValue)
	if !ok {
		return "", fmt.Errorf("request %s via %s: unexpected reply %T", identity, n.ID(), res)
	}
	return sv.GetValue(), nil
}

func TestSingleNode(t *testing.T) {
	n := clustertest.Start(t, clustertest.Config("127.0.0.1", "solo", newEchoKind()))

	t.Run("ready with itself as the only member", func(t *testing.T) {
		if !n.Ready() {
			t.Fatal("node not ready after WaitReady")
		}
		got := n.Members()
		want := []cluster.Member{{ID: n.ID(), Name: "solo", Address: n.Address()}}
		if len(got) != 1 || got[0] != want[0] {
			t.Fatalf("members = %+v, want %+v", got, want)
		}
	})

	for _, identity := range []string{"alice", "bob", "pool/eu-west"} {
		t.Run("grain "+identity, func(t *testing.T) {
			got, err := owner(n, identity)
			if err != nil {
				t.Fatal(err)
			}
			if got != n.ID() {
				t.Fatalf("answered by %q, want %q", got, n.ID())
			}
		})
	}
}

// BenchmarkGrainRequest measures one request/response to an already active
// grain on a one-node cluster (local delivery through the cluster context).
func BenchmarkGrainRequest(b *testing.B) {
	n := clustertest.Start(b, clustertest.Config("127.0.0.1", "bench", newEchoKind()))
	if _, err := owner(n, "warm"); err != nil {
		b.Fatal(err)
	}
	msg := wrapperspb.String("who")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Cluster().Request("warm", echoKind, msg); err != nil {
			b.Fatal(err)
		}
	}
}
