package pool

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// menWaiting returns a Pool with n men seeking women waiting, a minute of
// arrivals behind its estimator, and the time after the last enqueue.
func menWaiting(b *testing.B, n int) (*Pool, time.Time) {
	b.Helper()
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	e.MatchFormed(t0.Add(-time.Minute))
	arrive(e, Female, sM, 60, time.Minute, t0)
	at := t0
	for i := range n {
		w := &Waiter{UserID: "m" + strconv.Itoa(i), Gender: Male, Seeking: sF, EnqueuedAt: at}
		if p.Insert(w, at) == false {
			b.Fatal("setup")
		}
		at = at.Add(time.Millisecond)
	}
	return p, at
}

// BenchmarkPoolEvents measures the pool's per-event costs at 1k, 10k and
// 100k waiters (issue 10 wants them flat within 2x): a newcomer's Join and
// its estimate (Status, which counts the position), and one wait tick
// (Updates) divided by the waiters it visits. Today Status and the tick
// are O(n) per call: the figures show it.
func BenchmarkPoolEvents(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("status/waiters=%d", n), func(b *testing.B) {
			p, at := menWaiting(b, n)
			last := "m" + strconv.Itoa(n-1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, _, ok := p.Status(last, at); !ok {
					b.Fatal("not queued")
				}
			}
		})
		b.Run(fmt.Sprintf("join-leave/waiters=%d", n), func(b *testing.B) {
			p, at := menWaiting(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				w := &Waiter{UserID: "new", Gender: Male, Seeking: sF, EnqueuedAt: at}
				if p.Join(w, true, at) != nil {
					b.Fatal("paired")
				}
				p.Leave("new", at)
				at = at.Add(time.Duration(i%2) * time.Millisecond)
			}
		})
		b.Run(fmt.Sprintf("tick-per-waiter/waiters=%d", n), func(b *testing.B) {
			p, at := menWaiting(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				at = at.Add(time.Second)
				p.Updates(at, func(*Waiter, int, ETA, map[Gender]int) {})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/waiter")
		})
	}
}
