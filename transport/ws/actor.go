package ws

import (
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// connection is the socket's Connection process: the PID its session
// sends the user's events to and watches. It is a bare actor.Process in
// the actor system's registry, with no mailbox, context or goroutine of
// its own: each message is handled as it is sent, under mu, and does
// nothing that blocks (an event is encoded and queued for the writer).
//
// It attaches the socket to the user's session (run), re-attaches it when
// the session's owner changes (a node died, joined or restarted: the
// fresh activation restores the user from the store and sends the socket
// its state; the Router's topology hook calls ownerCheck) and on the
// Handler wheel's heartbeat, once per ping period (a no-op unless the
// session lost the socket without a topology change, such as a session
// restarted after a panic); re-attaching may wait for a grain lookup, so
// it runs in a goroutine of its own. It also watches the socket's token
// (token.go) with its one timer, armed only while an expiry or an auth
// window is ahead.
type connection struct {
	// Static after newConnection (self after start).
	c      *conn
	sys    *actors.System
	as     *actor.ActorSystem
	userID string
	self   *actor.PID

	mu           sync.Mutex
	timer        *time.Timer  // guarded by mu
	authDeadline time.Time    // guarded by mu: set while waiting for auth after token_expired
	owner        string       // guarded by mu: member id of the session's node at the last attach
	seen         string       // guarded by mu: match id of the last match_found forwarded to the socket
	watchers     []*actor.PID // guarded by mu: who watches it (its session)
	stopped      bool         // guarded by mu
}

func newConnection(c *conn, sys *actors.System, as *actor.ActorSystem, userID string) *connection {
	return &connection{c: c, sys: sys, as: as, userID: userID}
}

// start registers the process and returns its PID; run attaches it.
func (p *connection) start() *actor.PID {
	p.self, _ = p.as.ProcessRegistry.Add(p, p.as.ProcessRegistry.NextId())
	defer p.c.recoverLoop("ws.connection")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.owner = p.sys.SessionOwnerMember(p.userID)
	p.onTimerLocked(time.Now())
	return p.self
}

// stop unregisters the process, detaches it from the session and tells
// its watchers (once).
func (p *connection) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
	watchers := p.watchers
	p.watchers = nil
	p.mu.Unlock()
	p.as.ProcessRegistry.Remove(p.self)
	defer p.c.recoverLoop("ws.connection")
	p.sys.Deliver(p.userID, &msg.Detach{Conn: p.self}, nil)
	for _, w := range watchers {
		p.tell(w, &actor.Terminated{Who: p.self})
	}
}

// tell sends a system message to pid (local or remote).
func (p *connection) tell(pid *actor.PID, m any) {
	if proc, ok := p.as.ProcessRegistry.Get(pid); ok {
		proc.SendSystemMessage(pid, m)
	}
}

// SendUserMessage handles a message sent to the process: the session's
// events.
func (p *connection) SendUserMessage(_ *actor.PID, message any) {
	defer p.c.recoverLoop("ws.connection")
	switch m := actor.UnwrapEnvelopeMessage(message).(type) {
	case *msg.Event:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stopped {
			return
		}
		if f := m.GetMatchFound(); f != nil {
			p.seen = f.GetMatch().GetMatchId()
		}
		p.c.eventCrumb(m)
		var f wire.Frame // encoded by enqueue: it need not outlive the call
		wire.FillFrame(&f, m)
		p.c.enqueue(&f)
		if e := m.GetError(); e != nil && e.Close {
			p.c.closeWith(closeCode(e), e.Code)
		}
	default:
		p.c.logger().Warn("ws: unknown message to a connection", "type", fmt.Sprintf("%T", m))
	}
}

// SendSystemMessage handles watches: the session watches its sockets.
func (p *connection) SendSystemMessage(_ *actor.PID, message any) {
	switch m := message.(type) {
	case *actor.Watch:
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			p.tell(m.Watcher, &actor.Terminated{Who: p.self})
			return
		}
		for _, w := range p.watchers {
			if w.Equal(m.Watcher) {
				p.mu.Unlock()
				return
			}
		}
		p.watchers = append(p.watchers, m.Watcher)
		p.mu.Unlock()
	case *actor.Unwatch:
		p.mu.Lock()
		for i, w := range p.watchers {
			if w.Equal(m.Watcher) {
				p.watchers = append(p.watchers[:i], p.watchers[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
	}
}

// Stop is protoactor's stop of the process (the socket's own end is run's).
func (p *connection) Stop(*actor.PID) { p.stop() }

// ownerCheck re-attaches when the session's owner changed (the topology
// hook calls it for every socket).
func (p *connection) ownerCheck() {
	p.mu.Lock()
	moved := !p.stopped && p.sys.SessionOwnerMember(p.userID) != p.owner
	p.mu.Unlock()
	if moved {
		go p.reattach()
	}
}

// heartbeat is the wheel's once-a-period visit: a re-attach, and the
// token timer armed if its wake-up came near.
func (p *connection) heartbeat() {
	go p.reattach()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.arm(time.Now())
	}
}

// reattach sends the session a heartbeat attach.
func (p *connection) reattach() {
	defer p.c.recoverLoop("ws.connection")
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.owner = p.sys.SessionOwnerMember(p.userID)
	seen := p.seen
	p.mu.Unlock()
	p.sys.Deliver(p.userID, &msg.Attach{Conn: p.self, Heartbeat: true, SeenMatch: seen}, nil)
}

// tokenRenewed closes the auth window: the reader accepted a fresh token.
func (p *connection) tokenRenewed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authDeadline = time.Time{}
	p.arm(time.Now())
}
