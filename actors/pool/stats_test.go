package pool

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	e := NewEstimator(EstimatorConfig{})
	e.MatchFormed(t0.Add(-20 * time.Minute)) // outside the window: not counted
	arrive(e, Male, sF, 60, 15*time.Minute, t0)
	arrive(e, Female, sM, 6, 15*time.Minute, t0)
	for i := range 6 {
		at := t0.Add(-time.Duration(i+1) * time.Minute)
		e.MatchFormed(at)
		e.Finished(Male, SetOf(Female), time.Duration(i+1)*time.Minute, true, at)
		e.Finished(Female, SetOf(Male), 5*time.Second, true, at)
	}
	for range 8 {
		e.Finished(Male, SetOf(Female), 20*time.Second, false, t0.Add(-time.Minute))
	}
	e.Finished(Male, SetOf(Female), time.Hour, true, t0.Add(-16*time.Minute)) // too old
	for i := range 10 {
		e.MatchResult(i == 0, t0.Add(-time.Minute))
	}
	waiting := map[Gender]int{Male: 12, Female: 1}
	st := e.Stats(waiting, t0)

	if st.Waiting[Male] != 12 || st.Waiting[Female] != 1 || st.Waiting[Nonbinary] != 0 {
		t.Errorf("Waiting = %v", st.Waiting)
	}
	if st.AvgWait[Male] != 210*time.Second || st.P90Wait[Male] != 6*time.Minute {
		t.Errorf("men: avg %v p90 %v, want 3m30s, 6m", st.AvgWait[Male], st.P90Wait[Male])
	}
	if st.AvgWait[Female] != 5*time.Second || st.P90Wait[Female] != 5*time.Second {
		t.Errorf("women: avg %v p90 %v, want 5s, 5s", st.AvgWait[Female], st.P90Wait[Female])
	}
	if _, ok := st.AvgWait[Nonbinary]; ok {
		t.Error("nonbinary has an average wait without data")
	}
	if st.Abandoned[Male] != 8 || st.Abandoned[Female] != 0 || st.P90WaitNow[Male] != 6*time.Minute {
		t.Errorf("Abandoned = %v, P90WaitNow = %v", st.Abandoned, st.P90WaitNow)
	}
	if got := st.AbandonRate[Male]; math.Abs(got-8.0/14) > 1e-9 {
		t.Errorf("AbandonRate[male] = %v, want 8/14", got)
	}
	// Six matches over the 14m45s the window covers at a slot boundary.
	if want := 6 / (14.75); math.Abs(st.MatchesPerMin-want) > 0.01 {
		t.Errorf("MatchesPerMin = %v, want %v", st.MatchesPerMin, want)
	}
	if st.MatchSuccessRate != 0.1 {
		t.Errorf("MatchSuccessRate = %v, want 0.1", st.MatchSuccessRate)
	}
	if st.ImbalanceRatio != 12 || st.Scarce != "female" {
		t.Errorf("imbalance = %v, %q; want 12, female", st.ImbalanceRatio, st.Scarce)
	}
	if st.ETA[Female] != 0 || st.ETA[Male] <= time.Minute || st.ETA[Nonbinary] <= 0 {
		t.Errorf("ETA = %v", st.ETA)
	}
	want := []string{
		"Invite more women: 12 men wait for each woman.",
		"Many men give up before a match: 8 of 14 waits (57%) in the last 15m ended without one.",
		"Men wait long: 1 in 10 men waited 6m or more (matched in the last 15m, or still waiting).",
		"Few dates end in a mutual yes: 1 of 10 (10%) in the last 15m; review how partners are matched or the date length.",
	}
	if !slices.Equal(st.Recommendations, want) {
		t.Errorf("Recommendations:\n%q\nwant\n%q", st.Recommendations, want)
	}
}

