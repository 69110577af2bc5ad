package cluster

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A node the others declared dead (it froze for longer than the suspicion
// timeout) comes back to a cluster that has blocked its member id for
// good: memberlist takes it back as alive, but protoactor leaves it out of
// every other node's topology, so the node would go on serving grains
// nobody else routes to. memberlist does not always tell the node (it may
// refute a suspicion after the others already declared it dead), and
// protoactor's remote ignores the "blocked" answer it gets. So each node
// asks every other member, every resync period, whether it blocked this
// node's id: a small actor on every node (blockCheckName) answers from its
// remote's block list.

// blockCheckName is the name of every node's block-list actor.
const blockCheckName = "spinmatch-blockcheck"

// blockCheckTimeout bounds one question to a member.
const blockCheckTimeout = time.Second

// blockChecker answers whether a member id is on this node's block list.
// The cluster is static after construction.
type blockChecker struct{ cluster *protocluster.Cluster }

// Receive answers a wrapperspb.StringValue (a member id) with a
// wrapperspb.BoolValue (blocked).
func (b blockChecker) Receive(ctx actor.Context) {
	if id, ok := ctx.Message().(*wrapperspb.StringValue); ok {
		ctx.Respond(wrapperspb.Bool(b.cluster.Remote.BlockList().IsBlocked(id.GetValue())))
	}
}

// startBlockCheck spawns this node's block-list actor.
func startBlockCheck(c *protocluster.Cluster) error {
	_, err := c.ActorSystem.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return blockChecker{cluster: c}
	}), blockCheckName)
	return err
}

// checkBlocked asks every other member whether it blocked this node; the
// first yes marks the node declared dead and calls onBlocked once.
func (n *Node) checkBlocked() {
	self := wrapperspb.String(n.system.ID)
	for _, m := range n.prov.members() {
		if m.ID == n.system.ID {
			continue
		}
		res, err := n.system.Root.RequestFuture(actor.NewPID(m.Address, blockCheckName), self, blockCheckTimeout).Result()
		if b, ok := res.(*wrapperspb.BoolValue); err == nil && ok && b.GetValue() {
			n.markDeclaredDead("member " + m.Name + " blocked this node")
			return
		}
	}
}

// markDeclaredDead records that the cluster declared this node dead, and
// logs it and calls onBlocked once, whoever set the flag first (the
// memberlist log line may have).
func (n *Node) markDeclaredDead(why string) {
	n.prov.health.declaredDead.Store(true)
	if n.prov.health.told.Swap(true) {
		return
	}
	n.logger.Error("cluster: the other members declared this node dead and blocked its id; it takes no traffic until it restarts",
		slog.String("why", why), slog.String("id", n.system.ID))
	if n.onBlocked != nil {
		n.onBlocked()
	}
}

// watchBlocked runs checkBlocked every period until stop is closed.
func (n *Node) watchBlocked(period time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if n.prov.health.declaredDead.Load() {
				n.markDeclaredDead("memberlist refuted a dead message about this node")
				continue
			}
			n.checkBlocked()
		}
	}
}
