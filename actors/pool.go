package actors

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/persistence"
)

type waitTick struct{}

// lastPush is what a waiter was last told, for the wait_update rule.
type lastPush struct {
	eta      pool.ETA
	position int
	at       time.Time
}

// waiterRef is how to reach a queued waiter's session, and what they were last told.
type waiterRef struct {
	session *actor.PID
	last    lastPush
	seen    time.Time // last enqueue or re-announcement
}

// staleAfter is how many refresh periods a waiter may go unannounced before
// the pool drops it: its session is gone (its node died) and nobody will
// ever cancel it.
const staleAfter = 3

// matchPool is the MatchPool grain: the waiting users of one pool, the
// pairing decision, wait statistics and the ETA model. All fields are owned
// by Receive.
type matchPool struct {
	d    *Deps
	cl   *cluster.Cluster
	log  *slog.Logger
	self *actor.PID
	name string

	q    *pool.Queue
	est  *pool.Estimator
	refs map[string]*waiterRef // by user id, for every queued waiter

	stopTick func() bool
	ticks    int // wait ticks since the last directory announcement
}

func newMatchPool(d *Deps) actor.Actor {
	return &matchPool{
		d:    d,
		q:    pool.NewQueue(),
		est:  pool.NewEstimator(d.Config.Estimator),
		refs: map[string]*waiterRef{},
	}
}

