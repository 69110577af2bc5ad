package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
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
type session struct {
	d       *Deps
	cl      *cluster.Cluster
	log     *slog.Logger
	self    *actor.PID
	userID  string
	profile *msg.ProfileData     // nil until loaded; cache of the store
	recent  map[string]time.Time // partners within the rematch cooldown, by match time
	// recentLoaded is set once recent holds the store's partners too.
	recentLoaded bool

	conns map[string]*actor.PID // by PID string
	// lastSeen is when a REST call last showed the user present.
	lastSeen time.Time

	state      string
	enqueuedAt time.Time
	queue      *msg.QueueInfo
	eta        *msg.Eta

	match       *msg.MatchInfo
	matchMissed bool // match_found arrived while no connection was attached
	// resultMissed is a match_result that arrived while no connection was
	// attached; the next connection gets it after its state.
	resultMissed *msg.MatchResult
	settled      string // id of the last match that got its result

	graceEpoch  int
	stopGrace   func() bool
	stopRefresh func() bool
	stopBackstp func() bool

	limit bucket
}

func newSession(d *Deps) actor.Actor {
	return &session{
		d:      d,
		conns:  map[string]*actor.PID{},
		state:  StateIdle,
		recent: map[string]time.Time{},
		limit:  newBucket(d.Config.CommandRate, d.Config.CommandBurst),
	}
}

