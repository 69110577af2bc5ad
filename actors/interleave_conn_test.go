package actors

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// Fake sockets of the interleaving test (see interleave_test.go): they
// attach to sessions as transport/ws does and record what a socket is sent.

// probeConn is a fake WebSocket connection of one user: a plain actor that
// attaches to the session as transport/ws does (Attach when it starts, a
// heartbeat re-attach every period carrying the last match it was shown,
// Detach when it stops gracefully) and records every event it is sent. user, n and
// pid are static after spawn.
type probeConn struct {
	user string
	n    int64
	pid  *actor.PID

	graceful atomic.Bool // set before a stop that sends Detach

	mu     sync.Mutex
	events []probeEvent // guarded by mu
}

type probeEvent struct {
	at time.Time
	ev *msg.Event
}

func (c *probeConn) name() string { return fmt.Sprintf("%s#%d", c.user, c.n) }

func (c *probeConn) record(ev *msg.Event) {
	c.mu.Lock()
	c.events = append(c.events, probeEvent{at: time.Now(), ev: ev})
	c.mu.Unlock()
}

func (c *probeConn) snapshot() []probeEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]probeEvent(nil), c.events...)
}

// statusProbe asks sessions for their state the way a socket does (a
// Command that carries a connection), so that asking does not count as the
// user being present: a REST call would, and would keep a queued user
// without sockets in the queue past the reconnect grace. Safe for
// concurrent use.
type statusProbe struct {
	sys *System    // static
	pid *actor.PID // static after newStatusProbe
	seq atomic.Int64

	mu      sync.Mutex
	waiting map[string]chan *msg.Event // guarded by mu: by ref
}

// probeRef prefixes the refs of a statusProbe's commands.
const probeRef = "probe-"

func newStatusProbe(sys *System) *statusProbe {
	p := &statusProbe{sys: sys, waiting: map[string]chan *msg.Event{}}
	p.pid = sys.ActorSystem().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if ev, ok := c.Message().(*msg.Event); ok {
			p.mu.Lock()
			ch := p.waiting[ev.Ref]
			delete(p.waiting, ev.Ref)
			p.mu.Unlock()
			if ch != nil {
				ch <- ev
			}
		}
	}))
	return p
}

// state returns user's state as their session tells a socket.
func (p *statusProbe) state(ctx context.Context, user string) (*msg.State, error) {
	ref := fmt.Sprintf("%s%d", probeRef, p.seq.Add(1))
	ch := make(chan *msg.Event, 1)
	p.mu.Lock()
	p.waiting[ref] = ch
	p.mu.Unlock()
	p.sys.Deliver(user, &msg.Command{Conn: p.pid, Ref: ref, Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}}, nil)
	select {
	case ev := <-ch:
		if st := ev.GetState(); st != nil {
			return st, nil
		}
		return nil, fmt.Errorf("status of %s: %s", user, describe(ev))
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.waiting, ref)
		p.mu.Unlock()
		return nil, fmt.Errorf("status of %s: %w", user, ctx.Err())
	}
}

// probeTick is a probe connection's heartbeat timer.
type probeTick struct{}

// probeActor is the actor behind a probeConn; stop and seen are owned by
// Receive.
type probeActor struct {
	c     *probeConn
	sys   *System
	every time.Duration
	trace *traceLog
	stop  func() bool
	seen  string // match id of the last match_found, as transport/ws keeps it
}

// Receive handles one message.
func (a *probeActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.sys.Deliver(a.c.user, &msg.Attach{Conn: ctx.Self()}, nil)
		a.arm(ctx)
	case probeTick:
		a.sys.Deliver(a.c.user, &msg.Attach{Conn: ctx.Self(), Heartbeat: true, SeenMatch: a.seen}, nil)
		a.arm(ctx)
	case *actor.Stopping:
		if a.stop != nil {
			a.stop()
		}
		if a.c.graceful.Load() {
			a.sys.Deliver(a.c.user, &msg.Detach{Conn: ctx.Self()}, nil)
		}
	case *msg.Event:
		if f := m.GetMatchFound(); f != nil {
			a.seen = f.GetMatch().GetMatchId()
		}
		a.c.record(m)
		if _, ok := m.Kind.(*msg.Event_WaitUpdate); !ok {
			a.trace.add("conn %s <- %s", a.c.name(), describe(m))
		}
	}
}

func (a *probeActor) arm(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	t := time.AfterFunc(a.every, func() { root.Send(self, probeTick{}) })
	a.stop = t.Stop
}
