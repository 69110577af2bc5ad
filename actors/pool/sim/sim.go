package sim

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// Config is how a run drives its pool: the pool configuration and the
// grain's timings, as the server sets them (cmd/spinsim takes them from
// actors.DefaultConfig).
type Config struct {
	// Pool configures the pool.Pool (estimator, WaitUpdateMax).
	Pool pool.PoolConfig
	// Tick is how often the pool pushes wait updates (the grain's
	// WaitTick). Zero means 1s.
	Tick time.Duration
	// Cooldown is how long two users are not paired again (the rematch
	// cooldown). Zero turns it off.
	Cooldown time.Duration
	// Seed makes the run: the same seed, scenario and config give the same
	// figures.
	Seed uint64
	// Drain bounds how long the run goes on past the scenario's Duration
	// for judged spins still waiting (they are then counted as censored).
	// Zero means 2h.
	Drain time.Duration
	// Start is the simulated time the run starts at. Zero means
	// 2026-01-01 00:00 UTC.
	Start time.Time
	// Probe, when set, is called once with the pool halfway through the
	// judged stretch (the what-if check reads the pool there).
	Probe func(p *pool.Pool, now time.Time)
}

// predecessorWindow is how far back the predecessor's estimator averages
// matched waits.
const predecessorWindow = 5 * time.Minute

// evKind is the kind of a simulated event.
type evKind uint8

const (
	evArrival evKind = iota + 1 // the next new user may arrive
	evTick                      // the pool pushes wait updates
	evGiveUp                    // a waiting user's patience runs out
	evSettle                    // a match is decided
	evRespin                    // a user spins again
	evProbe                     // halfway through the judged stretch
)

type event struct {
	at   time.Time
	seq  uint64 // ties in at break by scheduling order
	kind evKind
	u    *user
	sp   *spin // evGiveUp: the spin it ends
	m    *match
}

// eventHeap orders the pending events by time, then scheduling order
// (container/heap's interface).
type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type user struct {
	id     string
	class  Class
	recent map[string]time.Time // past partners and when they were paired
	spin   *spin                // the current spin, nil when not queued
}

// told is one estimate pushed to a user, with the predecessor's beside it.
type told struct {
	at             time.Time
	p50, p90, pred time.Duration
	confidence     string
	oracle         time.Duration // -1 when the scenario has no oracle
	pos            int           // place in line (0: paired at once)
	lambda         float64       // the partner rate behind the estimate
	partners       float64       // partner spins so far when told
}

type spin struct {
	start    time.Time
	patience time.Duration
	judged   bool
	first    told
	updates  []told // judged spins only
}

type match struct {
	a, b   *user
	mutual bool
}

// runner is one run's state; it belongs to Simulate.
type runner struct {
	s       Scenario
	cfg     Config
	p       *pool.Pool
	start   time.Time
	events  eventHeap
	seq     uint64
	users   map[string]*user // looked up by id, never iterated
	nextID  int
	arrRNG  *rand.Rand // arrivals and classes
	patRNG  *rand.Rand // patience
	voteRNG *rand.Rand // votes and re-spins
	cum     []float64  // cumulative class weights
	spun    []float64  // spins so far by class (index of s.Classes)
	pred    [len(pool.Genders)]predecessor
	open    int // judged spins not yet ended
	out     *Run
}