// Receive handles one message.
func (s *session) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.init(ctx)
	case *actor.Stopping:
		s.stopTimers()
		s.d.Metrics.Sessions.Dec()
	case *actor.ReceiveTimeout:
		if s.state == StateIdle && len(s.conns) == 0 {
			ctx.Poison(ctx.Self())
		}
	case *msg.Attach:
		s.attach(ctx, m.Conn)
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
		ctx.Respond(s.putProfile(m.Profile))
	case *msg.MatchFound:
		s.matchFound(m.Match)
	case *msg.MatchResult:
		s.matchResult(m)
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
		s.onGraceExpired(ctx, m)
	case refreshTick:
		s.onRefresh(ctx)
	case matchBackstop:
		if s.state == StateMatched && s.match.GetMatchId() == m.matchID {
			tell(s.cl, s.log, m.matchID, KindMatch, &msg.Finalize{Match: s.match})
			s.stopBackstp = after(ctx.ActorSystem(), s.self, time.Second, m)
		}
	case *actor.Restarting, *actor.Stopped, *cluster.ClusterInit:
	default:
		s.log.Warn("session: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

func (s *session) init(ctx actor.Context) {
	gc := cluster.GetClusterIdentity(ctx)
	s.userID = gc.GetIdentity()
	s.cl = cluster.GetCluster(ctx.ActorSystem())
	s.self = ctx.Self()
	s.log = s.d.Logger.With("grain", KindUserSession, "user", s.userID)
	s.d.Metrics.Sessions.Inc()
	ctx.SetReceiveTimeout(s.d.Config.SessionIdle)
}

// loadRecent fills the rematch-cooldown set from the store once per
// activation (at the first spin), so it survives restarts and moves. A
// store failure leaves it to be tried again at the next spin.
func (s *session) loadRecent() {
	if s.recentLoaded || s.d.Config.RematchCooldown <= 0 {
		return
	}
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	ids, err := s.d.Store.RecentPartners(c, s.userID, s.d.now().Add(-s.d.Config.RematchCooldown))
	if err != nil {
		s.d.Metrics.StoreErrors.WithLabelValues("recent_partners").Inc()
		s.log.Warn("session: recent partners unavailable", "err", err)
		return
	}
	s.recentLoaded = true
	for _, id := range ids {
		if _, ok := s.recent[id]; !ok {
			s.recent[id] = s.d.now()
		}
	}
}

func (s *session) stopTimers() {
	for _, f := range []func() bool{s.stopGrace, s.stopRefresh, s.stopBackstp} {
		if f != nil {
			f()
		}
	}
}

// ---- connections ----

func (s *session) attach(ctx actor.Context, conn *actor.PID) {
	if conn == nil {
		return
	}
	s.conns[conn.String()] = conn
	ctx.Watch(conn)
	s.graceEpoch++ // any running grace timer is now stale
	s.send(conn, &msg.Event{Kind: &msg.Event_State{State: s.stateMsg()}})
	if s.matchMissed && s.state == StateMatched {
		s.send(conn, &msg.Event{Kind: &msg.Event_MatchFound{MatchFound: &msg.MatchFound{Match: s.match}}})
	}
	if s.resultMissed != nil && s.state == StateIdle {
		s.send(conn, &msg.Event{Kind: &msg.Event_MatchResult{MatchResult: s.resultMissed}})
	}
	s.matchMissed, s.resultMissed = false, nil
}

func (s *session) detach(conn *actor.PID) {
	if conn == nil {
		return
	}
	if _, ok := s.conns[conn.String()]; !ok {
		return
	}
	delete(s.conns, conn.String())
	if len(s.conns) == 0 && s.state == StateQueued {
		s.armGrace()
	}
}

func (s *session) armGrace() {
	s.graceEpoch++
	if s.stopGrace != nil {
		s.stopGrace()
	}
	s.stopGrace = after(s.cl.ActorSystem, s.self, s.d.Config.ReconnectGrace, graceExpired{epoch: s.graceEpoch})
}

func (s *session) onGraceExpired(ctx actor.Context, m graceExpired) {
	if m.epoch != s.graceEpoch || len(s.conns) > 0 || s.state != StateQueued {
		return
	}
	if left := s.d.Config.ReconnectGrace - s.d.now().Sub(s.lastSeen); left > 0 {
		s.armGrace() // a REST call showed the user present meanwhile
		return
	}
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	r, err := ask[*msg.DequeueReply](c, s.cl, s.queue.GetPool(), KindMatchPool, &msg.Dequeue{UserId: s.userID, Outcome: "expired"}, s.d.Config.RequestTimeout)
	if err != nil {
		s.log.Warn("session: dequeue after grace failed; retrying", "err", err)
		s.armGrace()
		return
	}
	if r.Removed {
		s.log.Info("session: left the queue after the reconnect grace")
		s.toIdle()
	}
}

// push sends an event to every attached connection.
func (s *session) push(ev *msg.Event) {
	ev.Viewer = s.userID
	for _, c := range s.conns {
		s.cl.ActorSystem.Root.Send(c, ev)
	}
}

func (s *session) send(conn *actor.PID, ev *msg.Event) {
	ev.Viewer = s.userID
	s.cl.ActorSystem.Root.Send(conn, ev)
}

// reply answers a command: to its connection when it came from one (with
// ref), otherwise as the request's response.
func (s *session) reply(ctx actor.Context, cmd *msg.Command, ev *msg.Event) {
	ev.Ref = cmd.Ref
	ev.Viewer = s.userID
	if cmd.Conn != nil {
		s.cl.ActorSystem.Root.Send(cmd.Conn, ev)
		return
	}
	if ctx.Sender() != nil {
		ctx.Respond(ev)
	}
}

// broadcast answers a command on the asking connection (with ref) and tells
// the user's other connections the same news (without ref).
func (s *session) broadcast(ctx actor.Context, cmd *msg.Command, ev *msg.Event) {
	for k, c := range s.conns {
		if cmd.Conn != nil && k == cmd.Conn.String() {
			continue
		}
		s.send(c, &msg.Event{Kind: ev.Kind})
	}
	s.reply(ctx, cmd, ev)
}

func (s *session) fail(ctx actor.Context, cmd *msg.Command, e *msg.Error) {
	s.reply(ctx, cmd, &msg.Event{Kind: &msg.Event_Error{Error: e}})
}

// ---- commands ----

func (s *session) command(ctx actor.Context, cmd *msg.Command) {
	now := s.d.now()
	if cmd.Conn == nil {
		s.lastSeen = now
	}
	if ok, wait := s.limit.take(now); !ok {
		s.d.Metrics.RateLimited.Inc()
		e := NewError(CodeRateLimited, "You're going a bit fast. Please wait a moment and try again.")
		e.RetryAfterS = wait.Seconds()
		s.fail(ctx, cmd, e)
		return
	}
	switch k := cmd.Kind.(type) {
	case *msg.Command_Spin:
		s.spin(ctx, cmd)
	case *msg.Command_Cancel:
		s.cancel(ctx, cmd)
	case *msg.Command_Status:
		s.reply(ctx, cmd, &msg.Event{Kind: &msg.Event_State{State: s.stateMsg()}})
	case *msg.Command_Vote:
		s.vote(ctx, cmd, k.Vote)
	case *msg.Command_Signal:
		s.signal(ctx, cmd, k.Signal)
	default:
		s.fail(ctx, cmd, NewError(CodeInvalidMessage, "That request type isn't supported."))
	}
	if cmd.Conn == nil && len(s.conns) == 0 && s.state == StateQueued {
		s.armGrace()
	}
}

func (s *session) spin(ctx actor.Context, cmd *msg.Command) {
	switch s.state {
	case StateQueued:
		s.fail(ctx, cmd, NewError(CodeAlreadyQueued, "You're already in the queue; hang tight."))
		return
	case StateMatched:
		s.fail(ctx, cmd, NewError(CodeBusy, "You're on a date right now. Vote first, then spin again."))
		return
	}
	p, perr := s.loadProfile()
	if perr != nil {
		s.fail(ctx, cmd, perr)
		return
	}
	now := s.d.now()
	s.loadRecent()
	s.pruneRecent(now)
	w := &msg.Waiter{
		UserId: s.userID, DisplayName: p.DisplayName, Gender: p.Gender, Seeking: p.Seeking,
		EnqueuedAtMs: ms(now), RecentPartners: s.recentIDs(), Session: s.self,
	}
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	r, err := ask[*msg.EnqueueReply](c, s.cl, p.Pool, KindMatchPool, &msg.Enqueue{Waiter: w}, s.d.Config.RequestTimeout)
	if err != nil {
		s.log.Error("session: enqueue failed", "pool", p.Pool, "err", err)
		s.fail(ctx, cmd, errUnavailable())
		return
	}
	s.state, s.enqueuedAt, s.queue, s.eta, s.resultMissed = StateQueued, now, r.Queue, r.Eta, nil
	s.broadcast(ctx, cmd, &msg.Event{Kind: &msg.Event_Queued{Queued: &msg.Queued{Queue: r.Queue, Eta: r.Eta}}})
	if r.Match != nil {
		s.matchFound(r.Match)
		return
	}
	s.armRefresh()
}

func (s *session) armRefresh() {
	if s.stopRefresh != nil {
		s.stopRefresh()
	}
	s.stopRefresh = after(s.cl.ActorSystem, s.self, s.d.Config.Refresh, refreshTick{})
}

// onRefresh re-announces a queued user to the pool (a no-op when the pool
// holds them), so a pool activation that lost its state rebuilds its queue.
func (s *session) onRefresh(ctx actor.Context) {
	if s.state != StateQueued || s.profile == nil {
		return
	}
	w := &msg.Waiter{
		UserId: s.userID, DisplayName: s.profile.DisplayName, Gender: s.profile.Gender, Seeking: s.profile.Seeking,
		EnqueuedAtMs: ms(s.enqueuedAt), RecentPartners: s.recentIDs(), Session: s.self,
	}
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	r, err := ask[*msg.EnqueueReply](c, s.cl, s.queue.GetPool(), KindMatchPool, &msg.Enqueue{Waiter: w, Refresh: true}, s.d.Config.RequestTimeout)
	if err != nil {
		s.log.Warn("session: re-announce failed", "err", err)
	} else if r.Match != nil {
		s.matchFound(r.Match)
		return
	}
	s.armRefresh()
}

func (s *session) cancel(ctx actor.Context, cmd *msg.Command) {
	if s.state != StateQueued {
		s.fail(ctx, cmd, NewError(CodeNotQueued, "You're not in the queue."))
		return
	}
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	r, err := ask[*msg.DequeueReply](c, s.cl, s.queue.GetPool(), KindMatchPool, &msg.Dequeue{UserId: s.userID, Outcome: "cancelled"}, s.d.Config.RequestTimeout)
	if err != nil {
		s.log.Error("session: dequeue failed", "err", err)
		s.fail(ctx, cmd, errUnavailable())
		return
	}
	if !r.Removed {
		// The pool paired us just before the cancel arrived: the match wins.
		s.fail(ctx, cmd, NewError(CodeNotQueued, "You were just matched, so there was nothing to cancel."))
		return
	}
	s.toIdle()
	s.broadcast(ctx, cmd, &msg.Event{Kind: &msg.Event_Cancelled{Cancelled: &msg.Cancelled{}}})
}

func (s *session) toIdle() {
	s.state, s.queue, s.eta = StateIdle, nil, nil
	if s.stopRefresh != nil {
		s.stopRefresh()
	}
}

func (s *session) vote(ctx actor.Context, cmd *msg.Command, v *msg.Vote) {
	if v.MatchId == "" || (v.Choice != persistence.ChoiceYes && v.Choice != persistence.ChoiceNo) {
		s.fail(ctx, cmd, NewError(CodeInvalidMessage, `A vote needs a match_id and a choice of "yes" or "no".`))
		return
	}
	if s.state != StateMatched || s.match.GetMatchId() != v.MatchId {
		s.fail(ctx, cmd, NewError(CodeMatchNotFound, "That match isn't yours, or it has already ended."))
		return
	}
	if s.d.now().After(fromMS(s.match.VoteDeadlineMs)) {
		s.fail(ctx, cmd, NewError(CodeVoteClosed, "Voting on this match has closed."))
		return
	}
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	r, err := ask[*msg.VoteReply](c, s.cl, v.MatchId, KindMatch, &msg.CastVote{Match: s.match, Voter: s.userID, Choice: v.Choice}, s.d.Config.RequestTimeout)
	if err != nil {
		s.log.Error("session: vote failed", "match", v.MatchId, "err", err)
		s.fail(ctx, cmd, errUnavailable())
		return
	}
	if r.Error != nil {
		s.fail(ctx, cmd, r.Error)
		return
	}
	s.broadcast(ctx, cmd, &msg.Event{Kind: &msg.Event_VoteRecorded{VoteRecorded: &msg.VoteRecorded{MatchId: v.MatchId, Choice: r.Choice}}})
}

func (s *session) signal(ctx actor.Context, cmd *msg.Command, sg *msg.SignalOut) {
	if s.state != StateMatched || s.match.GetMatchId() != sg.MatchId {
		s.fail(ctx, cmd, NewError(CodeMatchNotFound, "Signals can only go to your current partner during the date."))
		return
	}
	tell(s.cl, s.log, s.partnerID(), KindUserSession, &msg.RelaySignal{MatchId: sg.MatchId, From: s.userID, Data: sg.Data})
}

// ---- match events ----

func (s *session) matchFound(m *msg.MatchInfo) {
	if m == nil || s.match.GetMatchId() == m.MatchId || s.settled == m.MatchId {
		return // duplicate (the spinner learns of an instant pair twice)
	}
	now := s.d.now()
	s.toIdle()
	s.state, s.match = StateMatched, m
	s.recent[s.partnerID()] = now
	if len(s.conns) == 0 {
		s.matchMissed = true
	}
	s.push(&msg.Event{Kind: &msg.Event_MatchFound{MatchFound: &msg.MatchFound{Match: m}}})
	if s.stopBackstp != nil {
		s.stopBackstp()
	}
	// Backstop: if the Match grain lost its deadline timer (a node move), ask
	// it to settle a little after the deadline.
	wait := fromMS(m.VoteDeadlineMs).Sub(now) + 2*time.Second
	s.stopBackstp = after(s.cl.ActorSystem, s.self, wait, matchBackstop{matchID: m.MatchId})
}

func (s *session) matchResult(m *msg.MatchResult) {
	if s.state != StateMatched || s.match.GetMatchId() != m.MatchId {
		return
	}
	if s.stopBackstp != nil {
		s.stopBackstp()
	}
	s.state, s.match, s.matchMissed, s.settled = StateIdle, nil, false, m.MatchId
	if len(s.conns) == 0 {
		s.resultMissed = m
	}
	s.push(&msg.Event{Kind: &msg.Event_MatchResult{MatchResult: m}})
}

func (s *session) partnerID() string {
	if s.match == nil {
		return ""
	}
	if s.match.A.GetUserId() == s.userID {
		return s.match.B.GetUserId()
	}
	return s.match.A.GetUserId()
}

func (s *session) stateMsg() *msg.State {
	st := &msg.State{State: s.state, Viewer: s.userID}
	switch s.state {
	case StateQueued:
		st.Queue, st.Eta = s.queue, s.eta
	case StateMatched:
		st.Match = s.match
	}
	return st
}

func (s *session) pruneRecent(now time.Time) {
	for id, at := range s.recent {
		if s.d.Config.RematchCooldown <= 0 || now.Sub(at) > s.d.Config.RematchCooldown {
			delete(s.recent, id)
		}
	}
}

func (s *session) recentIDs() []string {
	ids := make([]string, 0, len(s.recent))
	for id := range s.recent {
		ids = append(ids, id)
	}
	return ids
}

// ---- profile ----

func (s *session) loadProfile() (*msg.ProfileData, *msg.Error) {
	if s.profile != nil {
		s.d.Metrics.ProfileCacheHits.Inc()
		return s.profile, nil
	}
	s.d.Metrics.ProfileCacheMisses.Inc()
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	r, err := s.d.Store.Profile(c, s.userID)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return nil, NewError(CodeProfileIncomplete, "Finish your profile (name, gender, who you're seeking) before you spin.")
	case err != nil:
		s.d.Metrics.StoreErrors.WithLabelValues("profile").Inc()
		s.log.Error("session: load profile", "err", err)
		return nil, errUnavailable()
	}
	s.profile = profileFromRecord(r)
	return s.profile, nil
}

func (s *session) putProfile(p *msg.ProfileData) *msg.ProfileReply {
	if s.state != StateIdle {
		return &msg.ProfileReply{Error: NewError(CodeBusy, "You can't change your profile while you're in the queue or on a date.")}
	}
	if p == nil {
		return &msg.ProfileReply{Error: NewError(CodeBadRequest, "A profile is required.")}
	}
	p.UserId = s.userID
	if e := NormalizeProfile(p); e != nil {
		return &msg.ProfileReply{Error: e}
	}
	c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout)
	defer cancel()
	if err := s.d.Store.PutProfile(c, profileToRecord(p)); err != nil {
		s.d.Metrics.StoreErrors.WithLabelValues("put_profile").Inc()
		s.log.Error("session: save profile", "err", err)
		return &msg.ProfileReply{Error: errUnavailable()}
	}
	s.profile = p
	return &msg.ProfileReply{Profile: p}
}
