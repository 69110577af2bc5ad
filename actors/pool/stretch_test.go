package pool

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// countWalk returns the arrivals of sl in the classes of set: all of them,
// or with fresh only those who were not back from a date.
func (sl *slot) countWalk(set classSet, fresh bool) float64 {
	var x float64
	for s := set; ; {
		pc, ok := s.next()
		if !ok {
			return x
		}
		x += float64(sl.arrivals[pc])
		if fresh {
			x -= float64(sl.returns[pc])
		}
	}
}

// partnerRateSpanWalk is partnerRateSpan the old way, walking the slots of
// every horizon.
func (e *Estimator) partnerRateSpanWalk(c class, nowKey int64, fresh bool) (lambda, n, span float64) {
	set := partnerClasses[c]
	var total float64
	prev := 0
	end := nowKey
	for i, h := range e.horizons {
		var seg float64
		for j := prev; j < h; j++ {
			idx := e.win.head - int64(j)
			sl := &e.win.slots[mod(idx)]
			if sl.idx != idx {
				continue
			}
			seg += sl.countWalk(set, fresh)
		}
		from := max((e.win.head-int64(h)+1)*e.win.width, e.start)
		segSpan := float64(end-from) / float64(time.Second)
		if segSpan <= 0 {
			break
		}
		if i > 0 && span > 0 {
			want := total / span * segSpan
			r0 := (total + seg) / (span + segSpan)
			v := r0 * segSpan * (1 + segSpan/span)
			if d := seg - want; d*d > consistentZ*consistentZ*max(v, 1) {
				break
			}
		}
		total += seg
		span += segSpan
		prev, end = h, from
	}
	w := e.cfg.PriorWeight * priorFade / (priorFade + total)
	return (w + total) / (w*e.cfg.PriorInterval.Seconds() + span), total, span
}

// partnerTrendOverWalk is partnerTrendOver the old way, walking the m
// newest slots.
func (e *Estimator) partnerTrendOverWalk(c class, nowKey int64, fresh bool, span time.Duration) (slope, z2 float64) {
	set := partnerClasses[c]
	m := int(min((int64(span)+e.win.width-1)/e.win.width, numSlots))
	var sw, st, sr, stt, str, count float64
	for j := range m {
		idx := e.win.head - int64(j)
		sl := &e.win.slots[mod(idx)]
		from := max(idx*e.win.width, e.start)
		to := min((idx+1)*e.win.width, nowKey)
		width := float64(to-from) / float64(time.Second)
		if width <= 0 {
			continue
		}
		var x float64
		if sl.idx == idx {
			x = sl.countWalk(set, fresh)
		}
		t := -float64(nowKey-(from+to)/2) / float64(time.Second)
		sw += width
		st += width * t
		sr += x
		stt += width * t * t
		str += x * t
		count += x
	}
	if sw <= 0 || count < 10 {
		return 0, 0
	}
	tbar := st / sw
	sxx := stt - sw*tbar*tbar
	if sxx <= 0 {
		return 0, 0
	}
	slope = (str - sr*tbar) / sxx
	v := (count / sw) / sxx
	return slope, slope * slope / v
}

