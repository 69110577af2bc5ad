package pool

// stretch keeps, by class, the arrivals in the completed slots within n
// slots of the window's head (ages 1 to n-1, the head being age 0: slot
// head-age), and the same counts weighted by age, as the window moves. A
// rate horizon's count (partnerRateSpan) and the least-squares sums of a
// trend over n slots (partnerTrendOver) then cost O(classes) whatever the
// history, not a walk of the slots. A completed slot enters each stretch
// once, when the head moves past it, and leaves once, when it gets too old;
// an arrival written into a completed slot (a late timestamp) goes into the
// stretches that hold it at once. Counts are exact integers.
type stretch struct {
	n int64 // slots from the head it reaches, ages 1 to n-1
	// arrivals and returns count, by class, what the slots of ages 1 to
	// n-1 count; arrivalsAged and returnsAged sum age x count.
	arrivals, returns         [numClasses]int64
	arrivalsAged, returnsAged [numClasses]int64
}

// shift moves s one slot on: the old head (in) becomes age 1, everyone
// else one older, and the slot that was at age n-1 (out, nil when it was
// never written) leaves. Each aged sum gains one count per slot kept.
func (s *stretch) shift(in, out *slot) {
	if s.n < 2 {
		return
	}
	for c := range s.arrivals {
		var xa, xr int64
		if out != nil {
			xa, xr = int64(out.arrivals[c]), int64(out.returns[c])
		}
		s.arrivalsAged[c] += s.arrivals[c] - s.n*xa + int64(in.arrivals[c])
		s.returnsAged[c] += s.returns[c] - s.n*xr + int64(in.returns[c])
		s.arrivals[c] += int64(in.arrivals[c]) - xa
		s.returns[c] += int64(in.returns[c]) - xr
	}
}

// clear empties s (the window jumped past all of it).
func (s *stretch) clear() { *s = stretch{n: s.n} }

// sums returns the arrivals of set's classes in s (with fresh, less the
// returns) and the same weighted by age.
func (s *stretch) sums(set classSet, fresh bool) (x, aged int64) {
	for rest := set; ; {
		c, ok := rest.next()
		if !ok {
			return x, aged
		}
		x += s.arrivals[c]
		aged += s.arrivalsAged[c]
		if fresh {
			x -= s.returns[c]
			aged -= s.returnsAged[c]
		}
	}
}

// track makes w keep a stretch of n slots (1 to numSlots). Call it before
// the first event.
func (w *window) track(n int) {
	n = min(max(n, 1), numSlots)
	for i := range w.stretches {
		if w.stretches[i].n == int64(n) {
			return
		}
	}
	w.stretches = append(w.stretches, stretch{n: int64(n)})
}

// stretchOf returns the stretch of n slots, which track must have set up.
func (w *window) stretchOf(n int64) *stretch {
	for i := range w.stretches {
		if w.stretches[i].n == n {
			return &w.stretches[i]
		}
	}
	panic("pool: window stretch not tracked")
}

// shiftStretches moves every stretch on from head h to h+1 (before the
// slot of h+1, where the oldest slot of a full stretch lies, is reused).
func (w *window) shiftStretches(h int64) {
	in := &w.slots[mod(h)]
	for i := range w.stretches {
		s := &w.stretches[i]
		var out *slot
		if j := h - s.n + 1; j < h {
			if o := &w.slots[mod(j)]; o.idx == j {
				out = o
			}
		}
		s.shift(in, out)
	}
}

// arrival counts an arrival of class c in sl, a slot of w (at returns it:
// in the window), and a return from a date too when returned.
func (w *window) arrival(sl *slot, c class, returned bool) {
	sl.arrivals[c]++
	w.total.arrivals[c]++
	if returned {
		sl.returns[c]++
		w.total.returns[c]++
	}
	age := w.head - sl.idx
	if age < 1 {
		return
	}
	for i := range w.stretches {
		if s := &w.stretches[i]; age < s.n {
			s.arrivals[c]++
			s.arrivalsAged[c] += age
			if returned {
				s.returns[c]++
				s.returnsAged[c] += age
			}
		}
	}
}

// countAt returns the arrivals of set's classes (with fresh, less the
// returns) in the slot of the given age, 0 when it was never written.
func (w *window) countAt(age int64, set classSet, fresh bool) int64 {
	idx := w.head - age
	sl := &w.slots[mod(idx)]
	if sl.idx != idx {
		return 0
	}
	var x int64
	for rest := set; ; {
		c, ok := rest.next()
		if !ok {
			return x
		}
		x += int64(sl.arrivals[c])
		if fresh {
			x -= int64(sl.returns[c])
		}
	}
}

// arrivalsWithin returns the arrivals of set's classes (with fresh, less
// the returns) in the n newest slots, the head's included: O(classes). n
// must be tracked.
func (w *window) arrivalsWithin(n int64, set classSet, fresh bool) int64 {
	x, _ := w.stretchOf(n).sums(set, fresh)
	return x + w.countAt(0, set, fresh)
}