// Receive handles one message.
func (p *matchPool) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.name = cluster.GetClusterIdentity(ctx).GetIdentity()
		p.cl = cluster.GetCluster(ctx.ActorSystem())
		p.self = ctx.Self()
		p.log = p.d.Logger.With("grain", KindMatchPool, "pool", p.name)
		p.stopTick = after(ctx.ActorSystem(), p.self, p.d.Config.WaitTick, waitTick{})
		p.announce()
	case *actor.Stopping:
		if p.stopTick != nil {
			p.stopTick()
		}
	case *msg.Enqueue:
		ctx.Respond(p.enqueue(m))
	case *msg.Dequeue:
		ctx.Respond(p.dequeue(m))
	case *msg.QueueStatus:
		ctx.Respond(p.status(m.UserId))
	case *msg.PoolStatsRequest:
		ctx.Respond(p.stats())
	case *msg.MatchOutcome:
		p.est.MatchResult(m.Result == persistence.ResultMutual, p.d.now())
	case waitTick:
		p.dropStale()
		p.pushWaitUpdates()
		if p.ticks++; time.Duration(p.ticks)*p.d.Config.WaitTick >= p.d.Config.Refresh {
			p.announce()
		}
		p.stopTick = after(ctx.ActorSystem(), p.self, p.d.Config.WaitTick, waitTick{})
	case *actor.Stopped, *actor.Restarting, *cluster.ClusterInit:
	default:
		p.log.Warn("pool: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

// announce tells the directory this pool exists (soft state, refreshed).
func (p *matchPool) announce() {
	p.ticks = 0
	tell(p.cl, p.log, DirectoryID, KindPoolDirectory, &msg.PoolAlive{Pool: p.name})
}

func toWaiter(m *msg.Waiter) (*pool.Waiter, bool) {
	g, ok := pool.ParseGender(m.Gender)
	if !ok {
		return nil, false
	}
	s, ok := pool.ParseSeeking(m.Seeking)
	if !ok {
		return nil, false
	}
	w := &pool.Waiter{UserID: m.UserId, DisplayName: m.DisplayName, Gender: g, Seeking: s, EnqueuedAt: fromMS(m.EnqueuedAtMs)}
	if len(m.RecentPartners) > 0 {
		w.Recent = make(map[string]struct{}, len(m.RecentPartners))
		for _, id := range m.RecentPartners {
			w.Recent[id] = struct{}{}
		}
	}
	return w, true
}

func (p *matchPool) enqueue(m *msg.Enqueue) *msg.EnqueueReply {
	now := p.d.now()
	w, ok := toWaiter(m.GetWaiter())
	if !ok {
		p.log.Warn("pool: invalid waiter", "user", m.GetWaiter().GetUserId())
		return &msg.EnqueueReply{Queue: p.queueInfo()}
	}
	if _, queued := p.q.Get(w.UserID); queued {
		if ref := p.refs[w.UserID]; ref != nil {
			ref.seen = now
			if m.Waiter.Session != nil {
				ref.session = m.Waiter.Session
			}
		}
		return p.status(w.UserID)
	}
	if !m.Refresh {
		p.est.Arrival(w.Gender, w.Seeking, now)
	}
	waitingBefore := p.q.Waiting()
	partner := p.q.Add(w)
	if partner == nil {
		p.refs[w.UserID] = &waiterRef{session: m.Waiter.Session, seen: now}
		reply := p.status(w.UserID)
		p.refs[w.UserID].last = lastPush{eta: etaFromMsg(reply.Eta), position: int(reply.Queue.Position), at: now}
		return reply
	}
	delete(p.refs, partner.UserID)
	info := p.pair(partner, w, now)
	waitingBefore[w.Gender]++
	return &msg.EnqueueReply{
		Queue: &msg.QueueInfo{Pool: p.name, Position: 1, Waiting: waitingMsg(waitingBefore)},
		Eta:   &msg.Eta{P50S: 0, P90S: 0, Confidence: "high", Reason: "A compatible partner was already waiting, so you were matched at once."},
		Match: info,
	}
}

// pair forms a match between the waiter who waited (a) and the newcomer (b)
// and hands it to a fresh Match grain, which persists it and tells both.
func (p *matchPool) pair(a, b *pool.Waiter, now time.Time) *msg.MatchInfo {
	waitA, waitB := now.Sub(a.EnqueuedAt), now.Sub(b.EnqueuedAt)
	p.est.MatchFormed(now)
	p.est.Finished(a.Gender, waitA, true, now)
	p.est.Finished(b.Gender, waitB, true, now)
	p.d.Metrics.MatchesFormed.WithLabelValues(p.name).Inc()
	p.d.Metrics.QueueWait.WithLabelValues(p.name, a.Gender.String()).Observe(waitA.Seconds())
	p.d.Metrics.QueueWait.WithLabelValues(p.name, b.Gender.String()).Observe(waitB.Seconds())
	dateEnds := now.Add(p.d.Config.DateLength)
	info := &msg.MatchInfo{
		MatchId:        p.newID(),
		Pool:           p.name,
		A:              &msg.Partner{UserId: a.UserID, DisplayName: a.DisplayName, Gender: a.Gender.String()},
		B:              &msg.Partner{UserId: b.UserID, DisplayName: b.DisplayName, Gender: b.Gender.String()},
		CreatedAtMs:    ms(now),
		DateEndsAtMs:   ms(dateEnds),
		VoteDeadlineMs: ms(dateEnds.Add(p.d.Config.VoteWindow)),
		WaitAS:         waitA.Seconds(),
		WaitBS:         waitB.Seconds(),
	}
	tell(p.cl, p.log, info.MatchId, KindMatch, &msg.StartMatch{Match: info})
	p.recordWait(a.Gender, waitA, "matched", now)
	p.recordWait(b.Gender, waitB, "matched", now)
	return info
}

func (p *matchPool) newID() string {
	if p.d.NewID != nil {
		return p.d.NewID()
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recordWait hands a wait sample to the node's writer (never blocks).
func (p *matchPool) recordWait(g pool.Gender, wait time.Duration, outcome string, now time.Time) {
	if p.d.Samples != nil {
		p.d.Samples.Add(persistence.WaitSample{Pool: p.name, Gender: g.String(), Wait: wait, Outcome: outcome, At: now})
	}
}

func (p *matchPool) dequeue(m *msg.Dequeue) *msg.DequeueReply {
	w, ok := p.q.Remove(m.UserId)
	if !ok {
		return &msg.DequeueReply{}
	}
	delete(p.refs, m.UserId)
	now := p.d.now()
	wait := now.Sub(w.EnqueuedAt)
	p.est.Finished(w.Gender, wait, false, now)
	outcome := m.Outcome
	if outcome == "" {
		outcome = "cancelled"
	}
	p.recordWait(w.Gender, wait, outcome, now)
	return &msg.DequeueReply{Removed: true}
}

func (p *matchPool) status(userID string) *msg.EnqueueReply {
	w, ok := p.q.Get(userID)
	if !ok {
		return &msg.EnqueueReply{Queue: p.queueInfo()}
	}
	pos, waiting := p.q.Position(userID), p.q.Waiting()
	eta := p.est.Estimate(w, pos, waiting, p.d.now())
	q := &msg.QueueInfo{Pool: p.name, Position: int32(pos), Waiting: waitingMsg(waiting)}
	return &msg.EnqueueReply{Queue: q, Eta: etaMsg(eta)}
}

func (p *matchPool) queueInfo() *msg.QueueInfo {
	return &msg.QueueInfo{Pool: p.name, Waiting: waitingMsg(p.q.Waiting())}
}

// dropStale removes waiters whose sessions stopped re-announcing them.
func (p *matchPool) dropStale() {
	now := p.d.now()
	limit := staleAfter * p.d.Config.Refresh
	for id, ref := range p.refs {
		if now.Sub(ref.seen) > limit {
			p.log.Info("pool: dropping a waiter that stopped re-announcing", "user", id)
			p.dequeue(&msg.Dequeue{UserId: id, Outcome: "expired"})
		}
	}
}

// pushWaitUpdates tells each waiter their estimate when it changed by 10% or
// more, their position changed, or WaitUpdateMax passed since the last one.
func (p *matchPool) pushWaitUpdates() {
	if p.q.Len() == 0 {
		return
	}
	now := p.d.now()
	waiting := p.q.Waiting()
	wm := waitingMsg(waiting)
	p.q.Each(func(w *pool.Waiter, pos int) bool {
		ref := p.refs[w.UserID]
		if ref == nil || ref.session == nil {
			return true
		}
		eta := p.est.Estimate(w, pos, waiting, now)
		if pos == ref.last.position && !pool.ChangedEnough(ref.last.eta, eta) && now.Sub(ref.last.at) < p.d.Config.WaitUpdateMax {
			return true
		}
		ref.last = lastPush{eta: eta, position: pos, at: now}
		p.cl.ActorSystem.Root.Send(ref.session, &msg.WaitUpdate{
			Queue: &msg.QueueInfo{Pool: p.name, Position: int32(pos), Waiting: wm},
			Eta:   etaMsg(eta),
		})
		return true
	})
}

func (p *matchPool) stats() *msg.PoolStats {
	st := p.est.Stats(p.q.Waiting(), p.d.now())
	out := &msg.PoolStats{
		Pool:             p.name,
		Waiting:          waitingMsg(st.Waiting),
		AvgWaitS:         map[string]float64{},
		P90WaitS:         map[string]float64{},
		EtaS:             map[string]float64{},
		MatchesPerMin:    st.MatchesPerMin,
		MatchSuccessRate: st.MatchSuccessRate,
		ImbalanceRatio:   st.ImbalanceRatio,
		Scarce:           st.Scarce,
		Recommendations:  st.Recommendations,
	}
	for _, g := range pool.Genders {
		out.AvgWaitS[g.String()] = st.AvgWait[g].Seconds()
		out.P90WaitS[g.String()] = st.P90Wait[g].Seconds()
		out.EtaS[g.String()] = st.ETA[g].Seconds()
	}
	return out
}

func waitingMsg(w map[pool.Gender]int) map[string]int32 {
	out := make(map[string]int32, len(pool.Genders))
	for _, g := range pool.Genders {
		out[g.String()] = int32(w[g])
	}
	return out
}

func etaMsg(e pool.ETA) *msg.Eta {
	return &msg.Eta{P50S: e.P50.Seconds(), P90S: e.P90.Seconds(), Confidence: e.Confidence, Reason: e.Reason}
}

func etaFromMsg(e *msg.Eta) pool.ETA {
	if e == nil {
		return pool.ETA{}
	}
	return pool.ETA{
		P50:        time.Duration(e.P50S * float64(time.Second)),
		P90:        time.Duration(e.P90S * float64(time.Second)),
		Confidence: e.Confidence,
		Reason:     e.Reason,
	}
}
