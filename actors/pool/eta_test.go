package pool

import (
	"math"
	"strings"
	"testing"
	"time"
)

// arrive records n arrivals of gender g seeking s, evenly spread over the
// interval ending at end.
func arrive(e *Estimator, g Gender, s GenderSet, n int, over time.Duration, end time.Time) {
	for i := range n {
		e.Arrival(g, s, end.Add(-over+time.Duration(i+1)*over/time.Duration(n)))
	}
}

// secs converts x seconds to a Duration.
func secs(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }

func within(got, want time.Duration, tol float64) bool {
	return math.Abs(float64(got-want)) <= tol*float64(want)
}

func TestEstimatePriorOnly(t *testing.T) {
	e := NewEstimator(EstimatorConfig{})
	man := wt("m", Male, sF, 0)
	eta := e.Estimate(man, 1, map[Gender]int{Male: 1}, t0)
	// No history: lambda is the prior's 1/60s, whose own uncertainty
	// widens the spread: P50 below the exponential's 41.6s, P90 well above
	// twice P50.
	if eta.P50 < 15*time.Second || eta.P50 > secs(60*math.Ln2) || eta.P90 < 3*eta.P50 {
		t.Errorf("P50, P90 = %v, %v; want 15s..41.6s and a P90 over 3 times P50", eta.P50, eta.P90)
	}
	if eta.Confidence != ConfidenceLow {
		t.Errorf("confidence = %q, want low", eta.Confidence)
	}
	if !strings.Contains(eta.Reason, "rough estimate") || !strings.Contains(eta.Reason, "You are 1st in line.") {
		t.Errorf("reason = %q", eta.Reason)
	}
	for _, g := range Genders {
		f := e.EstimateFor(g, nil, t0)
		if f.P50 <= 0 || f.P90 < f.P50 || f.P90 >= maxETA || f.Confidence != ConfidenceLow {
			t.Errorf("EstimateFor(%v) = %+v", g, f)
		}
	}
}

func TestEstimateTightensWithArrivals(t *testing.T) {
	// Women seeking men arrive every 10 s; the truth for a man at position 1
	// is P50 = 10s*ln2 = 6.9s.
	truth := secs(10 * math.Ln2)
	tests := []struct {
		name       string
		over       time.Duration
		conf       string
		tolerance  float64
		wantReason string
	}{
		{"3 arrivals in 30s", 30 * time.Second, ConfidenceLow, 3, "rough estimate"},
		{"12 arrivals in 2m", 2 * time.Minute, ConfidenceMedium, 0.75, "A match should come soon: you are 1st in line."},
		{"60 arrivals in 10m", 10 * time.Minute, ConfidenceMedium, 0.2, "soon"},
		{"90 arrivals in 15m", 15 * time.Minute, ConfidenceHigh, 0.15, "soon"},
		// Confidence is that of the 20th in line (shape 20 n/(n+20)): one
		// exponential gap, the 1st in line's wait, is never better than low.
	}
	prevErr := math.Inf(1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEstimator(EstimatorConfig{})
			start := t0.Add(-tt.over)
			e.MatchFormed(start) // the estimator's first event
			n := int(tt.over / (10 * time.Second))
			arrive(e, Female, sM, n, tt.over, t0)
			arrive(e, Female, sF, n, tt.over, t0) // not partners of a man seeking women
			eta := e.Estimate(wt("m", Male, sF, 0), 1, map[Gender]int{Male: 1}, t0)
			if eta.Confidence != ConfidenceLow {
				t.Errorf("1st in line: confidence = %q, want low", eta.Confidence)
			}
			if c := e.Estimate(wt("m", Male, sF, 0), 20, map[Gender]int{Male: 20}, t0).Confidence; c != tt.conf {
				t.Errorf("20th in line: confidence = %q, want %q", c, tt.conf)
			}
			errRel := math.Abs(float64(eta.P50-truth)) / float64(truth)
			if errRel > tt.tolerance {
				t.Errorf("P50 = %v, truth %v (error %.0f%%)", eta.P50, truth, 100*errRel)
			}
			if errRel > prevErr+0.01 {
				t.Errorf("error grew with more arrivals: %.3f > %.3f", errRel, prevErr)
			}
			prevErr = errRel
			if !strings.Contains(eta.Reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", eta.Reason, tt.wantReason)
			}
		})
	}
}

