package pool

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// menWaiting returns a Pool with n men seeking women waiting, a minute of
// arrivals behind its estimator, and the time after the last enqueue. With
// recent > 0 every man carries that many recent partners (women w0, w1, ...
// of the cooldown, as after a long session).
func menWaiting(b *testing.B, n, recent int) (*Pool, time.Time) {
	b.Helper()
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	e.MatchFormed(t0.Add(-time.Minute))
	arrive(e, Female, sM, 60, time.Minute, t0)
	at := t0
	for i := range n {
		w := &Waiter{UserID: "m" + strconv.Itoa(i), Gender: Male, Seeking: sF, EnqueuedAt: at, Recent: recentSet("w", i, recent)}
		if p.Insert(w, at) == false {
			b.Fatal("setup")
		}
		at = at.Add(time.Millisecond)
	}
	return p, at
}

// recentSet returns k user ids prefix<from>, prefix<from+1>, ... (nil for
// k = 0).
func recentSet(prefix string, from, k int) Partners {
	if k == 0 {
		return nil
	}
	m := make([]string, 0, k)
	for j := range k {
		m = append(m, prefix+strconv.Itoa(from+j))
	}
	return PartnersOf(m)
}

// BenchmarkPoolEvents measures the pool's per-event costs at 1k, 10k and
// 100k waiters (issue 10 wants them flat within 2x):
//
//   - status: the estimate of the newest waiter (its position counted);
//   - join-leave: a newcomer queued and told, then leaving;
//   - reannounce: a waiter from the middle of the line taken and put back
//     at its old place (a place announced again after its pool moved);
//   - pair-recent: a newcomer paired past the 100 oldest waiters, who are
//     on its rematch cooldown, every waiter carrying 100 recent partners
//     (the partner is put back at the tail to keep n);
//   - tick: one wait tick a second (Updates) in a steady line where one
//     waiter is paired away and one joins per tick; ns/waiter is the tick
//     over n, looked/tick the waiters estimated (about n/5 + those whose
//     place moved by a tenth).
func BenchmarkPoolEvents(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("status/waiters=%d", n), func(b *testing.B) {
			p, at := menWaiting(b, n, 0)
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
			p, at := menWaiting(b, n, 0)
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
		b.Run(fmt.Sprintf("reannounce/waiters=%d", n), func(b *testing.B) {
			p, at := menWaiting(b, n, 0)
			mid := "m" + strconv.Itoa(n/2)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w, ok := p.Take(mid, at)
				if !ok || p.Join(w, false, at) != nil {
					b.Fatal("not put back")
				}
			}
			b.StopTimer()
			if pos := p.Queue().Position(mid); pos != n/2+1 {
				b.Fatalf("back at %d, want %d", pos, n/2+1)
			}
		})
		b.Run(fmt.Sprintf("pair-recent/waiters=%d", n), func(b *testing.B) {
			const recent = 100
			p, at := menWaiting(b, n, recent)
			b.ReportAllocs()
			b.ResetTimer()
			// Her cooldown holds the 100 men at the head of the line, who
			// stay there.
			blocked := recentSet("m", 0, recent)
			for i := range b.N {
				w := &Waiter{UserID: "x" + strconv.Itoa(i), Gender: Female, Seeking: sM, EnqueuedAt: at, Recent: blocked}
				partner := p.Join(w, true, at)
				if partner == nil || blocked.Has(partner.UserID) {
					b.Fatalf("paired with %v", partner)
				}
				b.StopTimer()
				partner.EnqueuedAt = at // back at the tail, keeping n
				p.Insert(partner, at)
				at = at.Add(time.Millisecond)
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("tick/waiters=%d", n), func(b *testing.B) {
			p, at := menWaiting(b, n, 0)
			p.Updates(at, func(*Waiter, int, ETA, map[Gender]int) {}) // everyone told once
			looked := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				at = at.Add(time.Second)
				b.StopTimer()
				w := &Waiter{UserID: "t" + strconv.Itoa(i), Gender: Female, Seeking: sM, EnqueuedAt: at}
				if p.Join(w, true, at) == nil {
					b.Fatal("not paired")
				}
				m := &Waiter{UserID: "n" + strconv.Itoa(i), Gender: Male, Seeking: sF, EnqueuedAt: at}
				p.Join(m, true, at)
				b.StartTimer()
				p.Updates(at, func(*Waiter, int, ETA, map[Gender]int) { looked++ })
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/waiter")
			b.ReportMetric(float64(looked)/float64(b.N), "told/tick")
		})
	}
}

// busyHistory drives p through d of traffic ending at end: about 40 spins
// a second of men and women seeking each other and some nonbinary people
// seeking anyone, most paired at once, everyone paired back after a date
// of 30 to 90 s (so the echo learns returns), the longest-waiting man
// leaving whenever more than 50 wait, and a wait tick a second.
func busyHistory(tb testing.TB, p *Pool, d time.Duration, end time.Time) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	type back struct {
		w  *Waiter
		at time.Time
	}
	var out []back
	id := 0
	const step = 100 * time.Millisecond
	for now := end.Add(-d); now.Before(end); now = now.Add(step) {
		var spins []*Waiter
		for len(out) > 0 && !out[0].at.After(now) {
			spins = append(spins, out[0].w)
			out = out[1:]
		}
		for range 4 - min(len(spins), 4) {
			id++
			w := &Waiter{UserID: "h" + strconv.Itoa(id)}
			switch r := rng.IntN(20); {
			case r < 10:
				w.Gender, w.Seeking = Male, sF
			case r < 19:
				w.Gender, w.Seeking = Female, sM
			default:
				w.Gender, w.Seeking = Nonbinary, sAll
			}
			spins = append(spins, w)
		}
		for _, w := range spins {
			w.EnqueuedAt = now
			if partner := p.Join(w, true, now); partner != nil {
				for _, u := range []*Waiter{w, partner} {
					b := back{u, now.Add(30*time.Second + time.Duration(rng.Int64N(int64(time.Minute))))}
					i, _ := slices.BinarySearchFunc(out, b, func(x, y back) int { return x.at.Compare(y.at) })
					out = slices.Insert(out, i, b)
				}
			}
		}
		if n := p.Queue().Count(Male); n > 50 {
			var oldest string
			p.Queue().Each(func(w *Waiter, _ int) bool {
				if w.Gender == Male {
					oldest = w.UserID
					return false
				}
				return true
			})
			p.Leave(oldest, now)
		}
		if now.Sub(end.Add(-d))%time.Second == 0 {
			p.Updates(now, func(*Waiter, int, ETA, map[Gender]int) {})
		}
	}
}

// BenchmarkEstimateHistory measures one estimate (a man seeking women at
// position 40) after 0, 1, 5 and 15 minutes of busy history (busyHistory):
// what an estimate costs must not grow as the window's history fills
// (issue 10's 10-minute run: 0.20 -> 0.39 s of Estimator.estimate in a 25 s
// profile when the slots were walked).
func BenchmarkEstimateHistory(b *testing.B) {
	for _, d := range []time.Duration{0, time.Minute, 5 * time.Minute, 15 * time.Minute} {
		b.Run("history="+d.String(), func(b *testing.B) {
			p := NewPool(PoolConfig{})
			busyHistory(b, p, d, t0)
			e := p.Estimator()
			w := &Waiter{UserID: "m", Gender: Male, Seeking: sF, EnqueuedAt: t0}
			waiting := p.Queue().Waiting()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if e.Estimate(w, 40, waiting, t0).P50 <= 0 {
					b.Fatal("no estimate")
				}
			}
		})
	}
}
