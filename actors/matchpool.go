package actors

import (
	"context"
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

// Self-messages of a pool (local only, never cross nodes).
type (
	// waitTick is one tick of the chain chain of the instance from; any
	// other is stale (a tick already queued when the supervisor replaced
	// the instance, or from a chain that stopped) and is dropped, so a
	// pool never runs two chains.
	waitTick struct {
		from  *matchPool
		chain int
	}
	// idleCheck passivates a pool still idle since the tick that found it
	// empty (epoch tells a stale check from the current one).
	idleCheck struct{ epoch int }
)

// waiterRef is what the pool knows of a queued waiter beyond the queue.
type waiterRef struct {
	id   string
	seen time.Time // last enqueue, re-announcement or Resume
	// loaded marks a place rebuilt from the store that its session has not
	// re-announced yet: it is held (never paired) until then.
	loaded bool
	// prev and next link the refs in the order last seen (refList).
	prev, next *waiterRef
}

// refList is the pool's waiterRefs by user id, and the same refs in a list
// ordered by seen (the clock only moves forward, so a ref seen now goes to
// the tail): the ones unheard of longest are at the head, and resumeStale
// finds them without a scan.
type refList struct {
	byID       map[string]*waiterRef
	head, tail *waiterRef
}

func newRefList() *refList { return &refList{byID: map[string]*waiterRef{}} }

func (l *refList) get(id string) *waiterRef { return l.byID[id] }

// add records a new ref for id seen at now (replacing any).
func (l *refList) add(id string, now time.Time, loaded bool) {
	l.remove(id)
	r := &waiterRef{id: id, seen: now, loaded: loaded}
	l.byID[id] = r
	l.pushTail(r)
}

// touch marks r seen at now.
func (l *refList) touch(r *waiterRef, now time.Time) {
	r.seen = now
	l.unlink(r)
	l.pushTail(r)
}

// remove forgets id's ref.
func (l *refList) remove(id string) {
	if r := l.byID[id]; r != nil {
		l.unlink(r)
		delete(l.byID, id)
	}
}

func (l *refList) pushTail(r *waiterRef) {
	r.prev, r.next = l.tail, nil
	if l.tail == nil {
		l.head = r
	} else {
		l.tail.next = r
	}
	l.tail = r
}

func (l *refList) unlink(r *waiterRef) {
	if r.prev == nil {
		l.head = r.next
	} else {
		r.prev.next = r.next
	}
	if r.next == nil {
		l.tail = r.prev
	} else {
		r.next.prev = r.prev
	}
	r.prev, r.next = nil, nil
}

// pairing is a match this pool formed whose result it has not heard yet.
// While it lasts, the partners are answered with it instead of being
// queued again (a session that has not heard of the match yet, or a fresh
// activation of it, may re-announce the old place).
type pairing struct {
	info  *msg.MatchInfo
	until time.Time // forgotten after this even without a result
}

// staleAfter is how many refresh periods a waiter may go unannounced before
// the pool asks its session (Resume) whether it still holds the place: its
// node may have died, and a fresh activation restores it from the store or
// tells the pool to drop it.
const staleAfter = 3

// matchPool is the MatchPool grain: the waiting users of one pool, the
// pairing decision, wait statistics and the ETA model. All fields are owned
// by Receive.
type matchPool struct {
	d    *Deps
	sys  *actor.ActorSystem
	log  *slog.Logger
	self *actor.PID
	name string

	// core is the line, the estimator and what each waiter was told; q
	// and est are its parts, read directly (changes go through core).
	core   *pool.Pool
	q      *pool.Queue
	est    *pool.Estimator
	refs   *refList            // for every queued waiter
	paired map[string]*pairing // by user id, both partners of each unsettled pairing
	// loaded is set once the store's places of this pool are in q.
	loaded bool

	// The pool ticks (every WaitTick) only while it has somebody in it
	// (busy): a pool with nobody in it costs nothing but its activation,
	// which passivates after PoolIdle (idleCheck).
	ticking  bool
	chain    int // the current tick chain (waitTick)
	stopTick func() bool
	ticks    int // wait ticks since the last directory announcement
	// idleEpoch counts the times the pool started ticking; an idleCheck
	// armed before the latest start is stale.
	idleEpoch int
	stopIdle  func() bool

	// p90Now is the wait_p90 figure by gender (pool.Genders order) of the
	// last stats, for the queue gauges: computed when the alerts or the
	// snapshot ask (about once a second), not again on every tick.
	p90Now [len(pool.Genders)]float64
}

func newMatchPool(d *Deps) actor.Actor {
	core := pool.NewPool(pool.PoolConfig{Estimator: d.Config.Estimator, WaitUpdateMax: d.Config.WaitUpdateMax})
	return &matchPool{
		d:      d,
		core:   core,
		q:      core.Queue(),
		est:    core.Estimator(),
		refs:   newRefList(),
		paired: map[string]*pairing{},
	}
}

// Receive handles one message.
func (p *matchPool) Receive(ctx actor.Context) {
	p.d.hooks.receive(KindMatchPool, p.name, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.name = cluster.GetClusterIdentity(ctx).GetIdentity()
		p.sys = ctx.ActorSystem()
		p.self = bareSelf(ctx)
		p.log = p.d.Logger.With("grain", KindMatchPool, "pool", p.name)
		p.d.Metrics.PoolsActive.Inc()
		p.load()
		if !p.wake() {
			p.armIdle()
		}
	case *actor.Stopping:
		p.stopTimers()
		p.d.Metrics.PoolsActive.Dec()
		p.d.Metrics.forgetQueue(p.name)
	case *actor.Restarting:
		// The supervisor replaces this instance with a fresh one, which
		// starts its own timers and counts itself again (Started); this
		// one's timers would otherwise tick into the new one as a second
		// chain.
		p.stopTimers()
		p.d.Metrics.PoolsActive.Dec()
		p.d.Metrics.forgetQueue(p.name)
	case *msg.Enqueue:
		ctx.Respond(p.enqueue(m))
		p.wake()
	case *msg.Dequeue:
		ctx.Respond(p.dequeue(m))
	case *msg.Wake:
	case *msg.QueueStatus:
		ctx.Respond(p.status(m.UserId))
	case *msg.PoolStatsRequest:
		ctx.Respond(p.stats())
	case *msg.PoolWaitersRequest:
		ctx.Respond(p.waiters(m))
	case *msg.MatchOutcome:
		p.outcome(m)
	case waitTick:
		if m.from != p || m.chain != p.chain || !p.ticking {
			return // stale: not this instance's current chain
		}
		if !p.d.Router.Owns(KindMatchPool, p.name) {
			// Not the owner any more (moved, or activated here by a lagging
			// node): the owner rebuilds from the store and the sessions.
			p.log.Info("pool: not the owner any more; stopping this activation")
			ctx.Poison(ctx.Self())
			return
		}
		if !p.loaded {
			p.load()
		}
		p.expirePairings()
		p.resumeStale()
		p.pushWaitUpdates()
		p.reportQueue()
		if p.ticks++; time.Duration(p.ticks)*p.d.Config.WaitTick >= p.d.Config.Refresh {
			p.announce()
		}
		if p.busy() {
			p.stopTick = after(ctx.ActorSystem(), p.self, p.d.Config.WaitTick, waitTick{from: p, chain: p.chain})
		} else {
			p.ticking, p.stopTick = false, nil
			p.armIdle()
		}
	case idleCheck:
		if m.epoch == p.idleEpoch && !p.ticking && !p.busy() {
			p.log.Debug("pool: nobody in it; passivating")
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopped:
		// Something in the actor runtime may hold a stopped grain's PID
		// (and through it the grain) for a while: let go of the state.
		p.core, p.q, p.est, p.refs, p.paired = nil, nil, nil, nil, nil
	case *cluster.ClusterInit:
	default:
		p.log.Warn("pool: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

// busy reports whether the pool has somebody in it: a waiter, a pairing
// whose result it has not heard, or a stored queue it could not load yet.
func (p *matchPool) busy() bool {
	return p.q.Len() > 0 || len(p.paired) > 0 || !p.loaded
}

// wake starts the wait tick (and tells the directory) when the pool has
// become busy; it reports whether the pool is ticking.
func (p *matchPool) wake() bool {
	if p.ticking || !p.busy() {
		return p.ticking
	}
	p.ticking = true
	p.chain++
	p.idleEpoch++
	if p.stopIdle != nil {
		p.stopIdle()
		p.stopIdle = nil
	}
	p.stopTick = after(p.sys, p.self, p.d.Config.WaitTick, waitTick{from: p, chain: p.chain})
	p.announce()
	return true
}

// armIdle has the pool passivate after PoolIdle unless it wakes meanwhile.
func (p *matchPool) armIdle() {
	if p.stopIdle != nil {
		p.stopIdle()
	}
	p.stopIdle = after(p.sys, p.self, p.d.Config.poolIdle(), idleCheck{epoch: p.idleEpoch})
}

func (p *matchPool) stopTimers() {
	for _, f := range []func() bool{p.stopTick, p.stopIdle} {
		if f != nil {
			f()
		}
	}
	p.ticking, p.stopTick, p.stopIdle = false, nil, nil
}

// reportQueue hands the queue gauges this pool's waiting counts and
// longest waits (poolgauges.go).
func (p *matchPool) reportQueue() {
	var r queueReading
	now := p.d.now()
	for i, g := range pool.Genders {
		r.waiting[i] = p.q.Count(g)
		if at, ok := p.q.Oldest(g); ok {
			r.oldest[i] = max(now.Sub(at).Seconds(), 0)
		}
	}
	r.imbalance = p.est.ImbalanceRatio(p.q.Waiting(), now)
	r.p90 = p.p90Now
	p.d.Metrics.reportQueue(p.d.Config.Pools, p.name, r)
}

// announce tells the directory this pool exists (soft state, refreshed
// while the pool is busy).
func (p *matchPool) announce() {
	p.ticks = 0
	p.d.Router.Send(KindPoolDirectory, DirectoryID, &msg.PoolAlive{Pool: p.name})
}

// load rebuilds the queue from the places kept in the store, in their
// order, and asks each waiter's session to confirm its place (Resume). A
// store failure is retried at the next tick.
func (p *matchPool) load() {
	c, cancel := p.d.callCtx(context.Background())
	defer cancel()
	entries, err := p.d.Store.QueueEntries(c, p.name, p.d.now())
	if err != nil {
		p.d.Metrics.StoreErrors.WithLabelValues("queue_entries").Inc()
		p.log.Warn("pool: stored places unavailable; retrying", "err", err)
		return
	}
	p.loaded = true
	now := p.d.now()
	n := 0
	for _, e := range entries {
		if _, busy := p.paired[e.UserID]; busy {
			continue
		}
		w, ok := toWaiter(&msg.Waiter{UserId: e.UserID, DisplayName: e.DisplayName, Gender: e.Gender, Seeking: e.Seeking, EnqueuedAtMs: ms(e.EnqueuedAt)})
		if !ok {
			continue
		}
		// Held until the session confirms it: the user may be in a match
		// whose write (which deletes the place) is still under way, and a
		// pool rebuilt meanwhile must not pair them again.
		w.Held = true
		if !p.core.Insert(w, now) {
			continue
		}
		p.refs.add(e.UserID, now, true)
		p.d.Router.Send(KindUserSession, e.UserID, &msg.Resume{Pool: p.name, EnqueuedAtMs: ms(e.EnqueuedAt)})
		n++
	}
	if n > 0 {
		p.log.Info("pool: rebuilt the queue from the store", "waiters", n)
	}
}

// poolIdle is PoolIdle, or its default: the estimator's window.
func (c Config) poolIdle() time.Duration {
	switch {
	case c.PoolIdle > 0:
		return c.PoolIdle
	case c.Estimator.Window > 0:
		return c.Estimator.Window
	}
	return 15 * time.Minute
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
	// The session sends its partners sorted (recentIDs): kept as they come.
	w.Recent = pool.PartnersOf(m.RecentPartners)
	return w, true
}

func (p *matchPool) enqueue(m *msg.Enqueue) *msg.EnqueueReply {
	now := p.d.now()
	w, ok := toWaiter(m.GetWaiter())
	if !ok {
		p.log.Warn("pool: invalid waiter", "user", m.GetWaiter().GetUserId())
		return &msg.EnqueueReply{Queue: p.queueInfo()}
	}
	if pr := p.paired[w.UserID]; pr != nil {
		// Already paired: the session learns of it (never queued twice).
		return &msg.EnqueueReply{Queue: p.queueInfo(), Match: pr.info}
	}
	arrival := !m.Refresh // a new spin, not a place announced again
	if queued, ok := p.q.Get(w.UserID); ok {
		ref := p.refs.get(w.UserID)
		if ref == nil || !ref.loaded {
			if ref != nil {
				p.refs.touch(ref, now)
			}
			queued.Recent = w.Recent // the cooldown moves on
			return p.status(w.UserID)
		}
		// A place rebuilt from the store, now announced with its rematch
		// cooldown: it may be paired from here on.
		p.core.Take(w.UserID, now)
		p.refs.remove(w.UserID)
		arrival = false
	}
	waitingBefore := p.q.Waiting()
	partner := p.core.Join(w, arrival, now)
	if partner == nil {
		p.refs.add(w.UserID, now, false)
		return p.status(w.UserID)
	}
	p.refs.remove(partner.UserID)
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
	label := p.d.Metrics.PoolLabel(p.d.Config.Pools, p.name)
	p.d.Metrics.MatchesFormed.WithLabelValues(label).Inc()
	p.d.Metrics.QueueWait.WithLabelValues(label, a.Gender.String()).Observe(waitA.Seconds())
	p.d.Metrics.QueueWait.WithLabelValues(label, b.Gender.String()).Observe(waitB.Seconds())
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
		PlaceAMs:       ms(a.EnqueuedAt),
		PlaceBMs:       ms(b.EnqueuedAt),
	}
	pr := &pairing{info: info, until: dateEnds.Add(p.d.Config.VoteWindow + time.Minute)}
	p.paired[a.UserID], p.paired[b.UserID] = pr, pr
	p.d.Router.Send(KindMatch, info.MatchId, &msg.StartMatch{Match: info})
	p.recordWait(a.Gender, waitA, OutcomeMatched, now)
	p.recordWait(b.Gender, waitB, OutcomeMatched, now)
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

// outcome forgets a pairing once its match has a result (or the store
// refused it: its sessions put the partners back themselves).
func (p *matchPool) outcome(m *msg.MatchOutcome) {
	if m.Result == ResultAborted {
		p.log.Warn("pool: a pairing was refused by the store (a partner was in another match)", "match", m.MatchId)
	} else {
		p.core.Result(m.Result == persistence.ResultMutual, p.d.now())
	}
	for _, u := range []string{m.A, m.B} {
		if pr := p.paired[u]; pr != nil && pr.info.MatchId == m.MatchId {
			delete(p.paired, u)
		}
	}
}

// expirePairings forgets pairings whose result never came.
func (p *matchPool) expirePairings() {
	now := p.d.now()
	for u, pr := range p.paired {
		if now.After(pr.until) {
			delete(p.paired, u)
		}
	}
}

func (p *matchPool) dequeue(m *msg.Dequeue) *msg.DequeueReply {
	now := p.d.now()
	w, ok := p.core.Leave(m.UserId, now)
	if !ok {
		if pr := p.paired[m.UserId]; pr != nil && !m.Ghost {
			return &msg.DequeueReply{Match: pr.info}
		}
		return &msg.DequeueReply{}
	}
	p.refs.remove(m.UserId)
	wait := now.Sub(w.EnqueuedAt)
	outcome := m.Outcome
	if outcome == "" {
		outcome = OutcomeCancelled
	}
	p.recordWait(w.Gender, wait, outcome, now)
	return &msg.DequeueReply{Removed: true}
}

func (p *matchPool) status(userID string) *msg.EnqueueReply {
	if _, ok := p.q.Get(userID); !ok {
		return &msg.EnqueueReply{Queue: p.queueInfo()}
	}
	pos, eta, _ := p.core.Status(userID, p.d.now())
	q := &msg.QueueInfo{Pool: p.name, Position: int32(pos), Waiting: waitingMsg(p.q.Waiting())}
	return &msg.EnqueueReply{Queue: q, Eta: etaMsg(eta)}
}

func (p *matchPool) queueInfo() *msg.QueueInfo {
	return &msg.QueueInfo{Pool: p.name, Waiting: waitingMsg(p.q.Waiting())}
}

// resumeStale asks the session of every waiter it has not heard from for
// staleAfter refresh periods to confirm the place (its node may have
// died: a fresh activation restores it from the store, or drops it).
// Cost: the stale ones only (the refs are kept in the order last seen).
func (p *matchPool) resumeStale() {
	now := p.d.now()
	limit := staleAfter * p.d.Config.Refresh
	for ref := p.refs.head; ref != nil && now.Sub(ref.seen) > limit; ref = p.refs.head {
		id := ref.id
		p.refs.touch(ref, now)
		r := &msg.Resume{Pool: p.name}
		if w, ok := p.q.Get(id); ok {
			r.EnqueuedAtMs = ms(w.EnqueuedAt)
		}
		p.d.Router.Send(KindUserSession, id, r)
	}
}

// pushWaitUpdates tells each waiter their estimate when it changed by 10% or
// more, their position changed, or WaitUpdateMax passed since the last one
// (pool.Pool.Updates: it looks only at the waiters that may be due).
func (p *matchPool) pushWaitUpdates() {
	var wm map[string]int32
	p.core.Updates(p.d.now(), func(w *pool.Waiter, pos int, eta pool.ETA, waiting map[pool.Gender]int) {
		if wm == nil {
			wm = waitingMsg(waiting) // shared by this tick's updates, never changed
		}
		p.d.Router.Send(KindUserSession, w.UserID, &msg.WaitUpdate{
			Queue: &msg.QueueInfo{Pool: p.name, Position: int32(pos), Waiting: wm},
			Eta:   etaMsg(eta),
		})
	})
}

func (p *matchPool) stats() *msg.PoolStats {
	st := p.core.Stats(p.d.now())
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
		Abandoned:        map[string]int32{},
	}
	for _, g := range pool.Genders {
		out.AvgWaitS[g.String()] = st.AvgWait[g].Seconds()
		out.P90WaitS[g.String()] = st.P90Wait[g].Seconds()
		out.Abandoned[g.String()] = int32(st.Abandoned[g])
		out.EtaS[g.String()] = st.ETA[g].Seconds()
	}
	for _, w := range st.WhatIf {
		m := &msg.WhatIf{Gender: w.Gender.String(), MorePerHour: w.MorePerHour, NowS: map[string]float64{}, ThenS: map[string]float64{}}
		for g, nt := range w.P50 {
			m.NowS[g.String()], m.ThenS[g.String()] = nt.Now.Seconds(), nt.Then.Seconds()
		}
		out.WhatIf = append(out.WhatIf, m)
	}
	out.AlertP90WaitS = map[string]float64{}
	for g, w := range st.P90WaitNow {
		out.AlertP90WaitS[g.String()] = w.Seconds()
	}
	for i, g := range pool.Genders {
		p.p90Now[i] = st.P90WaitNow[g].Seconds()
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
