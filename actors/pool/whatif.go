package pool

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// WhatIfWait is a median wait now and after a what-if.
type WhatIfWait struct{ Now, Then time.Duration }

// WhatIf is one admin what-if: the median waits by gender now and if
// MorePerHour more people of Gender joined the pool each hour.
type WhatIf struct {
	Gender      Gender
	MorePerHour float64
	P50         map[Gender]WhatIfWait
}

// maxLine bounds the line lengths the what-if model considers.
const maxLine = 20_000

// WhatIf returns what the median wait of each gender in use would become if
// morePerHour more people of gender g joined the pool each hour (seeking
// what g's arrivals usually seek), now and then, by the same model as the
// estimates, taken to its steady state.
//
// The model. For a gender h and the genders it seeks, the line is a
// two-sided birth-death process: n > 0 people of h wait, or -n partners do.
// An arrival of h pairs with a waiting partner or joins; a partner arriving
// pairs with the head of h's line or joins; each waiter leaves at their
// side's rate of leaving. Its stationary law follows from detailed balance.
// A newcomer of h who finds n of their own ahead waits the stages of the
// estimates (n+1 of them, conditional on being matched), and one who finds
// partners waiting is paired at once; the median wait of h is the median of
// that mixture over the matched newcomers (by the per-state medians).
// Rates are those of the whole window, since a what-if is about a pool's
// usual traffic rather than its last minute.
func (p *Pool) WhatIf(g Gender, morePerHour float64, now time.Time) map[Gender]WhatIfWait {
	return p.whatIf(g, morePerHour, now, nil)
}

// lineMemo remembers lineMedian's answers within one whatIfs call, so the
// "now" of each gender is computed once for all the amounts asked about.
type lineMemo map[[4]float64]float64

func (m lineMemo) median(own, partners, gOwn, gPartner float64) float64 {
	if m == nil {
		return lineMedian(own, partners, gOwn, gPartner)
	}
	k := [4]float64{own, partners, gOwn, gPartner}
	if v, ok := m[k]; ok {
		return v
	}
	v := lineMedian(own, partners, gOwn, gPartner)
	m[k] = v
	return v
}

// whatIf is WhatIf, with a memo for repeated lines (nil for none).
func (p *Pool) whatIf(g Gender, morePerHour float64, now time.Time, memo lineMemo) map[Gender]WhatIfWait {
	e := p.est
	span := e.observe(now).Seconds()
	out := map[Gender]WhatIfWait{}
	if !g.Valid() || span <= 0 {
		return out
	}
	extra := max(morePerHour, 0) / 3600
	gs := e.usualSeeking(g)
	for _, h := range Genders {
		hs := e.usualSeeking(h)
		if _, all := e.arrivalsOf(h, hs); all == 0 && p.q.Count(h) == 0 {
			continue
		}
		var ownRate, partnerRate, extraPartner, extraOwn float64
		for _, o := range Genders {
			if o == h || !hs.Has(o) {
				continue
			}
			acc, _ := e.arrivalsOf(o, SetOf(h))
			partnerRate += float64(acc) / span
			if o == g && gs.Has(h) {
				extraPartner += extra
			}
		}
		own, _ := e.arrivalsOf(h, hs)
		ownRate = float64(own) / span
		if h == g {
			extraOwn = extra
		}
		if ownRate+extraOwn <= 0 || partnerRate+extraPartner <= 0 {
			continue // no traffic on one side: no steady state to speak of
		}
		gh, gp := e.genderLeaveRate(h, now), e.partnersLeaveRate(hs&^SetOf(h), now)
		before, after := memo.median(ownRate, partnerRate, gh, gp), memo.median(ownRate+extraOwn, partnerRate+extraPartner, gh, gp)
		if math.IsInf(before, 0) || math.IsInf(after, 0) {
			continue
		}
		out[h] = WhatIfWait{Now: seconds(before), Then: seconds(after)}
	}
	return out
}

// genderLeaveRate is leaveRate over every class of gender h.
func (e *Estimator) genderLeaveRate(h Gender, now time.Time) float64 {
	var set classSet
	for s := GenderSet(1); s <= allGenders; s++ {
		c, _ := classOf(h, s)
		set |= 1 << c
	}
	return e.leaveRateOf(set, now)
}

