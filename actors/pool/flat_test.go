package pool

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// walkPosition is Position the slow way: 1 + the older competitors, found
// by walking every competing bucket from its head.
func walkPosition(q *Queue, userID string) int {
	n, ok := q.byID[userID]
	if !ok {
		return 0
	}
	pos := 1
	for set := competitorClasses[n.class]; ; {
		c, ok := set.next()
		if !ok {
			return pos
		}
		for o := q.buckets[c].head; o != nil && o.before(n); o = o.next {
			pos++
		}
	}
}

// TestPositionTreeMatchesWalk checks the order-statistics positions
// against a walk of the buckets, through random joins (with old enqueue
// times too, as re-announced places have), ties, pairings and leaves.
func TestPositionTreeMatchesWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := NewQueue()
	var ids []string
	checked := 0
	for step := range 10_000 {
		switch r := rng.IntN(10); {
		case r < 8 || len(ids) == 0:
			g := Genders[rng.IntN(len(Genders))]
			s := GenderSet(1 + rng.IntN(int(allGenders)))
			at := t0.Add(time.Duration(step) * time.Millisecond)
			if rng.IntN(5) == 0 {
				at = t0.Add(time.Duration(rng.IntN(step+1)) * time.Millisecond) // an old place, or a tie
			}
			w := &Waiter{UserID: "u" + strconv.Itoa(step), Gender: g, Seeking: s, EnqueuedAt: at}
			if rng.IntN(20) == 0 {
				q.Add(w) // may pair
			} else {
				q.Insert(w)
			}
			if _, ok := q.Get(w.UserID); ok {
				ids = append(ids, w.UserID)
			}
		default:
			i := rng.IntN(len(ids))
			q.Remove(ids[i])
			ids[i] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
		}
		if step%499 == 0 {
			for _, id := range ids {
				if _, ok := q.Get(id); !ok {
					continue // paired away
				}
				checked++
				if got, want := q.Position(id), walkPosition(q, id); got != want {
					t.Fatalf("step %d: Position(%s) = %d, the walk says %d", step, id, got, want)
				}
			}
		}
	}
	if checked < 10_000 || q.Len() < 1000 {
		t.Fatalf("only %d positions checked, %d queued at the end", checked, q.Len())
	}
	for c := range q.buckets {
		if b := &q.buckets[c]; b.root.sz() != b.n {
			t.Fatalf("class %d: tree holds %d, list %d", c, b.root.sz(), b.n)
		}
	}
}

// accrueWalk is accrue the old way, visiting every waiter.
func (e *Estimator) accrueWalk(q *Queue, now time.Time) {
	k, _ := e.touch(now)
	if e.lifeAt == 0 || k <= e.lifeAt {
		if e.lifeAt == 0 {
			e.lifeAt = k
		}
		return
	}
	dt := min(time.Duration(k-e.lifeAt), e.cfg.Window).Seconds()
	e.lifeAt = k
	decay := math.Exp(-dt / e.cfg.Window.Seconds())
	for _, g := range Genders {
		t := &e.life[g]
		for b := range ageGrid {
			t.left[b] *= decay
			t.exposure[b] *= decay
		}
		t.waiting = [len(ageGrid)]int{}
	}
	q.Each(func(w *Waiter, _ int) bool {
		age := now.Sub(w.EnqueuedAt).Seconds()
		if w.Gender.Valid() && age > 0 {
			t := &e.life[w.Gender]
			t.exposure[ageBand(max(age-dt/2, 0))] += min(dt, age)
			t.waiting[ageBand(age)]++
		}
		return true
	})
}

