package pool

import (
	"slices"
	"time"
)

// numSlots is how many time slots the sliding window is cut into. Counts are
// kept per slot, so memory is fixed whatever the traffic, and the window
// edge is exact to Window/numSlots.
const numSlots = 60

// slot holds the events of one Window/numSlots stretch of time.
type slot struct {
	idx      int64 // absolute slot number: floor(unix nanos / width)
	arrivals [numClasses]uint32
	// returns counts, by class, the arrivals that were users back from a
	// date (echo): arrivals - returns are the fresh arrivals.
	returns [numClasses]uint32
	matches uint32
	decided uint32
	mutual  uint32
	// abandoned counts, by gender, the waits that ended by leaving the
	// queue (a cancel, or the reconnect grace ran out); index 0 unused.
	abandoned [numGenders + 1]uint32
	// left counts, by class, the same waits; exposure sums, by class, the
	// person-seconds waiters spent waiting in the slot (Estimator.atRisk),
	// or, for an estimator without a queue, the seconds of every wait that
	// ended in it.
	left     [numClasses]uint32
	exposure [numClasses]float64
	// offered counts, by class c, the partner arrivals of c that came
	// while a waiter of c was queued, and reached those of them that were
	// paired with someone of c's line (a competitor of c, c included):
	// the share of c's partners that reach its line (Estimator.lineShare).
	offered, reached [numClasses]uint32
	// drawn counts, by class c, the waiters of c's line paired with a
	// partner c cannot take (they leave the line ahead of c by a way c
	// does not share: Estimator.drawRate).
	drawn [numClasses]uint32
}

// sub takes o's counts out of s (o is a slot s was summed from).
func (s *slot) sub(o *slot) {
	for i := range s.arrivals {
		s.arrivals[i] -= o.arrivals[i]
		s.returns[i] -= o.returns[i]
	}
	s.matches -= o.matches
	s.decided -= o.decided
	s.mutual -= o.mutual
	for i := range s.abandoned {
		s.abandoned[i] -= o.abandoned[i]
	}
	for i := range s.left {
		s.left[i] -= o.left[i]
		s.exposure[i] -= o.exposure[i]
		s.offered[i] -= o.offered[i]
		s.reached[i] -= o.reached[i]
		s.drawn[i] -= o.drawn[i]
	}
}

// window is a sliding window of event counts: a ring of numSlots slots and
// their running total. It moves forward with the newest time it is shown;
// events older than the window are dropped.
type window struct {
	width int64 // nanoseconds per slot
	head  int64 // newest slot number; valid when started
	begun bool
	slots [numSlots]slot
	total slot // sum of every slot in (head-numSlots, head]
	// stretches keep the arrivals of the newest slots for the rate
	// horizons and trends (stretch.go), set up by track.
	stretches []stretch
}

// slotOf returns the slot number of time t (floor division).
func (w *window) slotOf(t int64) int64 {
	i := t / w.width
	if t%w.width < 0 {
		i--
	}
	return i
}

// advance moves the window so that it ends at t's slot, expiring older slots.
// A t before the current head changes nothing.
func (w *window) advance(t int64) {
	i := w.slotOf(t)
	if !w.begun {
		w.begun, w.head = true, i
		w.slots[mod(i)].idx = i
		return
	}
	if i <= w.head {
		return
	}
	if i-w.head >= numSlots {
		w.slots = [numSlots]slot{}
		w.total = slot{}
		for k := range w.stretches {
			w.stretches[k].clear()
		}
		for j := i - numSlots + 1; j <= i; j++ {
			w.slots[mod(j)].idx = j
		}
		w.head = i
		return
	}
	for j := w.head + 1; j <= i; j++ {
		w.shiftStretches(j - 1)
		s := &w.slots[mod(j)]
		w.total.sub(s)
		*s = slot{idx: j}
	}
	w.head = i
}

// at returns the slot for an event at t, or nil when t is older than the window.
func (w *window) at(t int64) *slot {
	w.advance(t)
	i := w.slotOf(t)
	if i <= w.head-numSlots {
		return nil
	}
	s := &w.slots[mod(i)]
	if s.idx != i { // never written since the window began
		*s = slot{idx: i}
	}
	return s
}

// covered returns how much time the live slots span at now: from the start
// of the oldest live slot to now, at most numSlots widths.
func (w *window) covered(now int64) time.Duration {
	if !w.begun {
		return 0
	}
	d := now - (w.head-numSlots+1)*w.width
	return time.Duration(min(max(d, 0), numSlots*w.width))
}

func mod(i int64) int64 {
	m := i % numSlots
	if m < 0 {
		m += numSlots
	}
	return m
}

// waitSample is one finished wait.
type waitSample struct {
	at      int64 // when the wait ended
	wait    time.Duration
	matched bool
}

// waitRing keeps the latest finished waits of one gender, at most its
// capacity; older ones are overwritten.
type waitRing struct {
	buf  []waitSample
	next int // where the next sample goes
	n    int // how many are stored
}

func (r *waitRing) push(s waitSample) {
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// summary describes the waits of one gender in the window.
type waitSummary struct {
	matched, left int
	avg, p90      time.Duration // over matched waits
}

// summarize summarizes the samples that ended after since; scratch is reused.
func (r *waitRing) summarize(since int64, scratch []time.Duration) (waitSummary, []time.Duration) {
	var s waitSummary
	scratch = scratch[:0]
	var sum time.Duration
	for i := 0; i < r.n; i++ {
		x := r.buf[i]
		if x.at <= since {
			continue
		}
		if !x.matched {
			s.left++
			continue
		}
		s.matched++
		sum += x.wait
		scratch = append(scratch, x.wait)
	}
	if s.matched == 0 {
		return s, scratch
	}
	s.avg = sum / time.Duration(s.matched)
	slices.Sort(scratch)
	// Nearest-rank 90th percentile.
	rank := (9*len(scratch) + 9) / 10
	s.p90 = scratch[max(rank, 1)-1]
	return s, scratch
}