// partnersLeaveRate is leaveRate over every class of the genders of s.
func (e *Estimator) partnersLeaveRate(s GenderSet, now time.Time) float64 {
	var set classSet
	for _, g := range Genders {
		if !s.Has(g) {
			continue
		}
		for m := GenderSet(1); m <= allGenders; m++ {
			c, _ := classOf(g, m)
			set |= 1 << c
		}
	}
	return e.leaveRateOf(set, now)
}

// lineMedian returns the steady-state median wait (seconds) of the matched
// newcomers of a side arriving at rate own, served by partners arriving at
// rate partners, each waiter leaving at rate gOwn (own side) or gPartner.
func lineMedian(own, partners, gOwn, gPartner float64) float64 {
	if own <= 0 {
		return 0
	}
	if partners <= 0 {
		return math.Inf(1)
	}
	gOwn, gPartner = max(gOwn, 1e-9), max(gPartner, 1e-9)
	// log pi(n) by detailed balance from pi(0), over n in [-maxLine, maxLine],
	// stopping where the probability is negligible.
	type state struct{ n, logp float64 }
	states := []state{{0, 0}}
	lp := 0.0
	for n := 0; n < maxLine; n++ { // n -> n+1: an own arrival joins; down: a partner arrives or one of n+1 leaves
		lp += math.Log(own) - math.Log(partners+float64(n+1)*gOwn)
		states = append(states, state{float64(n + 1), lp})
		if lp < -40 && float64(n) > own/gOwn {
			break
		}
	}
	lp = 0
	for n := 0; n > -maxLine; n-- { // n -> n-1: a partner arrival joins; up: an own arrival or one of |n-1| partners leaves
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
	// Weights of matched newcomers: an arrival sees n (PASTA); with n >= 0
	// of its own side ahead it is matched with probability
	// partners/(partners+(n+1)gOwn) and waits a median of the stages.
	type point struct{ wait, w float64 }
	pts := make([]point, 0, len(states))
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
	slices.SortFunc(pts, func(a, b point) int {
		switch {
		case a.wait < b.wait:
			return -1
		case a.wait > b.wait:
			return 1
		}
		return 0
	})
	var acc float64
	for _, pt := range pts {
		acc += pt.w
		if acc >= total/2 {
			return pt.wait
		}
	}
	return 0
}

// whatIfs returns the pool's what-ifs for the admin snapshot: for the
// scarce gender, a quarter, a half and all again of its current arrivals per
// hour (rounded), or none when no gender is scarce.
func (p *Pool) whatIfs(scarce Gender, now time.Time) []WhatIf {
	if !scarce.Valid() {
		return nil
	}
	e := p.est
	span := e.observe(now).Seconds()
	if span <= 0 {
		return nil
	}
	_, n := e.arrivalsOf(scarce, allGenders)
	perHour := float64(n) / span * 3600
	var out []WhatIf
	memo := lineMemo{}
	last := 0.0
	for _, f := range []float64{0.25, 0.5, 1} {
		more := roundNice(max(perHour*f, 1))
		if more <= last {
			continue
		}
		last = more
		out = append(out, WhatIf{Gender: scarce, MorePerHour: more, P50: p.whatIf(scarce, more, now, memo)})
	}
	return out
}

// roundNice rounds x to one significant digit (two from 10 up to 20): 7,
// 12, 40, 300.
func roundNice(x float64) float64 {
	if x < 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	if x/p < 2 {
		p /= 10
	}
	return math.Max(1, math.Round(x/p)*p)
}

// whatIfSentence says the first what-if in words for the recommendations:
// "If 40 more women an hour joined this pool, men's median wait would go
// from 3m0s to 1m10s."
func whatIfSentence(w WhatIf) string {
	for _, h := range Genders {
		if h == w.Gender {
			continue
		}
		nt, ok := w.P50[h]
		if !ok || nt.Now < 2*time.Second || nt.Now == nt.Then {
			continue
		}
		return fmt.Sprintf("If %.0f more %s an hour joined this pool, %s's median wait would go from %s to %s.",
			w.MorePerHour, w.Gender.Plural(), h.Plural(), human(nt.Now), human(nt.Then))
	}
	return ""
}