func TestEstimatePositionAndGamma(t *testing.T) {
	// With PriorWeight tiny and a long history, lambda is the observed rate,
	// and the estimate is the Gamma(k, lambda) quantile.
	e := NewEstimator(EstimatorConfig{PriorWeight: 1e-9})
	e.MatchFormed(t0.Add(-time.Hour))
	arrive(e, Female, sM, 300, 15*time.Minute, t0) // one per 3 s
	lambda := 300.0 / e.win.covered(timeKey(t0)).Seconds()
	tests := []struct {
		k        int
		p50, p90 float64 // quantiles of Gamma(k, 1)
	}{
		{1, math.Ln2, math.Ln10},
		{5, 9.341818 / 2, 15.987179 / 2},
	}
	for _, tt := range tests {
		eta := e.Estimate(wt("m", Male, sF, 0), tt.k, nil, t0)
		want50 := time.Duration(tt.p50 / lambda * float64(time.Second))
		want90 := time.Duration(tt.p90 / lambda * float64(time.Second))
		if !within(eta.P50, want50, 0.02) || !within(eta.P90, want90, 0.02) {
			t.Errorf("k=%d: P50, P90 = %v, %v; want %v, %v", tt.k, eta.P50, eta.P90, want50, want90)
		}
	}
}

func TestEstimateScarceGender(t *testing.T) {
	e := NewEstimator(EstimatorConfig{})
	e.MatchFormed(t0.Add(-15 * time.Minute))
	arrive(e, Male, sF, 60, 15*time.Minute, t0)
	arrive(e, Female, sM, 8, 15*time.Minute, t0)
	waiting := map[Gender]int{Male: 14, Female: 3}

	man := e.Estimate(wt("m", Male, sF, 0), 4, waiting, t0)
	woman := e.Estimate(wt("w", Female, sM, 0), 4, waiting, t0)
	if man.P50 <= 3*woman.P50 {
		t.Errorf("man P50 %v should be far longer than woman P50 %v", man.P50, woman.P50)
	}
	want := "About 5 men are waiting for each woman right now. You are 4th in line."
	if man.Reason != want {
		t.Errorf("man's reason = %q\nwant %q", man.Reason, want)
	}
	if strings.Contains(woman.Reason, "for each") {
		t.Errorf("woman's reason names scarcity: %q", woman.Reason)
	}

	// A newcomer woman finds men waiting and is paired at once; a newcomer
	// man stands behind the 14.
	if f := e.EstimateFor(Female, waiting, t0); f.P50 != 0 || f.P90 != 0 || f.Reason != reasonInstant {
		t.Errorf("EstimateFor(female) = %+v, want an instant match", f)
	}
	m := e.EstimateFor(Male, waiting, t0)
	if m.P50 <= man.P50 || !strings.Contains(m.Reason, "You would be 15th in line.") {
		t.Errorf("EstimateFor(male) = %+v; want longer than %v, 15th in line", m, man.P50)
	}
}

func TestEstimateReasons(t *testing.T) {
	tests := []struct {
		name    string
		w       *Waiter
		waiting map[Gender]int
		want    string
	}{
		{
			"two scarce genders",
			wt("m", Male, SetOf(Female, Nonbinary), 0),
			map[Gender]int{Male: 9, Female: 1, Nonbinary: 0},
			"About 9 men are waiting for each woman or nonbinary person right now. You are 2nd in line.",
		},
		{
			"seeking own gender only: no scarcity",
			wt("m", Male, sM, 0),
			map[Gender]int{Male: 9},
			"The pool is quiet right now: about 33 people you could be matched with join per hour. You are 2nd in line.",
		},
		{
			"small imbalance is not scarcity",
			wt("w", Female, sM, 0),
			map[Gender]int{Male: 1, Female: 2},
			"The pool is quiet right now: about 33 people you could be matched with join per hour. You are 2nd in line.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEstimator(EstimatorConfig{})
			e.MatchFormed(t0.Add(-time.Hour))
			// Two people of each class per 15 minutes: quiet, but not rough.
			for _, g := range Genders {
				for s := GenderSet(1); s <= allGenders; s++ {
					arrive(e, g, s, 2, 15*time.Minute, t0)
				}
			}
			eta := e.Estimate(tt.w, 2, tt.waiting, t0)
			if eta.Reason != tt.want {
				t.Errorf("reason = %q\nwant     %q", eta.Reason, tt.want)
			}
		})
	}
}