// TestAccrueCountsAsTheWalk checks that accrue, counting ages by enqueue
// times, builds the life table a walk of every waiter builds: the same
// counts by band, the same time at risk (to rounding), through ticks of
// varied gaps with waiters on band edges, in the future and joining.
func TestAccrueCountsAsTheWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	q := NewQueue()
	fast, slow := NewEstimator(EstimatorConfig{}), NewEstimator(EstimatorConfig{})
	now := t0
	id := 0
	for tick := range 1500 {
		for range rng.IntN(20) {
			id++
			at := now.Add(-time.Duration(rng.Int64N(int64(2 * time.Hour))))
			switch rng.IntN(6) {
			case 0: // exactly on a band edge
				at = now.Add(-time.Duration(ageGrid[rng.IntN(len(ageGrid))] * float64(time.Second)))
			case 1: // just joined, or a clock ahead
				at = now.Add(time.Duration(rng.Int64N(int64(3*time.Second))) - 2*time.Second)
			}
			q.Insert(&Waiter{UserID: strconv.Itoa(id), Gender: Genders[rng.IntN(len(Genders))], Seeking: GenderSet(1 + rng.IntN(int(allGenders))), EnqueuedAt: at})
		}
		for range rng.IntN(15) {
			if n := q.buckets[rng.IntN(numClasses)].head; n != nil {
				q.Remove(n.w.UserID)
			}
		}
		gaps := []time.Duration{time.Second, time.Second, 1500 * time.Millisecond, 7 * time.Second, time.Nanosecond}
		now = now.Add(gaps[rng.IntN(len(gaps))])
		if tick == 500 {
			now = now.Add(20 * time.Minute) // a stall longer than the window
		}
		fast.accrue(q, now)
		slow.accrueWalk(q, now)
		for _, g := range Genders {
			a, b := &fast.life[g], &slow.life[g]
			if a.waiting != b.waiting {
				t.Fatalf("tick %d, %v: waiting by band %v, the walk %v", tick, g, a.waiting, b.waiting)
			}
			for band := range ageGrid {
				if d := math.Abs(a.exposure[band] - b.exposure[band]); d > 1e-9*max(1, b.exposure[band]) {
					t.Fatalf("tick %d, %v, band %d: exposure %v, the walk %v", tick, g, band, a.exposure[band], b.exposure[band])
				}
			}
		}
	}
}

// TestUpdatesLookAtWhoIsDue checks the wait_update rule Updates keeps while
// looking at few waiters: after every tick, each queued waiter was told
// within WaitUpdateMax, and none has moved by a tenth of its told place
// (at least one place) without being told; and a line rebuilt at once is
// told about a fifth a tick after the first, not all of it every 5 s.
func TestUpdatesLookAtWhoIsDue(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := NewPool(PoolConfig{WaitUpdateMax: 5 * time.Second})
	now := t0
	const rebuilt = 2000
	for i := range rebuilt {
		p.Insert(&Waiter{UserID: "m" + strconv.Itoa(i), Gender: Male, Seeking: sF, EnqueuedAt: now.Add(time.Duration(i) * time.Millisecond)}, now)
	}
	lastTold := map[string]time.Time{}
	id := 0
	for tick := range 120 {
		now = now.Add(time.Second)
		for range rng.IntN(4) { // women pair with the head, men join and leave
			id++
			p.Join(&Waiter{UserID: "w" + strconv.Itoa(id), Gender: Female, Seeking: sM, EnqueuedAt: now}, true, now)
		}
		for range rng.IntN(4) {
			id++
			p.Join(&Waiter{UserID: "n" + strconv.Itoa(id), Gender: Male, Seeking: sF, EnqueuedAt: now}, true, now)
			lastTold["n"+strconv.Itoa(id)] = now // told at its join
		}
		if rng.IntN(3) == 0 {
			p.Leave("m"+strconv.Itoa(rng.IntN(rebuilt)), now)
		}
		told := 0
		p.Updates(now, func(w *Waiter, _ int, _ ETA, _ map[Gender]int) {
			lastTold[w.UserID] = now
			told++
		})
		if tick >= 6 && told > rebuilt/5+rebuilt/10 {
			t.Errorf("tick %d: %d told of %d waiting", tick, told, p.Queue().Len())
		}
		p.Queue().Each(func(w *Waiter, pos int) bool {
			at, ok := lastTold[w.UserID]
			if !ok || now.Sub(at) > 5*time.Second {
				t.Fatalf("tick %d: %s last told at %v (now %v)", tick, w.UserID, at, now)
			}
			tl := p.told[w.UserID]
			if drop := tl.Position - pos; drop != 0 && drop >= max((tl.Position+9)/10, 1) {
				t.Fatalf("tick %d: %s moved from %d to %d untold", tick, w.UserID, tl.Position, pos)
			}
			return true
		})
	}
}
