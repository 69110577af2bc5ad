package actors

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/getsentry/sentry-go"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// User states, as on the wire.
const (
	StateIdle    = "idle"
	StateQueued  = "queued"
	StateMatched = "matched"
)

// Self-messages of a session (local only, never cross nodes).
type (
	graceExpired  struct{ epoch int }
	refreshTick   struct{}
	matchBackstop struct{ matchID string }
)

// session is the UserSession grain: one user's state, profile cache, attached
// connections and rate limit. All fields are owned by Receive.
//
// Its state survives the loss of its node: a queued user's place is in the
// store (a QueueEntry, written before the pool hears of it), and so is the
// match (written by the Match grain before anyone hears of it). A fresh
// activation restores both before it handles anything (restore).
type session struct {
	d       *Deps
	sys     *actor.ActorSystem
	self    *actor.PID
	userID  string
	profile *msg.ProfileData // nil until loaded; cache of the store
	// recent holds the partners within the rematch cooldown, in the order
	// met (addRecent), pruned at each spin (pruneRecent): about 13 bytes
	// a partner (a map of them cost about 73), as a user may meet hundreds
	// within a 24 h cooldown.
	recent recentSet
	// recentLoaded is set once recent holds the store's partners too.
	recentLoaded bool

	conns map[string]*actor.PID // by connKey; nil until the first attach
	// lastSeen is when a REST call last showed the user present.
	lastSeen time.Time

	// restored is set once the store's queue entry and active match are
	// loaded (restore); until then the session knows nothing.
	restored bool

	state      string
	enqueuedAt time.Time
	queue      *msg.QueueInfo
	eta        *msg.Eta
	waiter     *msg.Waiter // what the pool is told while queued

	// refused holds the ids of pairings the store refused (bounded), so a
	// pool that still offers one is not taken up on it again.
	refused map[string]struct{}

	// pending is a pairing the pool made that the Match grain has not yet
	// made durable: the user stays queued (and is told nothing) until it
	// is confirmed (match_found) or aborted (back to the same place).
	pending *msg.MatchInfo

	match *msg.MatchInfo
	// resultMissed is a match_result that arrived while no connection was
	// attached; the next connection gets it after its state.
	resultMissed *msg.MatchResult
	settled      string // id of the last match that got its result
	// closed holds the ids of the last maxClosed matches that got their
	// result (settled included), so a late vote on any of them gets
	// vote_closed rather than match_not_found.
	closed []string

	graceEpoch  int
	stopGrace   func() bool
	stopRefresh func() bool
	stopBackstp func() bool

	limits limit.Set // per-user budgets (ratelimit.go)

	// tctx and hub are the transaction context and Sentry hub of the
	// traced command being handled (traced); nil otherwise.
	tctx context.Context
	hub  *sentry.Hub
}

func newSession(d *Deps) actor.Actor {
	return &session{
		d:     d,
		state: StateIdle,
	}
}

// Receive handles one message.
func (s *session) Receive(ctx actor.Context) {
	s.d.hooks.receive(KindUserSession, s.userID, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.init(ctx)
	case *actor.Stopping:
		s.stopTimers()
		s.d.Metrics.Sessions.Dec()
		s.d.sessions.Add(-1)
	case *actor.Restarting:
		// The supervisor replaces this instance with a fresh one, which
		// counts itself again (Started) and restores from the store.
		s.stopTimers()
		s.d.Metrics.Sessions.Dec()
		s.d.sessions.Add(-1)
	case *actor.ReceiveTimeout:
		if s.state == StateIdle && len(s.conns) == 0 {
			ctx.Poison(ctx.Self())
			return
		}
		rearmIdle(ctx, s.d.Config.SessionIdle)
	case *actor.Stopped, *cluster.ClusterInit:
	case *msg.LimitTake:
		s.limitTake(ctx, m) // limits need nothing from the store
	default:
		if cmd, ok := m.(*msg.Command); ok && cmd.Trace != "" {
			s.traced(ctx, cmd)
			return
		}
		s.handle(ctx, m)
	}
}

