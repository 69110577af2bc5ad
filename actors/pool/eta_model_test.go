package pool

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A long line whose waiters often give up moves much faster than one
// partner per place: the estimate counts those who leave.
func TestEstimateCountsLeaving(t *testing.T) {
	start := t0.Add(-15 * time.Minute)
	e := NewEstimator(EstimatorConfig{}) // no queue: a finished wait is its time at risk
	e.MatchFormed(start)
	arrive(e, Female, sM, 90, 15*time.Minute, t0) // one woman per 10 s
	// 600 men gave up after 60 s each over the window: gamma = 1/60s.
	for i := range 600 {
		at := start.Add(time.Duration(i) * 1500 * time.Millisecond)
		e.Finished(Male, sF, time.Minute, false, at)
	}
	eta := e.Estimate(wt("m", Male, sF, 0), 50, map[Gender]int{Male: 50}, t0)
	// Without leaving: Gamma(50, 0.1/s), P50 near 497s. With it the stages
	// are 0.1 + j/60 per second: about 60*ln((0.1+50/60)/0.1) = 134s.
	if eta.P50 < 90*time.Second || eta.P50 > 180*time.Second {
		t.Errorf("P50 = %v, want about 134s (not the 497s of a line nobody leaves)", eta.P50)
	}
	if !strings.Contains(eta.Reason, "leave before a match") {
		t.Errorf("reason = %q, want it to say those ahead leave", eta.Reason)
	}
}

// A rush is followed within a minute or two, and its end too.
func TestEstimateFollowsRush(t *testing.T) {
	e := NewEstimator(EstimatorConfig{})
	c := mustClass(t, Male, sF)
	quietEnd := t0.Add(-2 * time.Minute)
	e.MatchFormed(quietEnd.Add(-13 * time.Minute))
	arrive(e, Female, sM, 78, 13*time.Minute, quietEnd) // one per 10 s
	arrive(e, Female, sM, 120, 2*time.Minute, t0)       // the rush: one per second
	if l, _ := e.partnerRate(c, timeKey(t0)); l < 0.7 || l > 1.3 {
		t.Errorf("in the rush: rate %.2f/s, want about 1/s", l)
	}
	after := t0.Add(2 * time.Minute)
	arrive(e, Female, sM, 12, 2*time.Minute, after) // quiet again
	if l, _ := e.partnerRate(c, timeKey(after)); l > 0.2 {
		t.Errorf("after the rush: rate %.2f/s, want about 0.1/s", l)
	}
}

// The hazard of leaving is learned by age: people who have waited long
// and are still there are less likely to leave than newcomers.
func TestHazardByAge(t *testing.T) {
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	now := t0
	// Everyone who leaves does so in their first 20 s; those left waiting
	// for minutes stay.
	for i := range 200 {
		w := wt("u"+strconv.Itoa(i), Male, sF, 0)
		w.EnqueuedAt = now.Add(-time.Duration(i%10) * time.Minute)
		p.Insert(w, now)
	}
	for range 300 {
		now = now.Add(time.Second)
		p.Updates(now, func(*Waiter, int, ETA, map[Gender]int) {})
		e.Finished(Male, sF, 10*time.Second, false, now)
	}
	young, old := e.hazardRatio(Male, 0, 20), e.hazardRatio(Male, 600, 60)
	if young < 2 || old > 0.5 {
		t.Errorf("hazard ratio at 0s %.2f (want > 2), at 10m %.2f (want < 0.5)", young, old)
	}
}

