package ws

import (
	"context"
	"net/http"

	"github.com/getsentry/sentry-go"
	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// Sentry on a socket. A socket has a hub of its own, a clone of its
// upgrade request's (which the node's sentryhttp middleware put in the
// request's context; none means Sentry is off and every hook below is a
// nil check): its scope carries the user, its breadcrumbs are the events
// the socket was sent, and its panics are reported to it. Every command
// read is a transaction (op "ws.command", name "ws <command>") whose trace
// the command carries to the UserSession.

// socketHub returns the socket's hub, or nil when Sentry is off.
func socketHub(r *http.Request) *sentry.Hub {
	h := sentry.GetHubFromContext(r.Context())
	if h == nil || h.Client() == nil {
		return nil
	}
	hub := h.Clone()
	// Its breadcrumbs are the socket's own (the clone copied the node's
	// recent log lines).
	hub.Scope().ClearBreadcrumbs()
	return hub
}

// setUser tags the socket's hub with its user.
func (c *conn) setUser(userID string) {
	if c.hub == nil {
		return
	}
	c.hub.Scope().SetUser(sentry.User{ID: userID})
	c.hub.Scope().SetTag("user_id", userID)
	c.hctx = sentry.SetHubOnContext(context.Background(), c.hub)
	c.tracing = c.hub.Client().Options().EnableTracing
}

// startCommand starts the transaction of one command and puts its trace
// in cmd; it returns nil when tracing is off. Finish it with endCommand.
func (c *conn) startCommand(cmd *msg.Command) (tx, span *sentry.Span) {
	if !c.tracing {
		return nil, nil
	}
	tx = sentry.StartTransaction(c.hctx, "ws "+actors.CommandName(cmd),
		sentry.WithOpName("ws.command"), sentry.WithTransactionSource(sentry.SourceTask))
	if !tx.Sampled.Bool() {
		return tx, nil // not sent: no child, no trace for the session to continue
	}
	span = tx.StartChild("grain.request", sentry.WithDescription(actors.KindUserSession+" Command"))
	actors.SetTrace(cmd, span)
	return tx, span
}

// endCommand finishes what startCommand started.
func endCommand(tx, span *sentry.Span) {
	if span != nil {
		span.Finish()
	}
	if tx != nil {
		tx.Finish()
	}
}

// eventCrumb records a queue, match or vote transition the socket is sent
// as a breadcrumb of its hub (bounded by the client's MaxBreadcrumbs).
func (c *conn) eventCrumb(ev *msg.Event) {
	if c.hub == nil {
		return
	}
	var (
		message string
		data    map[string]any
	)
	switch k := ev.GetKind().(type) {
	case *msg.Event_Queued:
		message, data = "queued", map[string]any{"pool": k.Queued.GetQueue().GetPool()}
	case *msg.Event_MatchFound:
		message, data = "match_found", map[string]any{"match_id": k.MatchFound.GetMatch().GetMatchId()}
	case *msg.Event_VoteRecorded:
		message, data = "vote_recorded", map[string]any{"match_id": k.VoteRecorded.GetMatchId(), "choice": k.VoteRecorded.GetChoice()}
	case *msg.Event_MatchResult:
		message, data = "match_result", map[string]any{"match_id": k.MatchResult.GetMatchId(), "result": k.MatchResult.GetResult()}
	case *msg.Event_Cancelled:
		message = "cancelled"
	case *msg.Event_Error:
		message, data = "error", map[string]any{"code": k.Error.GetCode()}
	default:
		return
	}
	c.hub.AddBreadcrumb(&sentry.Breadcrumb{Category: "ws.event", Message: message, Data: data, Level: sentry.LevelInfo}, nil)
}

// recoverLoop, deferred at the top of a socket loop, recovers a panic in
// it: it is logged and reported, and the socket closes; the server goes on.
func (c *conn) recoverLoop(where string) {
	v := recover()
	if v == nil {
		return
	}
	c.logger().Error("ws: panic; closing the socket", "loop", where, "panic", v, "reported", c.hub != nil)
	actors.CapturePanic(c.hub, v, where)
	c.closeWith(websocket.CloseInternalServerErr, "internal error")
	_ = c.ws.Close()
}

// recoverWriter, deferred at the top of the writer, recovers a panic in
// it as recoverLoop does; the writer is then finished for good, so run
// does not wait for it.
func (c *conn) recoverWriter() {
	v := recover()
	if v == nil {
		return
	}
	c.logger().Error("ws: panic; closing the socket", "loop", "ws.writer", "panic", v, "reported", c.hub != nil)
	actors.CapturePanic(c.hub, v, "ws.writer")
	c.finish()
	_ = c.ws.Close()
}
