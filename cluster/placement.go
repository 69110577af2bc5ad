package cluster

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// ActivatorName is the name of each node's activator actor. The Router
// (actors/route.go) asks the owner's activator for a grain's PID by this
// name, as disthash's clients do.
const ActivatorName = "partition-activator"

// placement is the nodes' identity lookup. It keeps disthash's protocol
// (an ActivationRequest to the owner's activator, the owner chosen by
// rendezvous hashing over the members hosting the kind, grains whose
// owner moved poisoned at a topology change) and takes out two costs of
// the pinned disthash that grow with a node's activations, measured at
// 38% of a node's CPU after four minutes at 1,500 spins/s (every date ends
// its Match grain):
//   - a grain's termination found its entry by scanning every activation
//     of the node; here an index by PID finds it;
//   - each termination was broadcast to every member's event stream as
//     ActivationTerminated, which nothing subscribes to; here it is not
//     sent.
type placement struct {
	c   *protocluster.Cluster
	pid *actor.PID
	sub *eventstream.Subscription

	mu  sync.RWMutex
	rdv *protocluster.Rendezvous // guarded by mu
}

func newPlacement() protocluster.IdentityLookup { return &placement{} }

// Setup starts the activator and follows the topology.
func (p *placement) Setup(c *protocluster.Cluster, _ []string, _ bool) {
	p.c = c
	p.rdv = protocluster.NewRendezvous()
	sys := c.ActorSystem
	props := actor.PropsFromProducer(func() actor.Actor {
		return &activator{c: c, byKey: map[string]activation{}, byPID: map[string]string{}}
	})
	p.pid, _ = sys.Root.SpawnNamed(props, ActivatorName)
	p.sub = sys.EventStream.Subscribe(func(ev any) {
		t, ok := ev.(*protocluster.ClusterTopology)
		if !ok {
			return
		}
		rdv := protocluster.NewRendezvous()
		rdv.UpdateMembers(t.Members)
		p.mu.Lock()
		p.rdv = rdv
		p.mu.Unlock()
		sys.Root.Send(p.pid, t)
	})
}

// Get asks the owner's activator for the grain's PID (nil when no member
// hosts the kind or the owner does not answer in time).
func (p *placement) Get(id *protocluster.ClusterIdentity) *actor.PID {
	p.mu.RLock()
	owner := p.rdv.GetByClusterIdentity(id)
	p.mu.RUnlock()
	if owner == "" {
		return nil
	}
	timeout := p.c.Config.RequestTimeoutTime
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	res, err := p.c.ActorSystem.Root.RequestFuture(actor.NewPID(owner, ActivatorName), &protocluster.ActivationRequest{ClusterIdentity: id}, timeout).Result()
	if err != nil {
		return nil
	}
	if r, ok := res.(*protocluster.ActivationResponse); ok {
		return r.Pid
	}
	return nil
}

// RemovePid has nothing to do: the activator forgets a grain when it
// terminates, and nothing listens for a broadcast of it.
func (p *placement) RemovePid(*protocluster.ClusterIdentity, *actor.PID) {}

// Shutdown stops following the topology and stops the activator, which
// stops its grains first.
func (p *placement) Shutdown() {
	sys := p.c.ActorSystem
	sys.EventStream.Unsubscribe(p.sub)
	if err := sys.Root.PoisonFuture(p.pid).Wait(); err != nil {
		p.c.Logger().Error("placement: stopping the activator", slog.Any("error", err))
	}
}

// activation is one grain this node hosts.
type activation struct {
	id  *protocluster.ClusterIdentity
	pid *actor.PID
}

// activator spawns the grains this node owns, as its children, and
// forgets each when it terminates.
type activator struct {
	c     *protocluster.Cluster
	byKey map[string]activation // kind/identity -> the grain
	byPID map[string]string     // the grain's PID id -> its kind/identity
}

func (a *activator) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *protocluster.ActivationRequest:
		a.activate(ctx, m)
	case *actor.Terminated:
		a.terminated(m.Who)
	case *protocluster.ClusterTopology:
		a.topology(ctx, m)
	case *actor.Stopping:
		a.stopAll(ctx)
	}
}

// activate answers with the grain's PID, spawning it when it is not
// running here.
func (a *activator) activate(ctx actor.Context, m *protocluster.ActivationRequest) {
	key := m.ClusterIdentity.AsKey()
	if g, ok := a.byKey[key]; ok {
		ctx.Respond(&protocluster.ActivationResponse{Pid: g.pid})
		return
	}
	kind := a.c.GetClusterKind(m.ClusterIdentity.Kind)
	if kind == nil {
		ctx.Logger().Error("placement: unknown grain kind", slog.String("kind", m.ClusterIdentity.Kind))
		ctx.Respond(&protocluster.ActivationResponse{Failed: true})
		return
	}
	pid := ctx.SpawnPrefix(protocluster.WithClusterIdentity(kind.Props, m.ClusterIdentity), m.ClusterIdentity.Identity)
	kind.Inc()
	a.byKey[key] = activation{id: m.ClusterIdentity, pid: pid}
	a.byPID[pid.Id] = key
	ctx.Respond(&protocluster.ActivationResponse{Pid: pid})
}

// terminated forgets a grain that stopped: O(1) by its PID.
func (a *activator) terminated(who *actor.PID) {
	key, ok := a.byPID[who.Id]
	if !ok {
		return
	}
	delete(a.byPID, who.Id)
	g := a.byKey[key]
	delete(a.byKey, key)
	if kind := a.c.GetClusterKind(g.id.Kind); kind != nil {
		kind.Dec()
	}
}

// topology poisons the grains whose owner is now another member; their
// new owner activates them on the next request.
func (a *activator) topology(ctx actor.Context, t *protocluster.ClusterTopology) {
	rdv := protocluster.NewRendezvous()
	rdv.UpdateMembers(t.Members)
	self := a.c.ActorSystem.Address()
	for _, g := range a.byKey {
		if rdv.GetByClusterIdentity(g.id) != self {
			ctx.Poison(g.pid)
		}
	}
}

// stopAll stops every grain and waits for each, so a graceful stop lets
// them finish (sessions and pools hand their state over).
func (a *activator) stopAll(ctx actor.Context) {
	futures := make(map[string]*actor.Future, len(a.byKey))
	for key, g := range a.byKey {
		futures[key] = ctx.PoisonFuture(g.pid)
	}
	for key, f := range futures {
		if err := f.Wait(); err != nil {
			ctx.Logger().Error("placement: stopping a grain", slog.String("identity", key), slog.Any("error", err))
		}
	}
}