func TestEstimatorWindowExpires(t *testing.T) {
	e := NewEstimator(EstimatorConfig{Window: 10 * time.Minute})
	arrive(e, Female, sM, 100, time.Minute, t0)
	man := wt("m", Male, sF, 0)
	if got := e.Estimate(man, 1, nil, t0).Confidence; got != ConfidenceLow {
		// 100 arrivals, but only one minute of history: the prior's
		// two minutes still dominate.
		t.Errorf("after 1m: confidence %q, want low", got)
	}
	// The rush of the first minute is over five minutes later: the rate
	// follows the last minute, not the window, and the wait grows.
	if at1, at6 := e.Estimate(man, 1, nil, t0), e.Estimate(man, 1, nil, t0.Add(5*time.Minute)); at6.P50 < 10*at1.P50 {
		t.Errorf("after the arrivals stopped: P50 %v, was %v; want it far longer", at6.P50, at1.P50)
	}
	later := t0.Add(11 * time.Minute)
	if n := e.partnerArrivals(mustClass(t, Male, sF)); n != 100 {
		t.Errorf("before expiry: %d arrivals, want 100", n)
	}
	eta := e.Estimate(man, 1, nil, later)
	if n := e.partnerArrivals(mustClass(t, Male, sF)); n != 0 {
		t.Errorf("after the window: %d arrivals still counted", n)
	}
	if eta.Confidence != ConfidenceLow {
		t.Errorf("after the window: confidence %q, want low", eta.Confidence)
	}
	// An arrival older than the window is dropped, not counted.
	e.Arrival(Female, sM, t0)
	if n := e.partnerArrivals(mustClass(t, Male, sF)); n != 0 {
		t.Errorf("a stale arrival was counted")
	}
	// A jump far ahead clears everything.
	e.Arrival(Female, sM, later.Add(time.Hour))
	if n := e.partnerArrivals(mustClass(t, Male, sF)); n != 1 {
		t.Errorf("after a jump: %d arrivals, want 1", n)
	}
}

func mustClass(t *testing.T, g Gender, s GenderSet) class {
	t.Helper()
	c, ok := classOf(g, s)
	if !ok {
		t.Fatalf("classOf(%v, %v)", g, s)
	}
	return c
}

func TestChangedEnough(t *testing.T) {
	sec := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	base := ETA{P50: sec(60), P90: sec(200), Confidence: ConfidenceMedium}
	tests := []struct {
		name string
		b    ETA
		want bool
	}{
		{"same", base, false},
		{"P50 +9%", ETA{P50: sec(65.4), P90: sec(200), Confidence: ConfidenceMedium}, false},
		{"P50 +10%", ETA{P50: sec(66), P90: sec(200), Confidence: ConfidenceMedium}, true},
		{"P50 -10%", ETA{P50: sec(54), P90: sec(200), Confidence: ConfidenceMedium}, true},
		{"P90 +10%", ETA{P50: sec(60), P90: sec(220), Confidence: ConfidenceMedium}, true},
		{"P90 -5%", ETA{P50: sec(60), P90: sec(190), Confidence: ConfidenceMedium}, false},
		{"confidence", ETA{P50: sec(60), P90: sec(200), Confidence: ConfidenceHigh}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChangedEnough(base, tt.b); got != tt.want {
				t.Errorf("ChangedEnough = %v, want %v", got, tt.want)
			}
		})
	}
	small := []struct {
		name string
		a, b time.Duration
		want bool
	}{
		{"from zero", 0, sec(3), true},
		{"sub-second jitter", sec(2), sec(2.5), false},
		{"to zero", sec(4), 0, true},
	}
	for _, tt := range small {
		t.Run(tt.name, func(t *testing.T) {
			a := ETA{P50: tt.a, P90: tt.a, Confidence: ConfidenceLow}
			b := ETA{P50: tt.b, P90: tt.b, Confidence: ConfidenceLow}
			if got := ChangedEnough(a, b); got != tt.want {
				t.Errorf("ChangedEnough(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestEstimatorIgnoresZeroTime(t *testing.T) {
	e := NewEstimator(EstimatorConfig{})
	e.Arrival(Female, sM, time.Time{})
	e.Finished(Male, SetOf(Female), time.Minute, true, time.Time{})
	e.MatchFormed(time.Time{})
	e.MatchResult(true, time.Time{})
	if e.started {
		t.Fatal("a zero time started the estimator")
	}
	eta := e.Estimate(wt("m", Male, sF, 0), 1, nil, t0)
	fresh := NewEstimator(EstimatorConfig{}).Estimate(wt("m", Male, sF, 0), 1, nil, t0)
	if eta.Confidence != ConfidenceLow || eta.P50 != fresh.P50 {
		t.Errorf("after zero-time events: %+v", eta)
	}
	if st := e.Stats(nil, t0); len(st.AvgWait) != 0 || st.MatchesPerMin != 0 || st.MatchSuccessRate != 0 {
		t.Errorf("zero-time events counted: %+v", st)
	}
}
