//go:build !race

// Excluded under -race like cluster/multinode_test.go: several nodes in one
// process race inside the pinned protoactor-go, not in this package. Run
// it with
//
//	go test -count=1 -run TestCommandDuringGracefulLeave ./actors/

package actors

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// leaveKind is the grain kind of TestCommandDuringGracefulLeave.
const leaveKind = "leavecmd"

// leaveGrain records every client command it runs (with the node it ran
// on) on runs, then waits for hold to let it go, unless it runs on free's
// node; it acknowledges the command when ack says so, as ackOneWay does for
// a session.
type leaveGrain struct {
	runs chan string
	hold chan struct{}
	free func() string // id of the node whose runs answer at once
	ack  func() bool   // whether a held run acknowledges when let go
	n    *atomic.Int32 // runs so far, on every node
}

func (g *leaveGrain) kind() *protocluster.Kind {
	return protocluster.NewKind(leaveKind, actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*msg.Command); !ok {
			return
		}
		g.n.Add(1)
		node := ctx.ActorSystem().ID
		g.runs <- node
		if node != g.free() {
			<-g.hold
			if !g.ack() {
				return // as if the answer were lost in the node's stop
			}
		}
		ctx.Respond(&msg.Ack{})
	}))
}

// TestCommandDuringGracefulLeave sends a client command, through the
// Router of one node, to a grain on a node that then leaves gracefully
// while the grain is still running the command, for longer than
// goneGrace. The command must run once: the leaving node answers it
// before it stops, and the Router waits for that answer instead of
// resending the command to the new owner (which would answer it a second
// time: TestRollingRestart's "two answers to request"). A command whose
// answer the leaving node never sends is still resent, once that node has
// stopped.
func TestCommandDuringGracefulLeave(t *testing.T) {
	var (
		n     atomic.Int32
		free  atomic.Value // string
		noAck atomic.Bool
	)
	free.Store("")
	var release sync.Once
	g := &leaveGrain{
		runs: make(chan string, 8), hold: make(chan struct{}), n: &n,
		free: func() string { return free.Load().(string) },
		ack:  func() bool { return !noAck.Load() },
	}
	var nodes []*cluster.Node
	for i, host := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		cfg := clustertest.Config(host, fmt.Sprintf("leave%d", i+1), g.kind())
		if i > 0 {
			cfg.Join = []string{nodes[0].MemberlistAddr()}
		}
		nodes = append(nodes, clustertest.Start(t, cfg))
	}
	t.Cleanup(func() { release.Do(func() { close(g.hold) }) }) // no run stays held after a failure
	sender := nodes[1]
	free.Store(sender.ID())
	cfg := TestConfig()
	cfg.DeliveryTimeout = 10 * time.Second
	r := NewRouter(cfg, slog.New(slog.DiscardHandler), NewMetrics(nil))
	r.SetDepartures(sender.LeftGracefully)
	r.Attach(sender.Cluster())
	t.Cleanup(r.Detach)
	clustertest.Eventually(t, 10*time.Second, "the sender's Router to see three members", func() bool {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return len(r.members) == 3
	})
	// identityOn returns an identity that node owns in r's view.
	identityOn := func(node *cluster.Node) string {
		for k := 0; ; k++ {
			id := fmt.Sprintf("u%d", k)
			if r.Owner(leaveKind, id) == node.System().Address() {
				return id
			}
		}
	}
	type outcome struct {
		delivered bool
		at        time.Time
	}
	send := func(id string) <-chan outcome {
		done := make(chan outcome, 1)
		cmd := &msg.Command{Ref: "1", Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}}
		r.SendThen(leaveKind, id, cmd, func(ok bool) { done <- outcome{ok, time.Now()} })
		return done
	}
	ran := func(what string) string {
		t.Helper()
		select {
		case node := <-g.runs:
			return node
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the command did not run", what)
			return ""
		}
	}
	// leave stops node gracefully in the background and returns once the
	// sender's Router no longer routes id to it.
	leave := func(node *cluster.Node, id string) time.Time {
		t.Helper()
		go clustertest.Stop(t, node)
		clustertest.Eventually(t, 5*time.Second, "the Router to route around the leaving node", func() bool {
			return r.Owner(leaveKind, id) != node.System().Address()
		})
		return time.Now()
	}

	t.Run("answered by the leaving node", func(t *testing.T) {
		victim := nodes[0]
		id := identityOn(victim)
		n.Store(0)
		done := send(id)
		if got := ran("first run"); got != victim.ID() {
			t.Fatalf("the command ran on %s, want the owner %s", got, victim.ID())
		}
		noticed := leave(victim, id)
		// Past goneGrace the old Router resent the command to the new owner
		// while the leaving node was still running it.
		select {
		case node := <-g.runs:
			t.Fatalf("the command ran again on %s %v after the Router saw its node leave, while the leaving node still ran it", node, time.Since(noticed))
		case <-time.After(goneGrace + 150*time.Millisecond):
		}
		release.Do(func() { close(g.hold) }) // the leaving node, still lingering, answers
		select {
		case o := <-done:
			if !o.delivered {
				t.Fatal("the command was given up")
			}
		case <-time.After(cfg.DeliveryTimeout):
			t.Fatal("no outcome of the command")
		}
		if runs := n.Load(); runs != 1 {
			t.Fatalf("the command ran %d times, want once", runs)
		}
	})

	t.Run("lost by the leaving node", func(t *testing.T) {
		victim := nodes[2]
		id := identityOn(victim)
		noAck.Store(true) // hold is closed: a run on victim returns at once, unanswered
		n.Store(0)
		done := send(id)
		if got := ran("first run"); got != victim.ID() {
			t.Fatalf("the command ran on %s, want the owner %s", got, victim.ID())
		}
		noticed := leave(victim, id)
		if got := ran("resend"); got != sender.ID() {
			t.Fatalf("the resend ran on %s, want the new owner %s", got, sender.ID())
		}
		select {
		case o := <-done:
			if !o.delivered {
				t.Fatal("the resend was given up")
			}
			if took := o.at.Sub(noticed); took > commandGrace+time.Second {
				t.Errorf("the resend was answered %v after the node left (bound: commandGrace %v and a second)", took, commandGrace)
			}
		case <-time.After(cfg.DeliveryTimeout):
			t.Fatal("no outcome of the command")
		}
		if runs := n.Load(); runs != 2 {
			t.Fatalf("the command ran %d times, want twice (the lost run and the resend)", runs)
		}
	})
}