// TestStretchSumsMatchTheWalk checks the rate horizons and trend fits
// computed from the window's stretches against a walk of the slots, on
// random histories: arrivals of every class, returns from dates, quiet
// spells, stalls longer than the window, late events into older slots
// (and older than the window), queries at the newest time and behind it,
// for windows whose slots are 15 s, 1 s and an odd number of nanoseconds.
// Horizons must agree exactly (integer counts), trends to float rounding.
func TestStretchSumsMatchTheWalk(t *testing.T) {
	for _, window := range []time.Duration{0, time.Minute, 7*time.Minute + 13*time.Nanosecond} {
		t.Run("window="+window.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(window)))
			var e *Estimator
			width := time.Duration(NewEstimator(EstimatorConfig{Window: window}).win.width)
			now := t0.Add(time.Duration(rng.Int64N(int64(time.Minute))))
			var dated []*Waiter
			id := 0
			checked, whole, short := 0, 0, 0
			for step := range 6000 {
				if step%500 == 0 { // a new pool: fits over its first few slots
					e = NewEstimator(EstimatorConfig{Window: window})
				}
				// Time moves on by a fraction of a slot to a few slots,
				// sometimes by more than the window, and rates drift so
				// that some fits have a slope.
				switch r := rng.IntN(200); {
				case r == 0:
					now = now.Add(numSlots*width + time.Duration(rng.Int64N(int64(numSlots*width))))
				case r < 20:
					now = now.Add(time.Duration(rng.Int64N(int64(4 * width))))
				default:
					now = now.Add(time.Duration(rng.Int64N(int64(width / 4))))
				}
				busy := 1 + int(8*(1+math.Sin(float64(step)/300)))
				for range rng.IntN(busy) {
					at := now
					if rng.IntN(15) == 0 { // a late event, maybe older than the window
						at = now.Add(-time.Duration(rng.Int64N(int64(numSlots * width * 5 / 4))))
					}
					g := Genders[rng.IntN(len(Genders))]
					s := GenderSet(1 + rng.IntN(int(allGenders)))
					switch {
					case len(dated) > 0 && rng.IntN(3) == 0: // back from a date
						i := rng.IntN(len(dated))
						w := dated[i]
						dated[i] = dated[len(dated)-1]
						dated = dated[:len(dated)-1]
						e.arrive(w, at)
					case rng.IntN(2) == 0:
						id++
						w := &Waiter{UserID: "u" + strconv.Itoa(id), Gender: g, Seeking: s}
						e.arrive(w, at)
						e.dated(w, at)
						dated = append(dated, w)
					default:
						e.Arrival(g, s, at)
					}
				}
				if step%7 != 0 {
					continue
				}
				query := now
				if rng.IntN(4) != 0 {
					e.observe(now)
				} else if rng.IntN(2) == 0 { // behind the newest event
					query = now.Add(-time.Duration(rng.Int64N(int64(3 * width))))
				}
				k := timeKey(query)
				for c := range class(numClasses) {
					for _, fresh := range []bool{false, true} {
						l1, n1, s1 := e.partnerRateSpan(c, k, fresh)
						l2, n2, s2 := e.partnerRateSpanWalk(c, k, fresh)
						if l1 != l2 || n1 != n2 || s1 != s2 {
							t.Fatalf("step %d, class %d, fresh %v: rate %v, %v arrivals over %vs; the walk %v, %v over %vs", step, c, fresh, l1, n1, s1, l2, n2, s2)
						}
						checked++
						for _, span := range trendSpans {
							b1, z1 := e.partnerTrendOver(c, k, fresh, span)
							b2, z2 := e.partnerTrendOverWalk(c, k, fresh, span)
							// The slope to within 1e-9 of its standard
							// deviation (slope/sqrt(z2)), or of itself.
							tol := 1e-9 * math.Abs(b2) * (1 + 1/math.Sqrt(max(z2, 1e-300)))
							if math.Abs(b1-b2) > tol || math.Abs(z1-z2) > 1e-8*(1+z2) {
								t.Fatalf("step %d, class %d, fresh %v, span %v: slope %v (z2 %v), the walk %v (z2 %v)", step, c, fresh, span, b1, z1, b2, z2)
							}
							switch {
							case z2 > 0 && e.win.head-e.win.slotOf(e.start) < 4:
								short++ // walked
							case z2 > trendZ*trendZ:
								whole++
							}
						}
					}
				}
			}
			// The history must have had fits over a few slots, and
			// slopes over many that clear trendZ.
			if checked < 10_000 || whole < 1000 || short < 10 {
				t.Fatalf("%d horizons checked; %d fits over many slots cleared trendZ, %d over a few had a slope", checked, whole, short)
			}
			t.Logf("%d horizons checked; %d fits over many slots cleared trendZ, %d over a few had a slope", checked, whole, short)
		})
	}
}
