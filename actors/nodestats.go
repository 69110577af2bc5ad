package actors

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// NodeStatsActor is the name of the plain (non-grain) actor every node
// spawns to answer NodeStatsRequest with its load; the snapshot asks it at
// PID{Address: member address, Id: NodeStatsActor} on every member.
const NodeStatsActor = "spinmatch-node-stats"

// nodeStatsTimeout bounds one member's answer (or RequestTimeout when shorter).
const nodeStatsTimeout = time.Second

// nodeStatsActor answers NodeStatsRequest from the node's counters. Its
// only state is static: the System it reads.
type nodeStatsActor struct{ s *System }

// Receive handles one message.
func (a *nodeStatsActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *msg.NodeStatsRequest:
		ctx.Respond(a.s.localNodeStats())
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
	default:
		a.s.d.Logger.Warn("node stats: unknown message", "type", fmt.Sprintf("%T", ctx.Message()))
	}
}

// spawnNodeStats starts this node's NodeStatsActor.
func (s *System) spawnNodeStats() {
	props := actor.PropsFromProducer(func() actor.Actor { return &nodeStatsActor{s: s} })
	if _, err := s.cl.ActorSystem.Root.SpawnNamed(props, NodeStatsActor); err != nil {
		s.d.Logger.Error("node stats actor not started: the snapshot lists this node without its load", "err", err)
	}
}

// SetConnections tells the System how to count the node's open user
// sockets (the transport's socket handler sets it); unset counts 0.
func (s *System) SetConnections(count func() int) { s.conns.Store(&count) }

// localNodeStats is this node's load.
func (s *System) localNodeStats() *msg.NodeStats {
	st := &msg.NodeStats{
		Name:     s.d.NodeName,
		MemberId: s.cl.ActorSystem.ID,
		Address:  s.cl.ActorSystem.Address(),
		Sessions: int32(s.d.sessions.Load()),
	}
	if f := s.conns.Load(); f != nil {
		st.Connections = int32((*f)())
	}
	return st
}

// Members returns the cluster members in the Router's current view, by
// actor system address: their member ids.
func (r *Router) Members() map[string]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]string, len(r.members))
	for a, id := range r.members {
		out[a] = id
	}
	return out
}

// nodeStats asks every member in the Router's view for its load, all at
// once, each within nodeStatsTimeout. A member that does not answer is
// listed with what is known (its address and member id, and the name it
// gave last time) and marked Unavailable: never a failure for all.
// Sorted by id, then address.
func (s *System) nodeStats(ctx context.Context) []NodeStats {
	members := s.d.Router.Members()
	if len(members) == 0 { // not attached yet: at least this node
		members = map[string]string{s.cl.ActorSystem.Address(): s.cl.ActorSystem.ID}
	}
	timeout := min(nodeStatsTimeout, s.d.Config.RequestTimeout)
	type answer struct {
		addr string
		st   *msg.NodeStats
	}
	answers := make(chan answer, len(members))
	var wg sync.WaitGroup
	for addr := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers <- answer{addr, s.askNodeStats(ctx, addr, timeout)}
		}()
	}
	wg.Wait()
	close(answers)

	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	out := make([]NodeStats, 0, len(members))
	for a := range answers {
		n := NodeStats{Address: a.addr, MemberID: members[a.addr]}
		if a.st != nil {
			n.ID, n.Sessions, n.Connections = a.st.Name, int(a.st.Sessions), int(a.st.Connections)
			if n.ID != "" {
				s.names[a.addr] = n.ID
			}
		} else {
			n.ID, n.Unavailable = s.names[a.addr], true
		}
		if n.ID == "" {
			n.ID = n.MemberID
		}
		out = append(out, n)
	}
	// Forget the names of members that left, so the map stays bounded.
	for a := range s.names {
		if _, ok := members[a]; !ok {
			delete(s.names, a)
		}
	}
	slices.SortFunc(out, func(a, b NodeStats) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Address, b.Address))
	})
	return out
}

// askNodeStats asks the NodeStatsActor at addr; nil when it did not answer.
func (s *System) askNodeStats(ctx context.Context, addr string, timeout time.Duration) *msg.NodeStats {
	if addr == s.cl.ActorSystem.Address() {
		return s.localNodeStats()
	}
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if timeout <= 0 {
		return nil
	}
	f := s.cl.ActorSystem.Root.RequestFuture(actor.NewPID(addr, NodeStatsActor), &msg.NodeStatsRequest{}, timeout)
	r, err := f.Result()
	if err != nil {
		s.d.Logger.Warn("node stats unavailable", "member", addr, "err", err)
		return nil
	}
	st, ok := r.(*msg.NodeStats)
	if !ok {
		s.d.Logger.Warn("node stats: unexpected answer", "member", addr, "type", fmt.Sprintf("%T", r))
		return nil
	}
	return st
}
