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

type (
	voteDeadline struct{}
	settleRetry  struct{}
	startRetry   struct{}
)

// ResultAborted is the MatchOutcome of a pairing the store refused (a
// partner was already in another match); it never reaches a client.
const ResultAborted = "aborted"

// matchGrain is the Match grain: one date, its votes, deadlines and result.
// All fields are owned by Receive. Its state can be rebuilt from any
// message that carries the MatchInfo plus the store's votes, so a move to
// another node loses nothing durable.
type matchGrain struct {
	d    *Deps
	sys  *actor.ActorSystem
	log  *slog.Logger
	self *actor.PID
	id   string

	info      *msg.MatchInfo // nil until the first message that carries it
	persisted bool           // the match row exists in the store
	aborted   bool           // the store refused the match
	// votesLoaded is set once the votes an earlier activation recorded are
	// in voteA and voteB (loadVotes); until then no result is decided.
	votesLoaded bool
	// voteA and voteB are the choices of info's A and B ("" until they
	// vote): two fields, not a map, as a lingering grain holds them.
	voteA, voteB string
	result       string // "" until settled and durable

	stopDeadline func() bool
	stopRetry    func() bool
	stopStart    func() bool
}

func newMatchGrain(d *Deps) actor.Actor {
	return &matchGrain{d: d}
}

// matchLinger is how long a settled (or aborted) Match grain stays active
// for messages sent to it before it settled: a resend of a one-way
// message (StartMatch from the pool) ends within the delivery timeout, a
// request (a session's StartMatch or vote) within the request timeout.
// Nothing later needs this activation: a late vote is answered by the
// session (its settled matches, the store's votes), a reconnect restores
// from the store, and a partner's Finalize backstop reaches a fresh
// activation, which rebuilds the result from the store. It was a minute:
// at 750 matches a second that kept 45,000 settled grains (about 170 MB
// of live heap with their processes and timers).
func (c Config) matchLinger() time.Duration {
	d := DefaultConfig()
	deliver, request := c.DeliveryTimeout, c.RequestTimeout
	if deliver <= 0 {
		deliver = d.DeliveryTimeout
	}
	if request <= 0 {
		request = d.RequestTimeout
	}
	return deliver + request
}

// logger returns the grain's logger, made when something is logged first
// (a grain that logs nothing holds none).
func (g *matchGrain) logger() *slog.Logger {
	if g.log == nil {
		g.log = g.d.Logger.With("grain", KindMatch, "match", g.id)
	}
	return g.log
}

// slot returns the slot of voter's choice, or nil when voter is not a
// partner; g.info must be set.
func (g *matchGrain) slot(voter string) *string {
	switch voter {
	case g.info.A.UserId:
		return &g.voteA
	case g.info.B.UserId:
		return &g.voteB
	}
	return nil
}

// votes counts the distinct voters recorded (one at most for a match of a
// user with themself, whose two sides are one voter).
func (g *matchGrain) votes() int {
	n := 0
	if g.voteA != "" {
		n++
	}
	if g.voteB != "" {
		n++
	}
	return n
}

