package pool

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The figures were checked by the simulator: 3 men and 1 woman a second,
// patience 45 s, gives men a median wait of 48 s, and with 1,800 more women
// an hour (3 men and 1.5 women a second) 30.5 s.
func TestWhatIfMatchesTheSimulatedPool(t *testing.T) {
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	start := t0.Add(-15 * time.Minute)
	e.MatchFormed(start)
	arrive(e, Male, sF, 2700, 15*time.Minute, t0)
	arrive(e, Female, sM, 900, 15*time.Minute, t0)
	// 90 men wait throughout and two of them leave a second (each is
	// replaced): 1/45 s each, over 81,000 s at risk.
	for i := range 90 {
		w := wt("q"+strconv.Itoa(i), Male, sF, 0)
		w.EnqueuedAt = start
		p.Insert(w, start)
	}
	for i := range 1800 {
		at := start.Add(time.Duration(i+1) * 500 * time.Millisecond)
		id := "q" + strconv.Itoa(i%90)
		p.Leave(id, at)
		w := wt(id, Male, sF, 0)
		w.EnqueuedAt = at
		p.Insert(w, at)
	}
	for i := range 90 {
		p.Take("q"+strconv.Itoa(i), t0)
	}
	got := p.WhatIf(Female, 1800, t0)
	men := got[Male]
	if !within(men.Now, 48*time.Second, 0.1) || !within(men.Then, 30500*time.Millisecond, 0.1) {
		t.Errorf("men's median %v -> %v; the simulator measured 48s -> 30.5s", men.Now, men.Then)
	}
	if w := got[Female]; w.Now != 0 || w.Then != 0 {
		t.Errorf("women's median %v -> %v; want 0 (men are waiting for them)", w.Now, w.Then)
	}
	st := p.Stats(t0) // nobody queued: no gender is scarce now
	if len(st.WhatIf) != 0 {
		t.Errorf("what-ifs without a scarce gender: %+v", st.WhatIf)
	}
	for i := range 12 {
		w := wt("m"+string(rune('a'+i)), Male, sF, 0)
		w.EnqueuedAt = t0
		p.Join(w, false, t0)
	}
	st = p.Stats(t0)
	if len(st.WhatIf) != 3 || st.WhatIf[0].Gender != Female || st.WhatIf[0].MorePerHour != 900 || st.WhatIf[1].MorePerHour != 1800 || st.WhatIf[2].MorePerHour != 4000 {
		t.Fatalf("what-ifs = %+v; want women +900, +1800, +4000 an hour", st.WhatIf)
	}
	found := false
	for _, r := range st.Recommendations {
		if strings.HasPrefix(r, "If 1800 more women an hour joined this pool, men's median wait would go from ") {
			found = true
		}
	}
	if !found {
		t.Errorf("no what-if among the recommendations: %q", st.Recommendations)
	}
}

func TestRoundNice(t *testing.T) {
	for in, want := range map[float64]float64{0.3: 1, 7.4: 7, 12.4: 12, 37: 40, 149: 150, 310: 300, 3600: 4000} {
		if got := roundNice(in); got != want {
			t.Errorf("roundNice(%v) = %v, want %v", in, got, want)
		}
	}
}

// lineMedianRef is the what-if's line median the long way (the first
// version's): every state with mass above e^-40 of the largest, each with
// its own median, sorted. limit bounds the states on each side.
func lineMedianRef(own, partners, gOwn, gPartner float64, limit int) float64 {
	gOwn, gPartner = max(gOwn, 1e-9), max(gPartner, 1e-9)
	type state struct{ n, logp float64 }
	states := []state{{0, 0}}
	lp := 0.0
	for n := 0; n < limit; n++ {
		lp += math.Log(own) - math.Log(partners+float64(n+1)*gOwn)
		states = append(states, state{float64(n + 1), lp})
		if lp < -40 && float64(n) > own/gOwn {
			break
		}
	}
	lp = 0
	for n := 0; n > -limit; n-- {
		lp += math.Log(partners) - math.Log(own+float64(-n+1)*gPartner)
		states = append(states, state{float64(n - 1), lp})
		if lp < -40 && float64(-n) > partners/gPartner {
			break
		}
	}
	top := math.Inf(-1)
	for _, s := range states {
		top = max(top, s.logp)
	}
	type point struct{ wait, w float64 }
	var pts []point
	var total float64
	for _, s := range states {
		pi := math.Exp(s.logp - top)
		if pi < 1e-12 {
			continue
		}
		if s.n < 0 {
			pts = append(pts, point{0, pi})
			total += pi
			continue
		}
		k := int(s.n) + 1
		w := pi * partners / (partners + float64(k)*gOwn)
		s1, s2 := stageSums(k, partners+gOwn, gOwn, 0)
		pts = append(pts, point{gammaQuantile(s1, s2, 0.5), w})
		total += w
	}
	slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.wait, b.wait) })
	var acc float64
	for _, pt := range pts {
		acc += pt.w
		if acc >= total/2 {
			return pt.wait
		}
	}
	return 0
}

// TestLineMedianIsBoundedAndExact: the what-if's line median costs a
// bounded number of evaluations (and no allocation) whatever the rates,
// including a side nobody has been seen to leave (the rate of leaving near
// zero: a steady line of millions, which the first version walked to its
// 20,000-state cap, 90 ms for 100 such pools in the admin snapshot), and
// agrees with the state-by-state computation: exactly where the line is
// short enough to walk, within 1% where it is summed in blocks.
func TestLineMedianIsBoundedAndExact(t *testing.T) {
	rates := []float64{0.05, 0.3, 1, 3, 3.6}
	leaves := []float64{1e-9, 1e-6, 1.0 / 3000, 1.0 / 300, 1.0 / 45, 1.0 / 20}
	const bound = lineExact + lineBlocks + 300 // per side: the bulk and the search for it
	for _, own := range rates {
		for _, partners := range rates {
			for _, gOwn := range leaves {
				for _, gPartner := range leaves {
					got, steps := lineMedianSteps(own, partners, gOwn, gPartner)
					if steps > 2*bound {
						t.Errorf("lineMedian(%v, %v, %v, %v) took %d steps, want at most %d", own, partners, gOwn, gPartner, steps, 2*bound)
					}
					// The reference walks every state: only where that is a
					// few hundred thousand at most.
					if own/gOwn > 2e5 || partners/gPartner > 2e5 {
						continue
					}
					want := lineMedianRef(own, partners, gOwn, gPartner, 10_000_000)
					tol := 1e-9
					if own/gOwn > 3000 || partners/gPartner > 3000 {
						tol = 0.01 // blocks
					}
					// A balanced line has half its newcomers paired at once:
					// its median is on a knife edge, 0 or one stage.
					tie := own == partners && gOwn == gPartner && (got == 0 || want == 0)
					if math.Abs(got-want) > tol*max(want, 1e-3) && !tie {
						t.Errorf("lineMedian(%v, %v, %v, %v) = %v, state by state %v", own, partners, gOwn, gPartner, got, want)
					}
				}
			}
		}
	}
	if a := testing.AllocsPerRun(10, func() { lineMedian(3, 1, 1e-9, 1.0/45) }); a != 0 {
		t.Errorf("lineMedian allocates %v times a call", a)
	}
}
