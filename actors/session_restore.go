package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
)

// How a UserSession survives its node: restore from the store, answer a
// pool's Resume, and handle a pairing the store refused.

// restore loads, once per activation, the user's active match and queue
// entry. A queued user is re-announced to the pool at the original
// enqueue time, and keeps the place for the reconnect grace when no
// connection is attached yet.
func (s *session) restore(ctx actor.Context) error {
	if s.restored {
		return nil
	}
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	now := s.d.now()
	// The queue entry first: a match that forms between the two reads
	// deletes it and is then seen, so the user is never restored idle
	// while a match of theirs is being written.
	e, qerr := s.d.Store.QueueEntry(c, s.userID)
	if qerr != nil && !errors.Is(qerr, persistence.ErrNotFound) {
		s.d.Metrics.StoreErrors.WithLabelValues("queue_entry").Inc()
		return fmt.Errorf("restore: queue entry: %w", qerr)
	}
	// Any match of theirs without a result, even past its deadline: the
	// backstop then has it settled at once (nothing else would, if its
	// grain and both sessions were lost).
	m, err := s.d.Store.ActiveMatch(c, s.userID, time.Time{})
	switch {
	case err == nil:
		s.restored = true
		info := matchInfoFromRecord(m)
		s.state, s.match = StateMatched, info
		s.addRecent(s.partnerID(), m.CreatedAt)
		s.armBackstop(info, now)
		s.logger().Info("session: restored a match from the store", "match", m.ID)
		return nil
	case !errors.Is(err, persistence.ErrNotFound):
		s.d.Metrics.StoreErrors.WithLabelValues("active_match").Inc()
		return fmt.Errorf("restore: active match: %w", err)
	}
	if qerr != nil {
		s.restored = true
		return nil
	}
	s.restored = true
	s.loadRecent()
	s.state, s.enqueuedAt = StateQueued, e.EnqueuedAt
	s.queue = &msg.QueueInfo{Pool: e.Pool}
	s.waiter = &msg.Waiter{
		UserId: s.userID, DisplayName: e.DisplayName, Gender: e.Gender, Seeking: e.Seeking,
		EnqueuedAtMs: ms(e.EnqueuedAt),
	}
	s.lastSeen = now // the grace runs from now: the old session's timer is gone
	s.logger().Info("session: restored a queue place from the store", "pool", e.Pool, "enqueued_at", e.EnqueuedAt)
	s.armRefresh()
	s.announce(ctx, false) // the connections get state when they attach
	if len(s.conns) == 0 && s.state == StateQueued {
		s.armGrace()
	}
	return nil
}

// resume answers a pool that holds the user (rebuilt from the store, or
// not hearing from this session): re-announce the place, or delete that
// stored place (exactly: a newer one stays) and tell the pool to drop it.
func (s *session) resume(ctx actor.Context, m *msg.Resume) {
	if s.state == StateQueued && s.queue.GetPool() == m.Pool {
		if s.pending == nil {
			s.announce(ctx, true)
		}
		return
	}
	if m.EnqueuedAtMs != 0 {
		s.forgetEntry(m.Pool, fromMS(m.EnqueuedAtMs))
	}
	s.d.Router.Send(KindMatchPool, m.Pool, &msg.Dequeue{UserId: s.userID, Outcome: OutcomeExpired, Ghost: true})
}

// matchAborted handles a pairing the store refused because one partner was
// already in another match: the user goes back to their place (same
// enqueue time), or into the match the store holds for them.
func (s *session) matchAborted(ctx actor.Context, matchID string) {
	if s.pending.GetMatchId() != matchID {
		return
	}
	p := s.pending
	s.pending = nil
	s.d.Metrics.DoublePairs.Inc()
	if len(s.refused) >= 16 {
		clear(s.refused)
	}
	if s.refused == nil {
		s.refused = map[string]struct{}{}
	}
	s.refused[matchID] = struct{}{}
	s.d.Router.Forget(KindMatch, matchID) // refused: not sent to again
	// The pool forgets the pairing before it hears the place again (the
	// Match grain tells it too; this one is ordered before the announce).
	s.d.Router.Send(KindMatchPool, p.Pool, &msg.MatchOutcome{MatchId: matchID, Result: ResultAborted, A: p.A.GetUserId(), B: p.B.GetUserId()})
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	if m, err := s.d.Store.ActiveMatch(c, s.userID, s.d.now()); err == nil {
		s.matchFound(ctx, matchInfoFromRecord(m))
		return
	}
	s.logger().Info("session: pairing refused by the store; back to the same place", "match", matchID)
	s.announce(ctx, false)
}

func queueEntry(pool string, w *msg.Waiter) persistence.QueueEntry {
	return persistence.QueueEntry{
		UserID: w.UserId, Pool: pool, DisplayName: w.DisplayName, Gender: w.Gender,
		Seeking: w.Seeking, EnqueuedAt: fromMS(w.EnqueuedAtMs),
	}
}

func matchInfoFromRecord(m persistence.Match) *msg.MatchInfo {
	return &msg.MatchInfo{
		MatchId:        m.ID,
		Pool:           m.Pool,
		A:              &msg.Partner{UserId: m.A.UserID, DisplayName: m.A.DisplayName, Gender: m.A.Gender},
		B:              &msg.Partner{UserId: m.B.UserID, DisplayName: m.B.DisplayName, Gender: m.B.Gender},
		CreatedAtMs:    ms(m.CreatedAt),
		DateEndsAtMs:   ms(m.DateEndsAt),
		VoteDeadlineMs: ms(m.VoteDeadline),
		WaitAS:         m.WaitA.Seconds(),
		WaitBS:         m.WaitB.Seconds(),
	}
}