// Simulate drives a fresh pool.Pool through s with a simulated clock and returns
// what each judged spin was told and waited. Deterministic for a given
// cfg.Seed. s must be valid (from Matrix or ParseScenarios).
func Simulate(s Scenario, cfg Config) *Run {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 2 * time.Hour
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	r := &runner{
		s: s, cfg: cfg, p: pool.NewPool(cfg.Pool), start: cfg.Start,
		users:   map[string]*user{},
		arrRNG:  rand.New(rand.NewPCG(cfg.Seed, 1)),
		patRNG:  rand.New(rand.NewPCG(cfg.Seed, 2)),
		voteRNG: rand.New(rand.NewPCG(cfg.Seed, 3)),
		out:     &Run{Scenario: s, Seed: cfg.Seed},
	}
	total := 0.0
	for _, c := range s.Classes {
		total += c.Weight
		r.cum = append(r.cum, total)
	}
	r.spun = make([]float64, len(s.Classes))
	r.scheduleArrival(r.start)
	r.schedule(&event{at: r.start.Add(cfg.Tick), kind: evTick})
	// The what-if is asked halfway through the judged stretch, once
	// re-spins flow as they will (its answer is checked against the median
	// wait of the whole stretch).
	r.schedule(&event{at: r.start.Add(s.Warmup + (s.Duration-s.Warmup)/2), kind: evProbe})
	end, last := r.start.Add(s.Duration), r.start.Add(s.Duration+cfg.Drain)
	var now time.Time
	for r.events.Len() > 0 {
		e := heap.Pop(&r.events).(*event)
		now = e.at
		if !now.Before(end) && r.open == 0 || now.After(last) {
			break
		}
		r.handle(e)
	}
	for _, g := range pool.Genders {
		r.out.ByGender[g-1].Gender = g
	}
	r.out.Censored = r.open
	r.out.Simulated = now.Sub(r.start)
	return r.out
}

func (r *runner) schedule(e *event) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.events, e)
}

// scheduleArrival schedules the next candidate arrival after t: a Poisson
// process at the ramp's highest rate, thinned to the rate at each moment.
func (r *runner) scheduleArrival(t time.Time) {
	peak := r.s.Rate * r.s.maxMult()
	gap := r.arrRNG.ExpFloat64() / peak
	r.schedule(&event{at: t.Add(time.Duration(gap * float64(time.Second))), kind: evArrival})
}

func (r *runner) handle(e *event) {
	switch e.kind {
	case evArrival:
		r.scheduleArrival(e.at)
		if r.arrRNG.Float64()*r.s.maxMult() >= r.s.Mult(e.at.Sub(r.start)) {
			return // thinned out: the rate is below its peak now
		}
		r.nextID++
		u := &user{id: fmt.Sprintf("u%07d", r.nextID), class: r.pickClass()}
		r.users[u.id] = u
		r.spin(u, e.at)
	case evTick:
		r.schedule(&event{at: e.at.Add(r.cfg.Tick), kind: evTick})
		r.p.Updates(e.at, func(w *pool.Waiter, pos int, eta pool.ETA, _ map[pool.Gender]int) {
			sp := r.users[w.UserID].spin
			if sp != nil && sp.judged {
				waited := e.at.Sub(sp.start)
				pred := max(r.predecessor(w.Gender, e.at)-waited, 0)
				sp.updates = append(sp.updates, told{at: e.at, p50: eta.P50, p90: eta.P90, pred: pred, confidence: eta.Confidence, pos: pos})
			}
		})
	case evGiveUp:
		u := e.u
		if u.spin != e.sp {
			return // matched before its patience ran out
		}
		r.p.Leave(u.id, e.at)
		r.gaveUp(u, e.at)
	case evSettle:
		r.p.Result(e.m.mutual, e.at)
		for _, u := range []*user{e.m.a, e.m.b} {
			if r.voteRNG.Float64() < r.s.Votes.Respin {
				r.schedule(&event{at: e.at.Add(r.s.Votes.RespinDelay), kind: evRespin, u: u})
			}
		}
	case evRespin:
		r.spin(e.u, e.at)
	case evProbe:
		if r.cfg.Probe != nil {
			r.cfg.Probe(r.p, e.at)
		}
	}
}

// pickClass draws the class of a new user by the scenario's weights.
func (r *runner) pickClass() Class {
	x := r.arrRNG.Float64() * r.cum[len(r.cum)-1]
	for i, c := range r.cum {
		if x < c {
			return r.s.Classes[i]
		}
	}
	return r.s.Classes[len(r.s.Classes)-1]
}

