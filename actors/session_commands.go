package actors

import (
	"errors"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
)

// Outcomes of a wait that ended without a match (wait samples, Dequeue).
const (
	OutcomeCancelled = "cancelled"
	OutcomeExpired   = "expired"
	OutcomeMatched   = "matched"
)

// command runs one client request (spin, cancel, status, vote, signal)
// after the user's rate limit of its action (ratelimit.go).
func (s *session) command(ctx actor.Context, cmd *msg.Command) {
	now := s.d.now()
	if cmd.Conn == nil {
		s.lastSeen = now
	}
	if e := s.take(CommandAction(cmd)); e != nil {
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
	s.d.spins.Add(1)
	switch s.state {
	case StateQueued:
		s.fail(ctx, cmd, NewError(CodeAlreadyQueued, "You're already in the queue; hang tight."))
		return
	case StateMatched:
		s.fail(ctx, cmd, NewError(CodeBusy, "You're on a date right now. Vote first, then spin again."))
		return
	}
	p, perr := s.loadProfile()
	if perr == nil && !poolAllowed(p.Pool, s.d.Config.Pools) {
		perr = poolWithdrawn(p.Pool, s.d.Config.Pools)
	}
	if perr != nil {
		s.fail(ctx, cmd, perr)
		return
	}
	now := s.d.now()
	s.loadRecent()
	s.pruneRecent(now)
	w := &msg.Waiter{
		UserId: s.userID, DisplayName: p.DisplayName, Gender: p.Gender, Seeking: p.Seeking,
		EnqueuedAtMs: ms(now), RecentPartners: s.recentIDs(),
	}
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	// The place is durable before the pool hears of it, so that the store
	// write of any match the pool forms from it finds (and deletes) it.
	if err := s.d.Store.PutQueueEntry(c, queueEntry(p.Pool, w)); err != nil {
		s.d.Metrics.StoreErrors.WithLabelValues("put_queue_entry").Inc()
		s.logger().Error("session: queue entry not stored", "err", err)
		s.fail(ctx, cmd, errUnavailable())
		return
	}
	r, err := ask[*msg.EnqueueReply](c, s.d, p.Pool, KindMatchPool, &msg.Enqueue{Waiter: w}, s.d.Config.RequestTimeout)
	if err != nil {
		s.logger().Error("session: enqueue failed", "pool", p.Pool, "err", err)
		s.forgetEntry(p.Pool, now)
		// The pool may still take the late Enqueue: have it drop the place.
		s.d.Router.Send(KindMatchPool, p.Pool, &msg.Dequeue{UserId: s.userID, Outcome: OutcomeCancelled, Ghost: true})
		s.fail(ctx, cmd, errUnavailable())
		return
	}
	s.state, s.enqueuedAt, s.queue, s.eta, s.resultMissed = StateQueued, now, r.Queue, r.Eta, nil
	s.waiter = w
	if s.queue == nil {
		s.queue = &msg.QueueInfo{Pool: p.Pool}
	}
	s.broadcast(ctx, cmd, &msg.Event{Kind: &msg.Event_Queued{Queued: &msg.Queued{Queue: r.Queue, Eta: r.Eta}}})
	s.crumb("queued", "pool", p.Pool)
	s.armRefresh()
	if r.Match != nil {
		s.pairedAtOnce(ctx, cmd, r.Match)
	}
}

// pairedAtOnce takes a pairing the pool made with the spin itself. The
// pool has handed it to its Match grain (a one-way send the Router
// delivers), which tells both partners once it is durable (MatchFound) or
// refused (MatchAborted), so the session asks nothing: it keeps the
// pairing pending, and the user stays queued until one of them comes. If
// neither comes within a refresh period, onRefresh asks the Match grain
// (paired). A traced spin asks at once, so that the start is a span of
// its trace, and so does a REST spin (no connection), whose caller reads
// the match from the status that follows its answer. Asking for every
// spin cost a request, its reply and the Match grain's second MatchFound
// to both partners.
func (s *session) pairedAtOnce(ctx actor.Context, cmd *msg.Command, info *msg.MatchInfo) {
	if s.tctx != nil || cmd.Conn == nil {
		s.paired(ctx, info)
		return
	}
	if s.takes(info) {
		s.pending = info
	}
}

// takes reports whether a pairing the pool offers is one to take up: not
// the user's current or last settled match, nor one the store refused.
func (s *session) takes(info *msg.MatchInfo) bool {
	if info == nil || s.settled == info.MatchId || s.match.GetMatchId() == info.MatchId {
		return false
	}
	_, refused := s.refused[info.MatchId]
	return !refused
}

// paired handles a pairing the pool made: the Match grain makes it durable
// (or refuses it) before the user is told.
func (s *session) paired(ctx actor.Context, info *msg.MatchInfo) {
	if !s.takes(info) {
		return
	}
	s.pending = info
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	r, err := ask[*msg.StartReply](c, s.d, info.MatchId, KindMatch, &msg.StartMatch{Match: info}, s.d.Config.RequestTimeout)
	switch {
	case err != nil:
		s.logger().Warn("session: match not confirmed yet", "match", info.MatchId, "err", err)
	case r.Ok:
		s.matchFound(ctx, info)
	case r.Aborted:
		s.matchAborted(ctx, info.MatchId)
	}
	// Otherwise the Match grain retries the store and tells us; the refresh
	// tick asks again meanwhile.
}

func (s *session) armRefresh() {
	if s.stopRefresh != nil {
		s.stopRefresh()
	}
	s.stopRefresh = after(s.sys, s.self, s.d.Config.Refresh, refreshTick{})
}

// onRefresh re-announces a queued user to the pool (a no-op when the pool
// holds them), so a pool activation that lost its state rebuilds its queue,
// and drives a pending pairing to its end.
func (s *session) onRefresh(ctx actor.Context) {
	if s.state != StateQueued {
		return
	}
	s.armRefresh()
	if s.pending != nil {
		s.paired(ctx, s.pending)
		return
	}
	s.announce(ctx, false)
}

// announce tells the pool where the user stands (their original enqueue
// time keeps their place) and takes its answer; with tell, the answer goes
// to the user's connections as a wait_update (the pool was rebuilt, so the
// user hears from the new one at once).
func (s *session) announce(ctx actor.Context, tell bool) {
	if s.waiter == nil {
		return
	}
	s.waiter.RecentPartners = s.recentIDs()
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	r, err := ask[*msg.EnqueueReply](c, s.d, s.queue.GetPool(), KindMatchPool, &msg.Enqueue{Waiter: s.waiter, Refresh: true}, s.d.Config.RequestTimeout)
	switch {
	case err != nil:
		s.logger().Warn("session: re-announce failed", "err", err)
	case r.Match != nil:
		s.paired(ctx, r.Match)
	case r.Queue.GetPosition() > 0:
		s.queue, s.eta = r.Queue, r.Eta
		if tell {
			s.push(&msg.Event{Kind: &msg.Event_WaitUpdate{WaitUpdate: &msg.WaitUpdate{Queue: r.Queue, Eta: r.Eta}}})
		}
	}
}

func (s *session) cancel(ctx actor.Context, cmd *msg.Command) {
	if s.state != StateQueued {
		s.fail(ctx, cmd, NewError(CodeNotQueued, "You're not in the queue."))
		return
	}
	if s.pending != nil {
		s.fail(ctx, cmd, NewError(CodeNotQueued, "You were just matched, so there was nothing to cancel."))
		return
	}
	left, err := s.leaveQueue(ctx, OutcomeCancelled)
	if err != nil {
		s.logger().Error("session: dequeue failed", "err", err)
		s.fail(ctx, cmd, errUnavailable())
		return
	}
	if !left {
		// The pool paired us just before the cancel arrived: the match wins.
		s.fail(ctx, cmd, NewError(CodeNotQueued, "You were just matched, so there was nothing to cancel."))
		return
	}
	s.broadcast(ctx, cmd, &msg.Event{Kind: &msg.Event_Cancelled{Cancelled: &msg.Cancelled{}}})
	s.crumb("cancelled")
}

// leaveQueue takes the user out of the pool and the store; it reports
// false when the pool had paired them instead (the pairing goes on).
func (s *session) leaveQueue(ctx actor.Context, outcome string) (bool, error) {
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	r, err := ask[*msg.DequeueReply](c, s.d, s.queue.GetPool(), KindMatchPool, &msg.Dequeue{UserId: s.userID, Outcome: outcome}, s.d.Config.RequestTimeout)
	if err != nil {
		return false, err
	}
	if !r.Removed && r.Match != nil {
		s.paired(ctx, r.Match)
		return false, nil
	}
	// Removed, or a pool that does not hold the user (it lost them): either
	// way the user is no longer queued.
	s.forgetEntry(s.queue.GetPool(), s.enqueuedAt)
	s.toIdle()
	return true, nil
}

// forgetEntry deletes the stored place (best effort: a leftover is dropped
// by the next pool that loads it, when this session answers its Resume).
func (s *session) forgetEntry(pool string, enqueuedAt time.Time) {
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	if err := s.d.Store.DeleteQueueEntry(c, s.userID, enqueuedAt); err != nil {
		s.d.Metrics.StoreErrors.WithLabelValues("delete_queue_entry").Inc()
		s.logger().Warn("session: queue entry not deleted", "pool", pool, "err", err)
	}
}

func (s *session) toIdle() {
	s.state, s.queue, s.eta, s.waiter, s.pending = StateIdle, nil, nil, nil, nil
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
		if choice, ok := s.storedVote(v.MatchId); ok {
			// A repeat of a vote that was recorded (a resend after a move,
			// or a client retrying after a reconnect): idempotent.
			s.reply(ctx, cmd, &msg.Event{Kind: &msg.Event_VoteRecorded{VoteRecorded: &msg.VoteRecorded{MatchId: v.MatchId, Choice: choice}}})
			return
		}
		if v.MatchId == s.settled || slices.Contains(s.closed, v.MatchId) {
			s.fail(ctx, cmd, NewError(CodeVoteClosed, "Voting on this match has closed."))
			return
		}
		s.fail(ctx, cmd, NewError(CodeMatchNotFound, "That match isn't yours, or it has already ended."))
		return
	}
	if s.d.now().After(fromMS(s.match.VoteDeadlineMs)) {
		s.fail(ctx, cmd, NewError(CodeVoteClosed, "Voting on this match has closed."))
		return
	}
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	r, err := ask[*msg.VoteReply](c, s.d, v.MatchId, KindMatch, &msg.CastVote{Match: s.match, Voter: s.userID, Choice: v.Choice}, s.d.Config.RequestTimeout)
	if err != nil {
		s.logger().Error("session: vote failed", "match", v.MatchId, "err", err)
		s.fail(ctx, cmd, errUnavailable())
		return
	}
	if r.Error != nil {
		s.fail(ctx, cmd, r.Error)
		return
	}
	s.broadcast(ctx, cmd, &msg.Event{Kind: &msg.Event_VoteRecorded{VoteRecorded: &msg.VoteRecorded{MatchId: v.MatchId, Choice: r.Choice}}})
	s.crumb("vote_recorded", "match_id", v.MatchId, "choice", r.Choice)
}