func TestReasonSpans(t *testing.T) {
	for _, tt := range []struct {
		lo, hi time.Duration
		want   string
	}{
		{0, time.Second, "almost at once"},
		{10 * time.Second, 40 * time.Second, "within 10 to 40 seconds"},
		{40 * time.Second, 40 * time.Second, "within about 40 seconds"},
		{40 * time.Second, 3 * time.Minute, "within 40 seconds to 3 minutes"},
		{70 * time.Second, 170 * time.Second, "within 1 to 3 minutes"},
		{2 * time.Hour, 3 * time.Hour, "within 2 to 3 hours"},
	} {
		if got := string(appendSpan(nil, tt.lo, tt.hi)); got != tt.want {
			t.Errorf("appendSpan(%v, %v) = %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
	r := reason(reasonInput{gender: Male, seeking: sF, position: 7, queued: true,
		waiting: map[Gender]int{Male: 12, Female: 0}, usualLo: 70 * time.Second, usualHi: 170 * time.Second})
	if want := "12 men are waiting and no women right now. Men here are usually matched within 1 to 3 minutes. You are 7th in line."; r != want {
		t.Errorf("reason = %q\nwant     %q", r, want)
	}
}

func TestPoolJoinLeaveUpdates(t *testing.T) {
	p := NewPool(PoolConfig{WaitUpdateMax: 5 * time.Second})
	m1, m2 := wt("m1", Male, sF, 0), wt("m2", Male, sF, 0)
	m1.EnqueuedAt, m2.EnqueuedAt = t0, t0.Add(time.Second)
	if p.Join(m1, true, t0) != nil || p.Join(m2, true, t0.Add(time.Second)) != nil {
		t.Fatal("two men paired with nobody")
	}
	if pos, _, ok := p.Status("m2", t0.Add(time.Second)); !ok || pos != 2 {
		t.Fatalf("m2 at %d, want 2", pos)
	}
	var told []string
	tick := func(at time.Time) {
		told = told[:0]
		p.Updates(at, func(w *Waiter, pos int, _ ETA, _ map[Gender]int) { told = append(told, w.UserID+":"+strconv.Itoa(pos)) })
	}
	tick(t0.Add(2 * time.Second))
	if len(told) != 0 {
		t.Errorf("nothing changed, yet updates went to %v", told)
	}
	if _, ok := p.Leave("m1", t0.Add(3*time.Second)); !ok {
		t.Fatal("m1 could not leave")
	}
	tick(t0.Add(3 * time.Second))
	if strings.Join(told, ",") != "m2:1" {
		t.Errorf("after m1 left: updates %v, want m2:1", told)
	}
	tick(t0.Add(9 * time.Second))
	if strings.Join(told, ",") != "m2:1" {
		t.Errorf("after 5s: updates %v, want m2:1 again", told)
	}
	w := wt("w", Female, sM, 0)
	w.EnqueuedAt = t0.Add(10 * time.Second)
	if got := p.Join(w, true, w.EnqueuedAt); got == nil || got.UserID != "m2" {
		t.Fatalf("the woman was paired with %v, want m2", got)
	}
	if p.Queue().Len() != 0 {
		t.Errorf("%d still queued", p.Queue().Len())
	}
}

// When recent waits overran the P90 they were told more than one in ten
// times, P90 is told further out; P50 stays the model's.
func TestRecalibrateWidensP90(t *testing.T) {
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	e.MatchFormed(t0.Add(-15 * time.Minute))
	arrive(e, Female, sM, 90, 15*time.Minute, t0)
	man := wt("m", Male, sF, 0)
	before := e.Estimate(man, 30, nil, t0)
	for range 400 { // every wait ran to twice the model's mean
		e.Recalibrate(Male, before, time.Duration(2*before.mean*float64(time.Second)))
	}
	after := e.Estimate(man, 30, nil, t0)
	if after.P50 != before.P50 || after.P90 <= before.P90+before.P90/10 {
		t.Errorf("before %v/%v, after %v/%v: want the same P50 and a P90 over 10%% longer", before.P50, before.P90, after.P50, after.P90)
	}
	for range 600 { // now they all came in early: P90 goes back to the model's
		e.Recalibrate(Male, before, time.Duration(0.5*before.mean*float64(time.Second)))
	}
	if back := e.Estimate(man, 30, nil, t0); back.P90 != before.P90 {
		t.Errorf("after early waits P90 = %v, want the model's %v", back.P90, before.P90)
	}
}

// A zero time on the first tick leaves the life table alone (it used to
// overflow the gap and poison the table with NaN for good).
func TestAccrueIgnoresZeroTime(t *testing.T) {
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	e.MatchFormed(t0.Add(-time.Minute))
	arrive(e, Female, sM, 6, time.Minute, t0)
	w := wt("m", Male, sF, 0)
	w.EnqueuedAt = t0
	p.Insert(w, t0)
	p.Updates(time.Time{}, func(*Waiter, int, ETA, map[Gender]int) {})
	p.Updates(t0.Add(time.Second), func(*Waiter, int, ETA, map[Gender]int) {})
	e.Finished(Male, sF, 3*time.Second, false, t0.Add(2*time.Second))
	p.Updates(t0.Add(3*time.Second), func(*Waiter, int, ETA, map[Gender]int) {})
	if r := e.hazardRatio(Male, 0, 10); math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
		t.Fatalf("hazard ratio %v", r)
	}
	if _, eta, _ := p.Status("m", t0.Add(3*time.Second)); eta.P50 <= 0 {
		t.Errorf("P50 = %v after a zero-time tick", eta.P50)
	}
}

// A place re-announced long after its spin (its pool moved) is judged on
// the wait since it was told, not since the spin.
func TestRecalibrateUsesTheWaitSinceTold(t *testing.T) {
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	e.MatchFormed(t0.Add(-15 * time.Minute))
	arrive(e, Female, sM, 90, 15*time.Minute, t0)
	for i := range 40 {
		m := wt("m"+strconv.Itoa(i), Male, sF, 0)
		m.EnqueuedAt = t0.Add(-time.Hour) // spun an hour ago, announced now
		p.Join(m, false, t0)
	}
	for i := range 40 {
		w := wt("w"+strconv.Itoa(i), Female, sM, 0)
		w.EnqueuedAt = t0.Add(time.Duration(i+1) * time.Second)
		p.Join(w, true, w.EnqueuedAt)
	}
	if z := e.spread[Male].z90; z > 2*modelZ90 {
		t.Errorf("z90 = %.1f: the hour before the announcement was taken for a wait", z)
	}
}

// fluidLine fills gender g's life table: ahead[b] waiting in age band b,
// and per band the departures over the time at risk that give hazard[b]
// (per second) over a large exposure.
func fluidLine(e *Estimator, g Gender, hazard []float64, ahead []int) {
	t := &e.life[g]
	for b := range ageGrid {
		t.exposure[b] = 1e6
		t.left[b] = hazard[b] * 1e6
		t.waiting[b] = ahead[b]
	}
}

func TestFluidRatio(t *testing.T) {
	bands := len(ageGrid)
	flat := make([]float64, bands)
	falling := make([]float64, bands)
	ahead := make([]int, bands)
	for b := range bands {
		flat[b] = 1.0 / 120
		// Newcomers leave readily, the long-waiting rarely (lognormal-like).
		falling[b] = 0.05 / (1 + ageGrid[b]/10)
		if ageGrid[b] <= 240 {
			ahead[b] = 30
		}
	}
	k := 1
	for _, n := range ahead {
		k += n
	}
	e := NewEstimator(EstimatorConfig{})
	fluidLine(e, Male, flat, ahead)
	if r := e.fluidRatio(Male, 0, k, 0.7, 1.0/120, 1.0/120); r != 1 {
		t.Errorf("one hazard at every age: ratio %v, want exactly 1", r)
	}
	if r := e.fluidRatio(Male, 0, 1, 0.7, 0.01, 0.01); r != 1 {
		t.Errorf("first in line: ratio %v, want 1", r)
	}
	fluidLine(e, Male, falling, ahead)
	// The stages' one rate is the mean over those ahead of their hazard
	// over the whole wait (aheadRatio); those about to be served only need
	// to stay a few seconds: the fluid line moves faster.
	var sum float64
	for b := range bands {
		sum += falling[b]
	}
	all := sum / float64(bands)               // equal exposure in every band
	first, _ := stageSums(k, 0.7+all, all, 0) // the horizon, as stages takes it
	gamma := all * e.aheadRatio(Male, 0, first)
	r := e.fluidRatio(Male, 0, k, 0.7, all, gamma)
	// The same fluid line one waiter at a time, each at their band's
	// middle age, with the hazard (after the life table's prior) exactly
	// integrated: the chunks of fluidRatio lose little.
	prior := lifePrior / all
	h := func(b int) float64 { return all * (falling[b]*1e6 + lifePrior) / (1e6 + prior) / all }
	H := func(x float64) float64 { // cumulative hazard from 0 to x
		var c float64
		for b := range bands {
			hi := math.Inf(1)
			if b+1 < bands {
				hi = ageGrid[b+1]
			}
			if x > ageGrid[b] {
				c += h(b) * (min(x, hi) - ageGrid[b])
			}
		}
		return c
	}
	var fluid, flatT float64
	for b := bands - 1; b >= 0; b-- {
		a := ageGrid[b]
		if b+1 < bands {
			a = (ageGrid[b] + ageGrid[b+1]) / 2
		}
		for range ahead[b] {
			fluid += math.Exp(-(H(a+fluid) - H(a))) / 0.7
			flatT += math.Exp(-gamma*flatT) / 0.7
		}
	}
	want := (fluid + 1/0.7) / (flatT + 1/0.7)
	t.Logf("falling hazard: stages' horizon %.0f s, ratio %.3f, one waiter at a time %.3f", first, r, want)
	if math.Abs(r-want) > 0.02*want {
		t.Errorf("ratio %.4f, one waiter at a time %.4f", r, want)
	}
	if r >= 1 {
		t.Errorf("hazard falling with age: ratio %v, want below 1", r)
	}
	// Hazards that differ only by noise: no correction.
	for b := range bands {
		e.life[Male].exposure[b] = 1000
		e.life[Male].left[b] = 8 + float64(b%3) // about 1 in 100 s, Poisson-sized noise
	}
	if r := e.fluidRatio(Male, 0, k, 0.7, 0.009, 0.009); r != 1 {
		t.Errorf("hazards equal but for noise: ratio %v, want 1", r)
	}
}
