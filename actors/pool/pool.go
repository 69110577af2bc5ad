package pool

import (
	"container/heap"
	"time"
)

// Pool is the matching core of one pool, free of actors and clocks: the
// waiting line (Queue), the wait-time model (Estimator) and what each waiter
// was last told (for the wait_update rule). The MatchPool grain wraps one,
// and the simulator (cmd/spinsim) drives one with a simulated clock, so both
// run the same pairing and estimation code. Every method takes the time of
// the event; times must not go backwards by more than the estimator's slot
// width. Not safe for concurrent use.
type Pool struct {
	q         *Queue
	est       *Estimator
	told      map[string]Told
	updateMax time.Duration
	// Which waiters Updates looks at (see there): fresh have never been
	// told; due holds when each told waiter's WaitUpdateMax runs from (a
	// heap by time; an entry of a waiter told again since, or gone, is
	// skipped by its gen); the queue's watch heaps (Queue.watch) hold when
	// a waiter's place may have moved by a tenth.
	fresh []string
	due   dueHeap
	gen   uint64 // last Told.gen handed out
}

// PoolConfig configures a Pool.
type PoolConfig struct {
	Estimator EstimatorConfig
	// WaitUpdateMax is the longest a queued waiter goes without an update
	// (Updates). Zero means 5s.
	WaitUpdateMax time.Duration
}

// Told is what a waiter was last told.
type Told struct {
	ETA      ETA
	Position int
	At       time.Time
	first    ETA       // the estimate told when the place was taken, for Recalibrate
	firstAt  time.Time // when it was told
	gen      uint64    // which due and moved entries are this telling's
}

// NewPool returns an empty pool with no history.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.WaitUpdateMax <= 0 {
		cfg.WaitUpdateMax = 5 * time.Second
	}
	q, est := NewQueue(), NewEstimator(cfg.Estimator)
	est.line = q
	return &Pool{
		q:         q,
		est:       est,
		told:      map[string]Told{},
		updateMax: cfg.WaitUpdateMax,
	}
}

// Queue returns the waiting line (read it, change it only through p).
func (p *Pool) Queue() *Queue { return p.q }

// Estimator returns the wait-time model (for statistics).
func (p *Pool) Estimator() *Estimator { return p.est }

// Join pairs w with the longest-waiting compatible waiter, or queues it.
// arrival tells a new spin (counted in the arrival rates) from a waiter
// coming back to a place it already held (a re-announcement after its pool
// moved: not a new arrival). When paired, both waits are recorded as ended
// in a match and the partner is returned; otherwise w is queued, what it is
// told is recorded, and Join returns nil. A w already queued, or invalid,
// changes nothing (nil).
func (p *Pool) Join(w *Waiter, arrival bool, now time.Time) *Waiter {
	if _, dup := p.q.Get(w.UserID); dup {
		return nil
	}
	if _, ok := classOf(w.Gender, w.Seeking); !ok {
		return nil
	}
	p.est.atRisk(p.q, now)
	if arrival {
		p.est.arrive(w, now)
	}
	present := p.q.present()
	partner := p.q.Add(w)
	if arrival {
		p.est.paired(w, partner, present, now)
	}
	if partner == nil {
		if pos, eta, ok := p.Status(w.UserID, now); ok {
			p.tell(p.q.byID[w.UserID], Told{ETA: eta, Position: pos, At: now, first: eta, firstAt: now}, 0)
		}
		return nil
	}
	if t, ok := p.told[partner.UserID]; ok {
		p.est.Recalibrate(partner.Gender, t.first, now.Sub(t.firstAt))
	}
	delete(p.told, partner.UserID)
	p.est.MatchFormed(now)
	p.est.dated(partner, now)
	p.est.dated(w, now)
	p.est.Finished(partner.Gender, partner.Seeking, now.Sub(partner.EnqueuedAt), true, now)
	p.est.Finished(w.Gender, w.Seeking, now.Sub(w.EnqueuedAt), true, now)
	return partner
}

// Insert queues w without pairing it and without counting an arrival (a
// place rebuilt from the store, usually Held), and reports whether it did.
func (p *Pool) Insert(w *Waiter, now time.Time) bool {
	if _, dup := p.q.Get(w.UserID); dup {
		return false
	}
	p.est.atRisk(p.q, now)
	if !p.q.Insert(w) {
		return false
	}
	p.fresh = append(p.fresh, w.UserID)
	return true
}

// Take removes userID's place without recording a finished wait (the place
// is about to be replaced, for example a rebuilt place its session has now
// announced).
func (p *Pool) Take(userID string, now time.Time) (*Waiter, bool) {
	if _, ok := p.q.Get(userID); !ok {
		return nil, false
	}
	p.est.atRisk(p.q, now)
	delete(p.told, userID)
	return p.q.Remove(userID)
}

// Leave removes userID from the line, recording a wait that ended without a
// match (a cancel, or the reconnect grace ran out).
func (p *Pool) Leave(userID string, now time.Time) (*Waiter, bool) {
	w, ok := p.Take(userID, now)
	if ok {
		p.est.Finished(w.Gender, w.Seeking, now.Sub(w.EnqueuedAt), false, now)
	}
	return w, ok
}