// storedVote returns the user's recorded vote on a match that is no longer
// the current one (false when there is none, or the store cannot tell).
func (s *session) storedVote(matchID string) (string, bool) {
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	votes, err := s.d.Store.Votes(c, matchID)
	if err != nil {
		return "", false
	}
	choice, ok := votes[s.userID]
	return choice, ok
}

func (s *session) signal(ctx actor.Context, cmd *msg.Command, sg *msg.SignalOut) {
	if s.state != StateMatched || s.match.GetMatchId() != sg.MatchId {
		s.fail(ctx, cmd, NewError(CodeMatchNotFound, "Signals can only go to your current partner during the date."))
		return
	}
	s.d.Router.Send(KindUserSession, s.partnerID(), &msg.RelaySignal{MatchId: sg.MatchId, From: s.userID, Data: sg.Data})
}

// ---- match events ----

// matchFound takes a match the Match grain made durable.
func (s *session) matchFound(ctx actor.Context, m *msg.MatchInfo) {
	if m == nil || s.match.GetMatchId() == m.MatchId || s.settled == m.MatchId {
		return // duplicate (the spinner learns of an instant pair twice)
	}
	now := s.d.now()
	if !now.Before(fromMS(m.VoteDeadlineMs)) && !s.lateMatch(ctx, m) {
		return
	}
	if s.state == StateIdle && s.pending == nil && !s.stillActive(m) {
		return // a resend of a match that settled before this activation
	}
	if s.state == StateMatched {
		// The store settles a match whose deadline passed before it lets
		// its partners into another one.
		s.logger().Warn("session: new match replaces one past its deadline", "old", s.match.GetMatchId(), "new", m.MatchId)
	}
	spun := s.state == StateQueued && !s.enqueuedAt.IsZero()
	spunAt := s.enqueuedAt
	s.toIdle()
	s.state, s.match = StateMatched, m
	s.addRecent(s.partnerID(), now)
	s.push(&msg.Event{Kind: &msg.Event_MatchFound{MatchFound: &msg.MatchFound{Match: m}}})
	if spun {
		// Spin to match_found: both moments are the session's own.
		s.d.Metrics.SpinToMatch.WithLabelValues(s.d.Metrics.PoolLabel(s.d.Config.Pools, m.Pool)).Observe(max(now.Sub(spunAt).Seconds(), 0))
	}
	s.crumb("match_found", "match_id", m.MatchId)
	s.armBackstop(m, now)
}