// patience draws how long a user waits before giving up.
func (r *runner) patience() time.Duration {
	p := r.s.Patience
	mean := p.Mean.Seconds()
	var x float64
	if p.Dist == Lognormal {
		mu := math.Log(mean) - p.Sigma*p.Sigma/2
		x = math.Exp(mu + p.Sigma*r.patRNG.NormFloat64())
	} else {
		x = mean * r.patRNG.ExpFloat64()
	}
	return time.Duration(math.Min(x, 365*24*3600) * float64(time.Second))
}

// spin puts u in the pool at now, as a session's spin does: a new arrival
// carrying its rematch cooldown.
func (r *runner) spin(u *user, now time.Time) {
	off := now.Sub(r.start)
	sp := &spin{start: now, patience: r.patience(), judged: off >= r.s.Warmup && off < r.s.Duration}
	if sp.judged {
		r.open++
		r.out.Spins++
	}
	u.spin = sp
	for i, c := range r.s.Classes {
		if c == u.class {
			r.spun[i]++
		}
	}
	w := &pool.Waiter{UserID: u.id, Gender: u.class.Gender, Seeking: u.class.Seeking, EnqueuedAt: now}
	var recent []string
	for id, at := range u.recent {
		if r.cfg.Cooldown > 0 && now.Sub(at) <= r.cfg.Cooldown {
			recent = append(recent, id)
		} else {
			delete(u.recent, id)
		}
	}
	w.Recent = pool.PartnersOf(recent)
	pred := r.predecessor(u.class.Gender, now)
	partner := r.p.Join(w, true, now)
	if partner != nil {
		// Paired at once: the server tells 0 s (matchpool.enqueue).
		sp.first = told{at: now, pred: pred, oracle: r.oracle(u.class, 0)}
		r.matched(r.users[partner.UserID], u, now)
		return
	}
	pos, eta, _ := r.p.Status(u.id, now)
	lam, _ := r.p.Estimator().Rates(u.class.Gender, u.class.Seeking, pos, 0, now)
	sp.first = told{at: now, p50: eta.P50, p90: eta.P90, pred: pred, confidence: eta.Confidence, oracle: r.oracle(u.class, pos), pos: pos, lambda: lam, partners: r.partnersSpun(u.class)}
	r.schedule(&event{at: now.Add(sp.patience), kind: evGiveUp, u: u, sp: sp})
}

// matched ends the spins of a (who waited) and b (who just spun) in a match
// and schedules its settlement.
func (r *runner) matched(a, b *user, now time.Time) {
	r.out.Matches++
	for _, u := range []*user{a, b} {
		sp := u.spin
		wait := now.Sub(sp.start)
		r.pred[u.class.Gender-1].add(now, wait)
		if sp.judged {
			r.open--
			gd := &r.out.ByGender[u.class.Gender-1]
			first := sampleOf(sp.first, now, r.start)
			first.Seeking = u.class.Seeking
			if sp.first.lambda > 0 && wait > 0 {
				first.Lambda = sp.first.lambda
				first.RealLambda = (r.partnersSpun(u.class) - sp.first.partners) / wait.Seconds()
			}
			gd.First = append(gd.First, first)
			for _, t := range sp.updates {
				x := sampleOf(t, now, r.start)
				x.Seeking = u.class.Seeking
				x.Age = t.at.Sub(sp.start).Seconds()
				gd.Update = append(gd.Update, x)
			}
		}
		u.spin = nil
	}
	if r.cfg.Cooldown > 0 {
		if a.recent == nil {
			a.recent = map[string]time.Time{}
		}
		if b.recent == nil {
			b.recent = map[string]time.Time{}
		}
		a.recent[b.id], b.recent[a.id] = now, now
	}
	v := r.s.Votes
	yesA, yesB := r.voteRNG.Float64() < v.Yes, r.voteRNG.Float64() < v.Yes
	vote := max(r.voteRNG.Float64(), r.voteRNG.Float64()) * float64(v.VoteWindow)
	r.schedule(&event{
		at:   now.Add(v.DateLength + time.Duration(vote)),
		kind: evSettle,
		m:    &match{a: a, b: b, mutual: yesA && yesB},
	})
}

