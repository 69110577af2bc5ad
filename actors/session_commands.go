package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
)

// command runs one client request (spin, cancel, status, vote, signal)
// after the user's rate limit.
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
	s.state, s.match, s.settled = StateIdle, nil, m.MatchId
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
