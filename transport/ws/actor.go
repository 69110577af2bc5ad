package ws

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// connActor is the Connection actor: it attaches the socket to the user's
// session, re-attaches it when the session's owner changes (a node died,
// joined or restarted: the fresh activation restores the user from the
// store and sends the socket its state: the Router's topology hook sends
// ownerCheck), and on the Handler wheel's heartbeat, once per ping period
// (a no-op unless the session lost the socket without a topology change,
// such as a session restarted after a panic), and forwards the session's
// events to the socket's send queue. It also watches the socket's token
// (token.go) with its one timer, armed only while an expiry or an auth
// window is ahead. c, sys and userID are static; the rest is owned by
// Receive.
type connActor struct {
	c            *conn
	sys          *actors.System
	userID       string
	timer        *time.Timer
	authDeadline time.Time // set while waiting for auth after token_expired
	owner        string    // member id of the session's node at the last attach
	seen         string    // match id of the last match_found forwarded to the socket
}

// Receive handles one message.
func (a *connActor) Receive(ctx actor.Context) {
	defer a.c.recoverLoop("ws.connection")
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.owner = a.sys.SessionOwnerMember(a.userID) // run attached the socket
		a.onTimer(ctx, time.Now())
	case timerTick:
		a.onTimer(ctx, time.Now())
	case tokenRenewed:
		a.authDeadline = time.Time{}
		a.arm(ctx, time.Now())
	case ownerCheck:
		if a.sys.SessionOwnerMember(a.userID) != a.owner {
			a.reattach(ctx)
		}
	case heartbeat:
		a.reattach(ctx)
	case *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
		a.sys.Deliver(a.userID, &msg.Detach{Conn: ctx.Self()}, nil)
	case *msg.Event:
		if f := m.GetMatchFound(); f != nil {
			a.seen = f.GetMatch().GetMatchId()
		}
		a.c.eventCrumb(m)
		a.c.enqueue(wire.FromEvent(m))
		if e := m.GetError(); e != nil && e.Close {
			a.c.closeWith(closeCode(e), e.Code)
		}
	}
}

func (a *connActor) reattach(ctx actor.Context) {
	a.owner = a.sys.SessionOwnerMember(a.userID)
	a.sys.Deliver(a.userID, &msg.Attach{Conn: ctx.Self(), Heartbeat: true, SeenMatch: a.seen}, nil)
}