// gaveUp ends u's spin unmatched at now.
func (r *runner) gaveUp(u *user, now time.Time) {
	sp := u.spin
	u.spin = nil
	if !sp.judged {
		return
	}
	r.open--
	gd := &r.out.ByGender[u.class.Gender-1]
	gd.GaveUp++
	if sp.first.p50 < sp.patience {
		gd.GaveUpToldShorter++
	}
	if sp.first.pred < sp.patience {
		gd.GaveUpPredShorter++
	}
}

func sampleOf(t told, matchedAt, start time.Time) Sample {
	return Sample{
		At:   t.at.Sub(start).Seconds(),
		P50:  t.p50.Seconds(),
		P90:  t.p90.Seconds(),
		Pred: t.pred.Seconds(),
		Real: matchedAt.Sub(t.at).Seconds(),
		// Paired at once: told 0 s with no confidence of its own.
		Confidence: t.confidence,
		Oracle:     t.oracle.Seconds(),
		Pos:        t.pos,
	}
}

// partnersSpun counts the spins so far of c's partners' classes.
func (r *runner) partnersSpun(c Class) float64 {
	var n float64
	for i, o := range r.s.Classes {
		if c.Seeking.Has(o.Gender) && o.Seeking.Has(c.Gender) {
			n += r.spun[i]
		}
	}
	return n
}

// oracle is the model's P50 for a spin of class c at position pos (0:
// paired at once) given
// the scenario's true rates, or -1 when the scenario has none that hold
// still: exponential patience, no re-spins, no ramp.
func (r *runner) oracle(c Class, pos int) time.Duration {
	s := r.s
	if s.Patience.Dist != Exponential || s.Votes.Respin > 0 || len(s.Ramp) > 0 {
		return -1
	}
	var total, partners float64
	for _, o := range s.Classes {
		total += o.Weight
		if c.Seeking.Has(o.Gender) && o.Seeking.Has(c.Gender) {
			partners += o.Weight
		}
	}
	if partners == 0 {
		return -1
	}
	if pos == 0 {
		return 0 // paired at once
	}
	return pool.OracleP50(pos, s.Rate*partners/total, 1/s.Patience.Mean.Seconds())
}

// predecessor returns the predecessor's estimate for gender g at now: the
// mean matched wait of g over the last five minutes, 0 with none.
func (r *runner) predecessor(g pool.Gender, now time.Time) time.Duration {
	return r.pred[g-1].mean(now)
}

// predecessor keeps the matched waits of one gender over the last
// predecessorWindow, oldest first.
type predecessor struct {
	at   []time.Time
	wait []time.Duration
	head int
	sum  time.Duration
}

func (p *predecessor) add(at time.Time, wait time.Duration) {
	p.at, p.wait = append(p.at, at), append(p.wait, wait)
	p.sum += wait
}

func (p *predecessor) mean(now time.Time) time.Duration {
	cut := now.Add(-predecessorWindow)
	for p.head < len(p.at) && !p.at[p.head].After(cut) {
		p.sum -= p.wait[p.head]
		p.head++
	}
	if p.head > 1024 && p.head*2 > len(p.at) {
		p.at, p.wait = append(p.at[:0], p.at[p.head:]...), append(p.wait[:0], p.wait[p.head:]...)
		p.head = 0
	}
	n := len(p.at) - p.head
	if n == 0 {
		return 0
	}
	return p.sum / time.Duration(n)
}