// Receive handles one message.
func (g *matchGrain) Receive(ctx actor.Context) {
	g.d.hooks.receive(KindMatch, g.id, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.id = cluster.GetClusterIdentity(ctx).GetIdentity()
		g.sys = ctx.ActorSystem()
		g.self = ctx.Self()
	case *actor.Stopping, *actor.Restarting:
		// On a restart the fresh instance rebuilds from the next message
		// that carries the match (and the store's votes), with timers of
		// its own: these must not fire into it.
		for _, f := range []func() bool{g.stopDeadline, g.stopRetry, g.stopStart} {
			if f != nil {
				f()
			}
		}
	case *actor.ReceiveTimeout:
		if g.result != "" || g.aborted {
			ctx.Poison(ctx.Self())
			return
		}
		rearmIdle(ctx, g.d.Config.matchLinger())
	case *msg.StartMatch:
		g.ensure(m.Match, false)
		r := g.start(ctx)
		if ctx.Sender() != nil {
			ctx.Respond(r)
		}
	case startRetry:
		g.start(ctx)
	case *msg.CastVote:
		ctx.Respond(g.vote(m))
	case *msg.Finalize:
		g.ensure(m.Match, true)
		if g.result != "" {
			g.announce()
		} else if !g.d.now().Before(g.deadline()) {
			g.settle(ctx)
		}
	case settleRetry:
		// Sent by the grain itself right after a vote or a failed write:
		// no ownership check (this node's view may lag the voter's).
		g.settle(ctx)
	case voteDeadline:
		if !g.d.Router.Owns(KindMatch, g.id) {
			// Not the owner (moved, or activated here by a lagging node):
			// the owner settles, from the store's votes, when a partner's
			// backstop reaches it.
			g.logger().Info("match: not the owner any more; stopping this activation")
			ctx.Poison(ctx.Self())
			return
		}
		g.settle(ctx)
	case *actor.Stopped, *cluster.ClusterInit:
	default:
		g.logger().Warn("match: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

// ensure initializes the grain from info the first time; it reports whether
// this call did so. fromStore loads votes recorded by an earlier activation.
func (g *matchGrain) ensure(info *msg.MatchInfo, fromStore bool) bool {
	if g.info != nil || info == nil || info.MatchId != g.id {
		return false
	}
	g.info = info
	if fromStore {
		g.loadVotes()
	}
	g.stopDeadline = after(g.sys, g.self, time.Until(g.deadline()), voteDeadline{})
	return true
}

// loadVotes reads, once, the votes an earlier activation recorded; it
// reports whether they are loaded (false: the store failed, try again).
// A match the store does not have yet has none.
func (g *matchGrain) loadVotes() bool {
	if g.votesLoaded {
		return true
	}
	c, cancel := context.WithTimeout(context.Background(), g.d.Config.RequestTimeout)
	votes, err := g.d.Store.Votes(c, g.id)
	cancel()
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		g.votesLoaded = true
	case err != nil:
		g.logger().Warn("match: stored votes unavailable", "err", err)
		return false
	default:
		g.votesLoaded, g.persisted = true, true // votes can only exist on a stored match
		for voter, v := range votes {
			if p := g.slot(voter); p != nil {
				*p = v
			}
		}
		g.settleIfBoth()
	}
	return true
}

func (g *matchGrain) deadline() time.Time { return fromMS(g.info.VoteDeadlineMs) }

// start makes the pairing durable and tells both partners (again, for a
// resend: sessions ignore a match they know). When the store refuses it
// because a partner is in another match, the pairing is aborted: both
// sessions and the pool are told, and no client ever hears of it. A store
// failure is retried every second.
func (g *matchGrain) start(ctx actor.Context) *msg.StartReply {
	if g.info == nil {
		return &msg.StartReply{}
	}
	if g.aborted {
		return &msg.StartReply{Aborted: true}
	}
	if !g.persisted && !g.d.now().Before(g.deadline()) {
		// Still not written at its deadline (a long store outage), or a late
		// resend to a fresh activation: a match that exists is only
		// recognised; one that does not is never created over.
		if !g.loadVotes() {
			g.retryStart()
			return &msg.StartReply{}
		}
		if !g.persisted {
			g.abort(ctx)
			return &msg.StartReply{Aborted: true}
		}
	}
	err := g.persist()
	switch {
	case errors.Is(err, persistence.ErrConflict):
		g.abort(ctx)
		return &msg.StartReply{Aborted: true}
	case err != nil:
		g.retryStart()
		return &msg.StartReply{}
	}
	if g.result == "" {
		found := &msg.MatchFound{Match: g.info}
		g.d.Router.Send(KindUserSession, g.info.A.UserId, found)
		g.d.Router.Send(KindUserSession, g.info.B.UserId, found)
	}
	return &msg.StartReply{Ok: true}
}

func (g *matchGrain) retryStart() {
	if g.stopStart != nil {
		g.stopStart()
	}
	g.stopStart = after(g.sys, g.self, time.Second, startRetry{})
}

func (g *matchGrain) abort(ctx actor.Context) {
	g.aborted = true
	g.logger().Warn("match: the store refused the pairing (a partner is in another match)")
	if g.stopDeadline != nil {
		g.stopDeadline()
		g.stopDeadline = nil
	}
	ab := &msg.MatchAborted{MatchId: g.id}
	g.d.Router.Send(KindUserSession, g.info.A.UserId, ab)
	g.d.Router.Send(KindUserSession, g.info.B.UserId, ab)
	g.d.Router.Send(KindMatchPool, g.info.Pool, &msg.MatchOutcome{MatchId: g.id, Result: ResultAborted, A: g.info.A.UserId, B: g.info.B.UserId})
	// A minute, not matchLinger: a fresh activation given a late StartMatch
	// could create the refused match once its partner is free, and aborts
	// are rare enough that lingering costs nothing.
	ctx.SetReceiveTimeout(time.Minute)
}

// persist writes the match row once; a failure is retried before any vote.
// When this call inserted the row, no activation can have stored a vote
// before it (a vote needs the row), so the votes count as loaded and the
// first vote skips reading them.
func (g *matchGrain) persist() error {
	if g.persisted {
		return nil
	}
	c, cancel := context.WithTimeout(context.Background(), g.d.Config.RequestTimeout)
	defer cancel()
	created, err := g.d.Store.CreateMatch(c, matchRecord(g.info))
	if errors.Is(err, persistence.ErrConflict) {
		return err
	}
	if err != nil {
		g.d.Metrics.StoreErrors.WithLabelValues("create_match").Inc()
		g.logger().Error("match: create failed", "err", err)
		return err
	}
	g.persisted = true
	if created && g.votes() == 0 {
		g.votesLoaded = true
	}
	return nil
}

func (g *matchGrain) vote(m *msg.CastVote) *msg.VoteReply {
	g.ensure(m.Match, true)
	if g.info != nil && !g.loadVotes() {
		return &msg.VoteReply{Error: errUnavailable()}
	}
	if g.info == nil || (m.Voter != g.info.A.UserId && m.Voter != g.info.B.UserId) {
		return &msg.VoteReply{Error: NewError(CodeMatchNotFound, "That match isn't yours.")}
	}
	if g.aborted {
		return &msg.VoteReply{Error: NewError(CodeMatchNotFound, "That match isn't yours.")}
	}
	if prev := *g.slot(m.Voter); prev != "" {
		g.settleIfBoth()                    // an activation that recorded both votes may have died before settling
		return &msg.VoteReply{Choice: prev} // idempotent: the first vote stands
	}
	if g.result != "" || g.d.now().After(g.deadline()) {
		return &msg.VoteReply{Error: NewError(CodeVoteClosed, "Voting on this match has closed.")}
	}
	if err := g.persist(); errors.Is(err, persistence.ErrConflict) {
		return &msg.VoteReply{Error: NewError(CodeMatchNotFound, "That match isn't yours.")}
	} else if err != nil {
		return &msg.VoteReply{Error: errUnavailable()}
	}
	c, cancel := context.WithTimeout(context.Background(), g.d.Config.RequestTimeout)
	defer cancel()
	stored, err := g.d.Store.RecordVote(c, g.id, m.Voter, m.Choice)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return &msg.VoteReply{Error: NewError(CodeMatchNotFound, "That match isn't yours.")}
	case err != nil:
		g.d.Metrics.StoreErrors.WithLabelValues("record_vote").Inc()
		g.logger().Error("match: vote not recorded", "err", err)
		return &msg.VoteReply{Error: errUnavailable()}
	}
	g.d.Metrics.VotesRecorded.Inc()
	*g.slot(m.Voter) = stored
	g.settleIfBoth()
	return &msg.VoteReply{Choice: stored}
}

// settleIfBoth settles (after the current message) once both votes are in.
func (g *matchGrain) settleIfBoth() {
	if g.votes() == 2 && g.result == "" {
		g.sys.Root.Send(g.self, settleRetry{})
	}
}

// settle decides the result (a missing vote counts as no), makes it durable
// (first write wins, so a racing activation cannot disagree), and tells both
// partners and the pool. A store failure retries in a second.
func (g *matchGrain) settle(ctx actor.Context) {
	if g.info == nil || g.result != "" || g.aborted {
		return
	}
	if g.votes() < 2 && g.d.now().Before(g.deadline()) {
		return
	}
	if !g.loadVotes() {
		// Deciding without the votes an earlier activation recorded could
		// turn a mutual yes into no_match: wait for the store.
		if g.stopRetry != nil {
			g.stopRetry()
		}
		g.stopRetry = after(g.sys, g.self, time.Second, settleRetry{})
		return
	}
	result := persistence.ResultNoMatch
	if *g.slot(g.info.A.UserId) == persistence.ChoiceYes && *g.slot(g.info.B.UserId) == persistence.ChoiceYes {
		result = persistence.ResultMutual
	}
	stored, err := g.recordResult(result)
	if err != nil {
		g.logger().Error("match: result not recorded; retrying", "err", err)
		if g.stopRetry != nil {
			g.stopRetry()
		}
		g.stopRetry = after(g.sys, g.self, time.Second, settleRetry{})
		return
	}
	g.result = stored
	if g.stopDeadline != nil {
		g.stopDeadline()
		g.stopDeadline = nil // the timer, freed while the grain lingers
	}
	g.d.Metrics.MatchResults.WithLabelValues(stored).Inc()
	g.announce()
	g.d.Router.Send(KindMatchPool, g.info.Pool, &msg.MatchOutcome{MatchId: g.id, Result: stored, A: g.info.A.UserId, B: g.info.B.UserId})
	ctx.SetReceiveTimeout(g.d.Config.matchLinger())
}

func (g *matchGrain) recordResult(result string) (string, error) {
	if err := g.persist(); err != nil {
		return "", err
	}
	c, cancel := context.WithTimeout(context.Background(), g.d.Config.RequestTimeout)
	defer cancel()
	stored, err := g.d.Store.RecordResult(c, g.id, result)
	if err != nil {
		g.d.Metrics.StoreErrors.WithLabelValues("record_result").Inc()
		return "", err
	}
	return stored, nil
}

func (g *matchGrain) announce() {
	r := &msg.MatchResult{MatchId: g.id, Result: g.result}
	g.d.Router.Send(KindUserSession, g.info.A.UserId, r)
	g.d.Router.Send(KindUserSession, g.info.B.UserId, r)
}

func matchRecord(m *msg.MatchInfo) persistence.Match {
	return persistence.Match{
		ID:           m.MatchId,
		Pool:         m.Pool,
		A:            persistence.Participant{UserID: m.A.UserId, DisplayName: m.A.DisplayName, Gender: m.A.Gender},
		B:            persistence.Participant{UserID: m.B.UserId, DisplayName: m.B.DisplayName, Gender: m.B.Gender},
		CreatedAt:    fromMS(m.CreatedAtMs),
		DateEndsAt:   fromMS(m.DateEndsAtMs),
		VoteDeadline: fromMS(m.VoteDeadlineMs),
		WaitA:        time.Duration(m.WaitAS * float64(time.Second)),
		WaitB:        time.Duration(m.WaitBS * float64(time.Second)),
		PlaceA:       placeTime(m.PlaceAMs),
		PlaceB:       placeTime(m.PlaceBMs),
	}
}

func placeTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMS(ms)
}
