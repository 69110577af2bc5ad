package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// The per-user limits, kept by the UserSession (limit.Set, owned by its
// Receive): one budget per action across all of the user's sockets and
// REST calls, and the cap on the user's sockets.

// CloseTooManySockets is the WebSocket close status of a socket refused
// because its user (or address) already holds as many as the cap allows
// (4000-4999 are the application's; 4029 echoes HTTP 429).
const CloseTooManySockets = 4029

// CommandAction returns the budget a command spends.
func CommandAction(cmd *msg.Command) limit.Action {
	switch cmd.Kind.(type) {
	case *msg.Command_Spin:
		return limit.Spin
	case *msg.Command_Vote:
		return limit.Vote
	case *msg.Command_Signal:
		return limit.Signal
	}
	return limit.Command
}

// take spends one event of a from the user's budget; nil means allowed,
// otherwise the rate_limited error to answer with (counted).
func (s *session) take(a limit.Action) *msg.Error {
	d := s.limits.Take(&s.d.Config.Limits.User, a, s.d.now())
	if d.Allowed {
		return nil
	}
	s.d.Metrics.RateLimited.WithLabelValues(limit.User.String(), a.String()).Inc()
	return rateLimitedError(d.RetryAfter)
}

// limitTake answers the edge's per-user check of a REST class or an upgrade.
func (s *session) limitTake(ctx actor.Context, m *msg.LimitTake) {
	a, ok := limit.ParseAction(m.Action)
	if !ok {
		ctx.Respond(&msg.LimitReply{Allowed: true})
		return
	}
	d := s.limits.Take(&s.d.Config.Limits.User, a, s.d.now())
	if !d.Allowed {
		s.d.Metrics.RateLimited.WithLabelValues(limit.User.String(), a.String()).Inc()
	}
	ctx.Respond(decisionReply(d))
}

// overSocketCap reports (and refuses the socket, which its transport then
// closes with CloseTooManySockets) a new connection beyond the user's cap.
func (s *session) overSocketCap(m *msg.Attach) bool {
	max := s.d.Config.Limits.SocketsPerUser
	if max <= 0 || m.Heartbeat || len(s.conns) < max {
		return false
	}
	if _, ok := s.conns[connKey(m.Conn)]; ok {
		return false
	}
	s.d.Metrics.RateLimited.WithLabelValues(limit.User.String(), limit.Sockets.String()).Inc()
	e := NewError(CodeRateLimited, "You have too many Spinmatch tabs open. Close one and try again.")
	e.Close, e.CloseCode = true, CloseTooManySockets
	s.send(m.Conn, &msg.Event{Kind: &msg.Event_Error{Error: e}})
	return true
}