// Status returns userID's position and estimate now; ok is false when
// userID is not queued.
func (p *Pool) Status(userID string, now time.Time) (position int, eta ETA, ok bool) {
	w, ok := p.q.Get(userID)
	if !ok {
		return 0, ETA{}, false
	}
	position = p.q.Position(userID)
	return position, p.est.Estimate(w, position, p.q.Waiting(), now), true
}

// Updates calls fn for every queued waiter due an update: their estimate
// moved enough (ChangedEnough), their position changed, or WaitUpdateMax
// passed since they were last told. What fn is given is recorded as told.
// waiting is the current count by gender. fn must not change the pool.
//
// It does not look at every waiter. It estimates again only those never
// told, those whose WaitUpdateMax is up (about N/WaitUpdateMax a second,
// spread over the ticks by when each was told), and those whose place may
// have moved by a tenth since they were told: a waiter of gender g told at
// position k is looked at again once the queue changed k/10 times for g
// (a removal, or an insertion ahead of someone), an upper bound on the
// places it moved (a tenth of the line ahead gone is about what moves an
// estimate by 10%). A deep waiter's place moving by less than a tenth, or
// its estimate drifting by itself (its age, the pool's rates), is told at
// its WaitUpdateMax. Cost: O(log n) per waiter looked at.
func (p *Pool) Updates(now time.Time, fn func(w *Waiter, position int, eta ETA, waiting map[Gender]int)) {
	p.est.atRisk(p.q, now)
	p.est.accrue(p.q, now)
	if p.q.Len() == 0 {
		p.fresh = p.fresh[:0]
		return
	}
	var waiting map[Gender]int
	look := func(n *node, early time.Duration, due bool) {
		if waiting == nil {
			waiting = p.q.Waiting()
		}
		w, pos := n.w, p.q.position(n)
		last, told := p.told[w.UserID]
		eta := p.est.Estimate(w, pos, waiting, now)
		if !due && told && pos == last.Position && !ChangedEnough(last.ETA, eta) && now.Sub(last.At) < p.updateMax {
			p.watch(n, pos)
			return
		}
		p.tell(n, Told{ETA: eta, Position: pos, At: now, first: last.first, firstAt: last.firstAt}, early)
		fn(w, pos, eta, waiting)
	}
	// Places rebuilt together would all come due together: their next
	// look is spread over the coming WaitUpdateMax (told early, never
	// late), and stays spread from then on.
	fresh := p.fresh
	p.fresh = nil
	for i, id := range fresh {
		if _, told := p.told[id]; !told {
			if n, ok := p.q.byID[id]; ok {
				look(n, time.Duration(spreadFresh-1-i*spreadFresh/len(fresh))*p.updateMax/spreadFresh, false)
			}
		}
	}
	p.fresh = fresh[:0]
	for e, ok := p.due.peek(); ok && !e.at.After(now.Add(-p.updateMax)); e, ok = p.due.peek() {
		p.due.pop()
		if n, ok := p.q.byID[e.id]; ok && p.told[e.id].gen == e.gen {
			look(n, 0, true) // due (or spread early): told whatever changed
		}
	}
	for _, g := range Genders {
		h := &p.q.watch[g]
		for len(*h) > 0 && (*h)[0].watchKey <= p.q.changes[g] {
			look(h.pop(), 0, false)
		}
	}
}

// spreadFresh is how many ticks' worth of phases rebuilt places are spread
// over (Updates).
const spreadFresh = 5

// tell records t as what the waiter of n was told, and when to look at it
// again: WaitUpdateMax after t.At, or early before that.
func (p *Pool) tell(n *node, t Told, early time.Duration) {
	p.gen++
	t.gen = p.gen
	p.told[n.w.UserID] = t
	p.due.push(dueEntry{at: t.At.Add(-early), id: n.w.UserID, gen: t.gen})
	p.watch(n, t.Position)
}

// watch arms the look at n once its gender's line changed a tenth of
// position times from now (replacing any look armed before).
func (p *Pool) watch(n *node, position int) {
	g := n.w.Gender
	n.watchKey = p.q.changes[g] + uint64(max((position+9)/10, 1))
	p.q.watch[g].set(n)
}

// Result records the outcome of a date: mutual when both said yes.
func (p *Pool) Result(mutual bool, now time.Time) { p.est.MatchResult(mutual, now) }

// Stats returns the pool's statistics now (Estimator.QueueStats), with the
// what-ifs for its scarce gender and the first of them in words among the
// recommendations.
func (p *Pool) Stats(now time.Time) Stats {
	st := p.est.QueueStats(p.q, now)
	if g, ok := ParseGender(st.Scarce); ok {
		st.WhatIf = p.whatIfs(g, now)
		if len(st.WhatIf) > 0 {
			if s := whatIfSentence(st.WhatIf[len(st.WhatIf)/2]); s != "" {
				st.Recommendations = append(st.Recommendations, s)
			}
		}
	}
	return st
}

// dueEntry is when a waiter was told (its WaitUpdateMax runs from there,
// or from earlier to spread a burst).
type dueEntry struct {
	at  time.Time
	id  string
	gen uint64
}

// dueHeap is a min-heap of dueEntry by at.
type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = dueEntry{}
	*h = old[:len(old)-1]
	return e
}

func (h *dueHeap) push(e dueEntry) { heap.Push(h, e) }

func (h *dueHeap) peek() (dueEntry, bool) {
	if len(*h) == 0 {
		return dueEntry{}, false
	}
	return (*h)[0], true
}

func (h *dueHeap) pop() { heap.Pop(h) }