func TestStatsImbalance(t *testing.T) {
	tests := []struct {
		name    string
		arrive  func(e *Estimator)
		waiting map[Gender]int
		ratio   float64
		scarce  string
		advice  string
	}{
		{
			name:  "empty",
			ratio: 1,
		},
		{
			name:    "only men waiting, women sought",
			arrive:  func(e *Estimator) { e.Arrival(Male, sF, t0) },
			waiting: map[Gender]int{Male: 5},
			ratio:   5, scarce: "female",
			advice: "Invite more women: 5 men are waiting and no women.",
		},
		{
			name:    "only men waiting, men sought",
			arrive:  func(e *Estimator) { e.Arrival(Male, sM, t0) },
			waiting: map[Gender]int{Male: 5},
			ratio:   1,
		},
		{
			name:    "mild imbalance",
			waiting: map[Gender]int{Male: 4, Female: 3},
			ratio:   4.0 / 3,
		},
		{
			name:    "two scarce genders: the more sought one is named",
			arrive:  func(e *Estimator) { e.Arrival(Male, SetOf(Female, Nonbinary), t0); e.Arrival(Male, sN, t0) },
			waiting: map[Gender]int{Male: 6},
			ratio:   6, scarce: "nonbinary",
			advice: "Invite more nonbinary people: 6 men are waiting and no nonbinary people.",
		},
		{
			name:    "nonbinary many",
			waiting: map[Gender]int{Nonbinary: 9, Female: 2, Male: 3},
			ratio:   4.5, scarce: "female",
			advice: "Invite more women: 5 nonbinary people wait for each woman.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEstimator(EstimatorConfig{})
			if tt.arrive != nil {
				tt.arrive(e)
			}
			st := e.Stats(tt.waiting, t0.Add(time.Second))
			if math.Abs(st.ImbalanceRatio-tt.ratio) > 1e-9 || st.Scarce != tt.scarce {
				t.Errorf("imbalance = %v, %q; want %v, %q", st.ImbalanceRatio, st.Scarce, tt.ratio, tt.scarce)
			}
			var advice []string
			if tt.advice != "" {
				advice = []string{tt.advice}
			}
			if !slices.Equal(st.Recommendations, advice) {
				t.Errorf("Recommendations = %q, want %q", st.Recommendations, advice)
			}
			if r := e.ImbalanceRatio(tt.waiting, t0.Add(time.Second)); math.Abs(r-tt.ratio) > 1e-9 {
				t.Errorf("ImbalanceRatio = %v; want %v (as Stats)", r, tt.ratio)
			}
		})
	}
}

func TestStatsQuietPool(t *testing.T) {
	e := NewEstimator(EstimatorConfig{})
	e.MatchFormed(t0)
	st := e.Stats(nil, t0.Add(20*time.Minute))
	if !slices.Equal(st.Recommendations, []string{"No one joined this pool in the last 15m."}) {
		t.Errorf("Recommendations = %q", st.Recommendations)
	}
	if st.MatchesPerMin != 0 || st.MatchSuccessRate != 0 || st.ImbalanceRatio != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWaitRingBounded(t *testing.T) {
	e := NewEstimator(EstimatorConfig{WaitSamples: 4})
	for i := range 10 {
		e.Finished(Male, SetOf(Female), time.Duration(i+1)*time.Second, true, t0)
	}
	st := e.Stats(nil, t0)
	// Only the last 4 (7s..10s) are kept.
	if st.AvgWait[Male] != 8500*time.Millisecond || st.P90Wait[Male] != 10*time.Second {
		t.Errorf("avg %v p90 %v", st.AvgWait[Male], st.P90Wait[Male])
	}
	if len(e.waits[Male].buf) != 4 {
		t.Errorf("ring grew to %d", len(e.waits[Male].buf))
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute:                       "15m",
		time.Hour:                              "1h",
		450 * time.Second:                      "7m30s",
		90*time.Minute + 1500*time.Millisecond: "1h30m2s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestQueueStats: the p90 of the wait_p90 rule counts those still queued,
// and abandonment is counted over the whole window (not only the waits the
// bounded ring still holds).
func TestQueueStats(t *testing.T) {
	e := NewEstimator(EstimatorConfig{WaitSamples: 4})
	q := NewQueue()
	// Nine men have waited 1..9 minutes; nobody was matched.
	for i := range 9 {
		q.Add(&Waiter{UserID: fmt.Sprint("m", i), Gender: Male, Seeking: sF, EnqueuedAt: t0.Add(-time.Duration(i+1) * time.Minute)})
	}
	// One woman was matched after 10s; six women and a man gave up.
	for range 6 {
		e.Finished(Female, SetOf(Male), 30*time.Second, false, t0.Add(-2*time.Minute))
	}
	e.Finished(Female, SetOf(Male), 10*time.Second, true, t0.Add(-time.Minute))
	e.Finished(Male, SetOf(Female), time.Second, false, t0.Add(-20*time.Minute)) // outside the window
	st := e.QueueStats(q, t0)
	if st.Waiting[Male] != 9 {
		t.Fatalf("Waiting = %v", st.Waiting)
	}
	if _, ok := st.P90Wait[Male]; ok {
		t.Errorf("P90Wait[male] = %v without a matched wait", st.P90Wait[Male])
	}
	// Nearest rank over 1..9 minutes: the 9th.
	if st.P90WaitNow[Male] != 9*time.Minute || st.P90WaitNow[Female] != 10*time.Second {
		t.Errorf("P90WaitNow = %v, want male 9m, female 10s", st.P90WaitNow)
	}
	if _, ok := st.P90WaitNow[Nonbinary]; ok {
		t.Error("P90WaitNow[nonbinary] without data")
	}
	// The ring holds 4 waits per gender; the window count is exact.
	if st.Abandoned[Female] != 6 || st.Abandoned[Male] != 0 || st.Abandoned[Nonbinary] != 0 {
		t.Errorf("Abandoned = %v, want female 6", st.Abandoned)
	}
	if !slices.Contains(st.Recommendations, "Men wait long: 1 in 10 men waited 9m or more (matched in the last 15m, or still waiting).") {
		t.Errorf("Recommendations = %q", st.Recommendations)
	}
}
