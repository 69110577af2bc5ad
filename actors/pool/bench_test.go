package pool

import (
	"strconv"
	"testing"
	"time"
)

// imbalancedPool fills a queue with n waiters none of whom can pair with
// another: everyone seeks women and no woman waits (70% men seeking women,
// 15% men seeking women or nonbinary people, 15% nonbinary people seeking
// women), 1 in 10 with a cooldown on an older waiter. It returns the queue
// and the next free enqueue time.
func imbalancedPool(tb testing.TB, n int) (*Queue, time.Time) {
	tb.Helper()
	q := NewQueue()
	at := t0
	for i := range n {
		w := &Waiter{UserID: "u" + strconv.Itoa(i), Seeking: sF, EnqueuedAt: at}
		switch i % 20 {
		case 0, 1, 2:
			w.Gender, w.Seeking = Male, SetOf(Female, Nonbinary)
		case 3, 4, 5:
			w.Gender = Nonbinary
		default:
			w.Gender = Male
		}
		if i%10 == 9 {
			w.Recent = Partners{"u" + strconv.Itoa(i/2)}
		}
		if p := q.Add(w); p != nil {
			tb.Fatalf("setup: %s paired with %s", w.UserID, p.UserID)
		}
		at = at.Add(time.Millisecond)
	}
	return q, at
}

// BenchmarkQueueAddPair measures the pairing step in a pool of 10,000
// waiters: a woman seeking men arrives and pairs with the oldest man, who is
// then re-queued as a newcomer to keep the pool's size steady. One
// iteration is two Adds (one pairing, one queueing).
func BenchmarkQueueAddPair(b *testing.B) {
	q, at := imbalancedPool(b, 10_000)
	women := make([]*Waiter, 64)
	for i := range women {
		women[i] = &Waiter{UserID: "w" + strconv.Itoa(i), Gender: Female, Seeking: sM}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w := women[i%len(women)]
		w.EnqueuedAt = at
		p := q.Add(w)
		if p == nil {
			b.Fatal("no partner")
		}
		at = at.Add(time.Millisecond)
		p.EnqueuedAt = at
		if q.Add(p) != nil {
			b.Fatal("replacement paired")
		}
	}
	if q.Len() != 10_000 {
		b.Fatalf("Len = %d", q.Len())
	}
}

// BenchmarkQueueAddNoPartner measures Add for a newcomer who finds nobody
// (a man seeking women in a pool of 10,000 with no women), followed by the
// Remove that keeps the size steady.
func BenchmarkQueueAddNoPartner(b *testing.B) {
	q, at := imbalancedPool(b, 10_000)
	w := &Waiter{UserID: "newcomer", Gender: Male, Seeking: sF}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.EnqueuedAt = at
		if q.Add(w) != nil {
			b.Fatal("paired")
		}
		q.Remove(w.UserID)
		at = at.Add(time.Millisecond)
	}
}

// BenchmarkQueueEach measures one pass over a 10,000-waiter pool with
// positions, what the grain does on each wait tick.
func BenchmarkQueueEach(b *testing.B) {
	q, _ := imbalancedPool(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		q.Each(func(*Waiter, int) bool { n++; return true })
		if n != 10_000 {
			b.Fatal(n)
		}
	}
}

// BenchmarkEstimate measures one ETA for a queued man at position 40 in a
// pool with a full window of history (about 1,000 arrivals).
func BenchmarkEstimate(b *testing.B) {
	e := NewEstimator(EstimatorConfig{})
	e.MatchFormed(t0.Add(-time.Hour))
	arrive(e, Male, sF, 700, 15*time.Minute, t0)
	arrive(e, Female, sM, 200, 15*time.Minute, t0)
	arrive(e, Nonbinary, SetOf(Female, Nonbinary), 100, 15*time.Minute, t0)
	w := &Waiter{UserID: "m", Gender: Male, Seeking: sF}
	waiting := map[Gender]int{Male: 120, Female: 4, Nonbinary: 10}
	b.ReportAllocs()
	b.ResetTimer()
	now := t0
	for b.Loop() {
		now = now.Add(10 * time.Millisecond)
		if e.Estimate(w, 40, waiting, now).P50 <= 0 {
			b.Fatal("no estimate")
		}
	}
}

// BenchmarkStats measures one pool statistics snapshot.
func BenchmarkStats(b *testing.B) {
	e := NewEstimator(EstimatorConfig{})
	arrive(e, Male, sF, 700, 15*time.Minute, t0)
	arrive(e, Female, sM, 200, 15*time.Minute, t0)
	for i := range 1024 {
		e.Finished(Genders[i%3], allGenders, time.Duration(i)*time.Second, i%4 != 0, t0.Add(-time.Duration(i)*time.Second/2))
	}
	waiting := map[Gender]int{Male: 120, Female: 4, Nonbinary: 10}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = e.Stats(waiting, t0)
	}
}

// BenchmarkFluidRatio measures the fluid line's correction of one estimate
// with a full life table: people waiting in every age band, hazards that
// fall with age.
func BenchmarkFluidRatio(b *testing.B) {
	e := NewEstimator(EstimatorConfig{})
	t := &e.life[Male]
	for i := range ageGrid {
		t.exposure[i] = 1e5
		t.left[i] = 1e5 * 0.05 / (1 + ageGrid[i]/10)
		t.waiting[i] = 100
	}
	k := 100*len(ageGrid) + 1
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if e.fluidRatio(Male, 0, k, 0.7, 0.01, 0.008) == 1 {
			b.Fatal("no correction")
		}
	}
}
