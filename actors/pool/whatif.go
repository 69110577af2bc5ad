package pool

import (
	"fmt"
	"math"
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
		before := memo.median(ownRate, partnerRate, gh, gp)
		if math.IsInf(before, 0) {
			continue // no partners now: no steady state to compare with
		}
		after := memo.median(ownRate+extraOwn, partnerRate+extraPartner, gh, gp)
		if math.IsInf(after, 0) {
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
	m, _ := lineMedianSteps(own, partners, gOwn, gPartner)
	return m
}

// The stationary law of the line, and what it costs. With n > 0 of the own
// side waiting, pi(n)/pi(0) = t(n) = prod_{i=1..n} own/(partners + i gOwn);
// with m partners waiting, u(m) = prod_{i=1..m} partners/(own + i gPartner).
// A newcomer finding m partners is paired at once; one finding n >= 0 of
// their own is matched with probability partners/(partners + (n+1) gOwn),
// and pi(n) times that is pi(n+1) partners/own: the matched newcomers who
// wait k stages weigh (partners/own) t(k). The per-k median wait grows with
// k, so the median over the matched is the wait at the k where these
// weights, after the U = sum u(m) paired at once, cross half of
// W = U + (partners/own) T, T = sum t(k): one quantile of the law of n.
//
// Each side is log-concave with its bulk near (up - down)/g, about
// sqrt(up/g) wide, and t has a closed form (a ratio of Gamma functions), so
// the bulk is found by doubling from the mode (O(log) evaluations) rather
// than by walking to it. A bulk of at most lineExact states is summed state
// by state (one multiplication each); a wider one (a line that barely
// leaves: hundreds of thousands of waiters at steady state) in lineBlocks
// blocks, geometric within each between its exact end points, which is
// within a fraction of a percent there since a block is a small part of the
// bulk's width. Either way a call costs a bounded, small amount: per side
// at most lineExact + lineBlocks + a few hundred evaluations, and no
// allocation. (The first version walked every state up to a 20,000 cap
// and sorted them: 100 pools whose waiters had not been seen to leave took
// 64-98 ms in the admin snapshot.)
const (
	lineExact  = 1024
	lineBlocks = 128
	lineTail   = 40 // ln of the mass ratio below which states are ignored
)

// lineSide is one side of the line: t(j) = prod_{i=1..j} up/(down + i g).
type lineSide struct{ up, down, g float64 }

// logTerm is ln t(j), in closed form.
func (s lineSide) logTerm(j float64) float64 {
	return j*math.Log(s.up/s.g) - lnGammaRatio(s.down/s.g+1, j)
}

// lnGammaRatio returns ln Gamma(a+j) - ln Gamma(a) = sum_{i<j} ln(a+i),
// a > 0 and j a whole number >= 0, without the cancellation of two large
// lgammas: small a are stepped up and short products summed directly.
func lnGammaRatio(a, j float64) float64 {
	var d float64
	for j > 0 && (a < asymptoticFrom || j < 16) {
		d += math.Log(a)
		a++
		j--
	}
	if j <= 0 {
		return d
	}
	// Stirling: ln Gamma(x) = (x-1/2) ln x - x + ln(2 pi)/2 + st(x); the
	// difference taken as (a-1/2) log1p(j/a) + j ln(a+j) - j.
	b := a + j
	st := func(x float64) float64 {
		x2 := 1 / (x * x)
		return (1 / x) * (1.0/12 - x2*(1.0/360-x2/1260))
	}
	return d + (a-0.5)*math.Log1p(j/a) + j*math.Log(b) - j + st(b) - st(a)
}

// sideLaw is one side's law over its bulk, in blocks of s states from lo,
// each block's mass relative to e^peak.
type sideLaw struct {
	lo, s, peak, total float64
	n                  int
	mass               [lineExact]float64
	logAt              [lineBlocks + 1]float64 // ln t over e^peak at the blocks' bounds (s > 1)
	steps              int
}

// law fills l with side s's law over its bulk.
func (s lineSide) law(l *sideLaw) {
	mode := math.Floor((s.up - s.down) / s.g)
	mode = min(max(mode, 1), 1e15)
	l.peak = s.logTerm(mode)
	l.steps = 1
	far := func(j float64) bool { l.steps++; return s.logTerm(j) < l.peak-lineTail }
	d := 1.0
	for !far(mode + d) {
		d *= 2
	}
	hi := mode + d
	d = 1
	for mode-d >= 1 && !far(mode-d) {
		d *= 2
	}
	lo := max(mode-d, 1)
	l.lo, l.total = lo, 0
	if span := hi - lo + 1; span <= lineExact {
		l.s, l.n = 1, int(span)
		v := math.Exp(s.logTerm(lo) - l.peak)
		for i := range l.n {
			if i > 0 {
				v *= s.up / (s.down + (lo+float64(i))*s.g)
			}
			l.mass[i] = v
			l.total += v
		}
		l.steps += l.n
		return
	}
	l.n = lineBlocks
	l.s = math.Ceil((hi - lo + 1) / lineBlocks)
	for i := range l.n + 1 {
		l.logAt[i] = s.logTerm(lo+float64(i)*l.s) - l.peak
	}
	for i := range l.n {
		l.mass[i] = math.Exp(l.logAt[i]) * geomSum((l.logAt[i+1]-l.logAt[i])/l.s, l.s)
		l.total += l.mass[i]
	}
	l.steps += l.n + 1
}

// geomSum is sum_{i<n} e^{i delta}.
func geomSum(delta, n float64) float64 {
	if math.Abs(delta) < 1e-12 {
		return n
	}
	return math.Expm1(n*delta) / math.Expm1(delta)
}

// quantile returns the least j whose cumulative mass (over e^peak) reaches
// target.
func (l *sideLaw) quantile(target float64) float64 {
	var acc float64
	for i := range l.n {
		if acc+l.mass[i] < target && i < l.n-1 {
			acc += l.mass[i]
			continue
		}
		j0 := l.lo + float64(i)*l.s
		if l.s == 1 {
			return j0
		}
		// Within the block: the least m with sum_{i<m} e^{at + i delta} >= rest.
		at := l.logAt[i]
		delta, rest := (l.logAt[i+1]-at)/l.s, (target-acc)/math.Exp(at)
		var m float64
		if math.Abs(delta) < 1e-12 {
			m = math.Ceil(rest)
		} else {
			m = math.Ceil(math.Log1p(rest*math.Expm1(delta)) / delta)
		}
		if math.IsNaN(m) {
			m = l.s
		}
		return j0 + min(max(m, 1), l.s) - 1
	}
	return l.lo
}

// lineMedianSteps is lineMedian, with the number of states and closed-form
// terms it evaluated (bounded: see lineExact).
func lineMedianSteps(own, partners, gOwn, gPartner float64) (float64, int) {
	if own <= 0 {
		return 0, 0
	}
	if partners <= 0 {
		return math.Inf(1), 0
	}
	gOwn, gPartner = max(gOwn, 1e-9), max(gPartner, 1e-9)
	var pos, neg sideLaw
	lineSide{own, partners, gOwn}.law(&pos)
	lineSide{partners, own, gPartner}.law(&neg)
	steps := pos.steps + neg.steps
	lU := neg.peak + math.Log(neg.total)
	lr := math.Log(partners / own)
	lT := lr + pos.peak + math.Log(pos.total)
	top := max(lU, lT)
	lW := top + math.Log(math.Exp(lU-top)+math.Exp(lT-top))
	if lU > lW-math.Ln2+1e-9 {
		return 0, steps // more than half are paired at once
	}
	// (W/2 - U) own/partners over e^peak of the own side (a tie, a balanced
	// line, is read as the first state that waits, as the first version did).
	target := math.Exp(lW + math.Log(max(0.5-math.Exp(lU-lW), 0)) - lr - pos.peak)
	k := pos.quantile(target)
	s1, s2 := stageSums(int(k), partners+gOwn, gOwn, 0)
	return gammaQuantile(s1, s2, 0.5), steps
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