// lateMatch decides about a match that reaches the session after its vote
// deadline (a store outage, a slow resend): the store says whether the
// user is still in it. Still in it (no result yet): take it, and the
// backstop has it settled at once. Settled already: the user is idle (the
// match took the stored place). Never written: a pending pairing goes
// back to the place. It reports whether to take the match.
func (s *session) lateMatch(ctx actor.Context, m *msg.MatchInfo) bool {
	switch s.inStore(m) {
	case matchActive:
		return true
	case matchUnknown:
		return false // the store cannot tell: a pending pairing stays pending
	}
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	_, err := s.d.Store.Votes(c, m.MatchId)
	switch {
	case err == nil:
		if s.state == StateQueued {
			s.toIdle()
			s.noteSettled(m.MatchId)
			s.push(&msg.Event{Kind: &msg.Event_State{State: s.stateMsg()}})
		}
	case errors.Is(err, persistence.ErrNotFound) && s.pending.GetMatchId() == m.MatchId:
		s.matchAborted(ctx, m.MatchId)
	}
	return false
}

// stillActive reports whether the store holds m as the user's match
// without a result. An idle session normally hears of a match only after a
// spin; one that did not spin checks (a late resend of a settled match
// must not put the user back on a date). A store that cannot tell is
// trusted to be right later: the match is taken.
func (s *session) stillActive(m *msg.MatchInfo) bool {
	return s.inStore(m) != matchNotActive
}

