package pool

import (
	"testing"
	"time"
)

func TestAlertP90WaitCountsCurrentWaits(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := NewEstimator(EstimatorConfig{Window: 15 * time.Minute})
	q := NewQueue()
	// Nine finished waits of 10 s for women: their p90 is 10 s.
	for i := range 9 {
		e.Finished(Female, SetOf(Male), 10*time.Second, true, now.Add(-time.Duration(i)*time.Second))
	}
	e.Finished(Female, SetOf(Male), time.Hour, false, now) // a wait that ended by leaving is not one
	if got := e.AlertP90Wait(q, now)[Female]; got != 10*time.Second {
		t.Fatalf("finished only: %v, want 10s", got)
	}
	// A woman stuck for 20 minutes is the tenth: the nearest-rank p90 of ten is the 9th.
	q.Insert(&Waiter{UserID: "w", Gender: Female, Seeking: SetOf(Male), EnqueuedAt: now.Add(-20 * time.Minute)})
	if got := e.AlertP90Wait(q, now)[Female]; got != 10*time.Second {
		t.Fatalf("one of ten stuck: %v, want 10s", got)
	}
	q.Insert(&Waiter{UserID: "w2", Gender: Female, Seeking: SetOf(Male), EnqueuedAt: now.Add(-30 * time.Minute)})
	if got := e.AlertP90Wait(q, now)[Female]; got != 20*time.Minute {
		t.Fatalf("two of eleven stuck: %v, want 20m", got)
	}
	// Men: nobody finished, one queued for 5 minutes.
	q.Insert(&Waiter{UserID: "m", Gender: Male, Seeking: SetOf(Female), EnqueuedAt: now.Add(-5 * time.Minute)})
	got := e.AlertP90Wait(q, now)
	if got[Male] != 5*time.Minute {
		t.Fatalf("male current only: %v", got[Male])
	}
	if _, ok := got[Nonbinary]; ok {
		t.Fatalf("a gender with no waits is absent: %v", got)
	}
	// Finished waits older than the window are out.
	if got := e.AlertP90Wait(NewQueue(), now.Add(20*time.Minute)); len(got) != 0 {
		t.Fatalf("outside the window: %v", got)
	}
}