// handle runs a message after restoring the session from the store.
func (s *session) handle(ctx actor.Context, m any) {
	if err := s.restore(ctx); err != nil {
		s.logger().Warn("session: restore failed", "err", err)
		switch m := m.(type) {
		case *msg.Command:
			s.fail(ctx, m, errUnavailable())
		case *msg.GetProfile:
			ctx.Respond(&msg.ProfileReply{Error: errUnavailable()})
		case *msg.PutProfile:
			ctx.Respond(&msg.ProfileReply{Error: errUnavailable()})
		case *msg.Attach:
			// Not attached: the connection's next re-attachment tries again.
			s.send(m.Conn, &msg.Event{Kind: &msg.Event_Error{Error: errUnavailable()}})
		}
		return
	}
	switch m := m.(type) {
	case *msg.Attach:
		s.attach(ctx, m)
	case *msg.Detach:
		ctx.Unwatch(m.Conn)
		s.detach(m.Conn)
	case *actor.Terminated:
		s.detach(m.Who)
	case *msg.Command:
		s.command(ctx, m)
	case *msg.GetProfile:
		p, e := s.loadProfile()
		ctx.Respond(&msg.ProfileReply{Profile: p, Error: e})
	case *msg.PutProfile:
		if e := s.take(limit.Profile); e != nil {
			ctx.Respond(&msg.ProfileReply{Error: e})
			return
		}
		ctx.Respond(s.putProfile(m.Profile))
	case *msg.MatchFound:
		s.matchFound(ctx, m.Match)
		if id := m.Match.GetMatchId(); id != "" && s.match.GetMatchId() == id {
			s.d.Router.Learn(KindMatch, id, m.Grain) // the votes go there
		}
	case *msg.MatchAborted:
		s.matchAborted(ctx, m.MatchId)
	case *msg.MatchResult:
		s.matchResult(m)
	case *msg.Resume:
		s.resume(ctx, m)
	case *msg.WaitUpdate:
		if s.state == StateQueued && m.Queue != nil && m.Queue.Pool == s.queue.GetPool() {
			s.queue, s.eta = m.Queue, m.Eta
			s.push(&msg.Event{Kind: &msg.Event_WaitUpdate{WaitUpdate: m}})
		}
	case *msg.RelaySignal:
		if s.state == StateMatched && s.match.GetMatchId() == m.MatchId && m.From == s.partnerID() {
			s.push(&msg.Event{Kind: &msg.Event_Signal{Signal: &msg.Signal{MatchId: m.MatchId, From: m.From, Data: m.Data}}})
		}
	case graceExpired:
		if s.stray(ctx) {
			return
		}
		s.onGraceExpired(ctx, m)
	case refreshTick:
		if s.stray(ctx) {
			return
		}
		s.onRefresh(ctx)
	case matchBackstop:
		if s.state == StateMatched && s.match.GetMatchId() == m.matchID {
			s.d.Router.Send(KindMatch, m.matchID, &msg.Finalize{Match: s.match})
			s.stopBackstp = after(ctx.ActorSystem(), s.self, time.Second, m)
		}
	default:
		s.logger().Warn("session: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

func (s *session) init(ctx actor.Context) {
	gc := cluster.GetClusterIdentity(ctx)
	s.userID = gc.GetIdentity()
	s.sys = ctx.ActorSystem()
	s.self = bareSelf(ctx)
	s.d.Metrics.Sessions.Inc()
	s.d.sessions.Add(1)
	ctx.SetReceiveTimeout(s.d.Config.SessionIdle)
}

// logger returns the node's logger with the session's grain and user
// (made only when something is logged: an idle session holds none).
func (s *session) logger() *slog.Logger {
	return s.d.Logger.With("grain", KindUserSession, "user", s.userID)
}

// stray reports (and stops the activation) when this node does not own the
// session: an activation a lagging node made here, or one whose identity
// moved to a node that joined. Its timers must not act on a place the
// owner's activation holds.
func (s *session) stray(ctx actor.Context) bool {
	if s.d.Router.Owns(KindUserSession, s.userID) {
		return false
	}
	s.logger().Info("session: not the owner any more; stopping this activation")
	s.stopTimers()
	ctx.Poison(ctx.Self())
	return true
}

func (s *session) stopTimers() {
	for _, f := range []func() bool{s.stopGrace, s.stopRefresh, s.stopBackstp} {
		if f != nil {
			f()
		}
	}
}

// addRecent records a partner of the rematch cooldown, met at t. It does
// not look for an earlier entry of id: within the cooldown the pool never
// pairs the two again, and an entry older than the cooldown is pruned
// before the next spin; loadRecent skips the ids it holds already.
func (s *session) addRecent(id string, t time.Time) {
	if s.d.Config.RematchCooldown <= 0 || id == "" {
		return
	}
	s.recent.add(id, t)
}

// ---- connections ----

func (s *session) attach(ctx actor.Context, m *msg.Attach) {
	conn := m.Conn
	if conn == nil {
		return
	}
	if _, ok := s.conns[connKey(conn)]; ok && m.Heartbeat {
		return
	}
	if s.overSocketCap(m) {
		return
	}
	if s.conns == nil {
		s.conns = map[string]*actor.PID{}
	}
	s.conns[connKey(conn)] = conn
	ctx.Watch(conn)
	s.graceEpoch++ // any running grace timer is now stale
	s.send(conn, &msg.Event{Kind: &msg.Event_State{State: s.stateMsg()}})
	// Every socket gets exactly one match_found per match: one attached
	// during the match (a reconnect, a new tab) gets it after its state.
	if s.state == StateMatched && m.SeenMatch != s.match.GetMatchId() {
		s.send(conn, &msg.Event{Kind: &msg.Event_MatchFound{MatchFound: &msg.MatchFound{Match: s.match}}})
	}
	if s.resultMissed != nil && s.state == StateIdle {
		s.send(conn, &msg.Event{Kind: &msg.Event_MatchResult{MatchResult: s.resultMissed}})
	}
	s.resultMissed = nil
}

func (s *session) detach(conn *actor.PID) {
	if conn == nil {
		return
	}
	if _, ok := s.conns[connKey(conn)]; !ok {
		return
	}
	delete(s.conns, connKey(conn))
	if len(s.conns) == 0 && s.state == StateQueued {
		s.armGrace()
	}
}

func (s *session) armGrace() {
	s.graceEpoch++
	if s.stopGrace != nil {
		s.stopGrace()
	}
	s.stopGrace = after(s.sys, s.self, s.d.Config.ReconnectGrace, graceExpired{epoch: s.graceEpoch})
}

func (s *session) onGraceExpired(ctx actor.Context, m graceExpired) {
	if m.epoch != s.graceEpoch || len(s.conns) > 0 || s.state != StateQueued {
		return
	}
	if left := s.d.Config.ReconnectGrace - s.d.now().Sub(s.lastSeen); left > 0 {
		s.armGrace() // a REST call showed the user present meanwhile
		return
	}
	if s.pending != nil {
		s.armGrace() // decided by the Match grain first
		return
	}
	left, err := s.leaveQueue(ctx, OutcomeExpired)
	if err != nil {
		s.logger().Warn("session: dequeue after grace failed; retrying", "err", err)
		s.armGrace()
		return
	}
	if left {
		s.logger().Info("session: left the queue after the reconnect grace")
	}
}

// push sends an event to every attached connection.
func (s *session) push(ev *msg.Event) {
	ev.Viewer = s.userID
	for _, c := range s.conns {
		s.sys.Root.Send(c, ev)
	}
}

func (s *session) send(conn *actor.PID, ev *msg.Event) {
	ev.Viewer = s.userID
	s.sys.Root.Send(conn, ev)
}

// reply answers a command: to its connection when it came from one (with
// ref), otherwise as the request's response.
func (s *session) reply(ctx actor.Context, cmd *msg.Command, ev *msg.Event) {
	ev.Ref = cmd.Ref
	ev.Viewer = s.userID
	if cmd.Conn != nil {
		s.sys.Root.Send(cmd.Conn, ev)
		return
	}
	if ctx.Sender() != nil {
		ctx.Respond(ev)
	}
}

// connKey is a connection's key in a session's conns. A PID's String()
// formats it with prototext, which showed in profiles at every command and
// heartbeat.
func connKey(p *actor.PID) string { return p.Address + "/" + p.Id }

// broadcast answers a command on the asking connection (with ref) and tells
// the user's other connections the same news (without ref).
func (s *session) broadcast(ctx actor.Context, cmd *msg.Command, ev *msg.Event) {
	for _, c := range s.conns {
		if cmd.Conn != nil && c.Id == cmd.Conn.Id && c.Address == cmd.Conn.Address {
			continue
		}
		s.send(c, &msg.Event{Kind: ev.Kind})
	}
	s.reply(ctx, cmd, ev)
}

func (s *session) fail(ctx actor.Context, cmd *msg.Command, e *msg.Error) {
	s.reply(ctx, cmd, &msg.Event{Kind: &msg.Event_Error{Error: e}})
}