// What the store says of a match for this user (inStore).
const (
	matchActive    = iota // the user's match without a result
	matchNotActive        // not the user's unsettled match
	matchUnknown          // the store cannot tell
)

// inStore asks the store whether m is the user's match without a result.
func (s *session) inStore(m *msg.MatchInfo) int {
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	a, err := s.d.Store.ActiveMatch(c, s.userID, time.Time{})
	switch {
	case err == nil && a.ID == m.MatchId:
		return matchActive
	case err == nil || errors.Is(err, persistence.ErrNotFound):
		return matchNotActive
	default:
		return matchUnknown
	}
}

// armBackstop asks the Match grain to settle a little after the deadline,
// in case the grain lost its timer (a node move).
func (s *session) armBackstop(m *msg.MatchInfo, now time.Time) {
	if s.stopBackstp != nil {
		s.stopBackstp()
	}
	wait := fromMS(m.VoteDeadlineMs).Sub(now) + 2*time.Second
	s.stopBackstp = after(s.sys, s.self, wait, matchBackstop{matchID: m.MatchId})
}

func (s *session) matchResult(m *msg.MatchResult) {
	if s.state != StateMatched || s.match.GetMatchId() != m.MatchId {
		return
	}
	if s.stopBackstp != nil {
		s.stopBackstp()
	}
	s.state, s.match = StateIdle, nil
	s.noteSettled(m.MatchId)
	// Nothing here sends to the settled match again (a late vote is
	// answered from s.closed): its PID would only fill the cache.
	s.d.Router.Forget(KindMatch, m.MatchId)
	if len(s.conns) == 0 {
		s.resultMissed = m
	}
	s.push(&msg.Event{Kind: &msg.Event_MatchResult{MatchResult: m}})
	s.crumb("match_result", "match_id", m.MatchId, "result", m.Result)
}

// maxClosed bounds session.closed.
const maxClosed = 16

// noteSettled records that the user's match id got its result.
func (s *session) noteSettled(id string) {
	s.settled = id
	if slices.Contains(s.closed, id) {
		return
	}
	if len(s.closed) >= maxClosed {
		s.closed = append(s.closed[:0], s.closed[1:]...)
	}
	s.closed = append(s.closed, id)
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

// pruneRecent drops the partners met more than the rematch cooldown
// before now, and gives back the memory of a set that shrank to a quarter.
func (s *session) pruneRecent(now time.Time) {
	s.recent.prune(now, s.d.Config.RematchCooldown)
}

// recentIDs returns the partners of the cooldown, sorted: the pool keeps
// them as they come (pool.PartnersOf), so the slice is never changed
// after it is sent.
func (s *session) recentIDs() []string { return s.recent.sorted() }
