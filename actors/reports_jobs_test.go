package actors

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// slowStore holds the summaries of finished periods (the catch-up's) until
// released, and counts those in flight; the current period's (a forced
// run's) are not held.
type slowStore struct {
	Store
	release        chan struct{}
	held           chan struct{} // signalled when a summary is held
	inFlight, peak atomic.Int64
	heldSummaries  atomic.Int64
}

func (s *slowStore) SummarizePeriod(ctx context.Context, start, end, asOf time.Time) (persistence.PeriodSummary, error) {
	if !end.After(asOf) {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
		}
		s.heldSummaries.Add(1)
		select {
		case s.held <- struct{}{}:
		default:
		}
		select {
		case <-s.release:
		case <-ctx.Done():
			return persistence.PeriodSummary{}, ctx.Err()
		}
	}
	return s.Store.SummarizePeriod(ctx, start, end, asOf)
}

// TestReportsGrainRunDuringSlowCatchUp: a first activation's catch-up
// (48 hours and 2 days) on a store that holds its summaries does not hold
// the grain: forced runs are answered at once, ticks meanwhile start no
// second catch-up, and once the store answers the catch-up completes.
func TestReportsGrainRunDuringSlowCatchUp(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	store := &slowStore{Store: memory.New(), release: make(chan struct{}), held: make(chan struct{}, 1)}
	cfg := TestConfig()
	cfg.DateLength, cfg.VoteWindow = 3*time.Minute, time.Minute
	d := &Deps{Config: cfg, Store: store, Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()),
		Now: func() time.Time { return now }}
	sys := actor.NewActorSystem()
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return newReportsGrain(d) }))
	released := false
	t.Cleanup(func() {
		if !released {
			close(store.release)
		}
		_ = sys.Root.StopFuture(pid).Wait()
	})

	select {
	case <-store.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the activation started no catch-up")
	}
	for range 3 {
		sys.Root.Send(pid, reportTick{})
	}
	ask := func(period string) (*msg.ReportReply, time.Duration) {
		t.Helper()
		began := time.Now()
		res, err := sys.Root.RequestFuture(pid, &msg.RunReport{Period: period}, 5*time.Second).Result()
		if err != nil {
			t.Fatalf("run %s while the catch-up is held: %v", period, err)
		}
		return res.(*msg.ReportReply), time.Since(began)
	}
	for _, period := range reportPeriods {
		r, took := ask(period)
		if r.ErrorCode != "" || r.Report == nil || r.Report.Final || r.Report.Period != period {
			t.Fatalf("run %s = %v", period, r)
		}
		if took > 2*time.Second {
			t.Fatalf("run %s answered after %v while the catch-up was held", period, took)
		}
	}
	if r, _ := ask("week"); r.ErrorCode != CodeBadRequest {
		t.Fatalf("run week = %v, want bad_request", r)
	}
	if n := store.heldSummaries.Load(); n != 1 {
		t.Fatalf("%d catch-up summaries started while the first was held, want 1", n)
	}
	if p := store.peak.Load(); p != 1 {
		t.Fatalf("%d catch-up summaries at once, want 1", p)
	}

	close(store.release)
	released = true
	deadline := time.Now().Add(20 * time.Second)
	for {
		hours, err := store.Store.Reports(context.Background(), persistence.PeriodHour, time.Time{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		days, err := store.Store.Reports(context.Background(), persistence.PeriodDay, time.Time{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		final := 0
		for _, r := range append(hours, days...) {
			if r.Final {
				final++
			}
		}
		if final == 48+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d final reports after the store answered, want 48 hours and 2 days", final)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p := store.peak.Load(); p != 1 {
		t.Fatalf("%d catch-up summaries at once, want 1", p)
	}
}

// TestReportsGrainWaitsForAlertsWarm: while the Alerts grain warms up it
// refuses the count; a report is not written with 0 (a final one would
// never be rewritten): the write waits a little, then fails, and a later
// catch-up writes the real count.
func TestReportsGrainWaitsForAlertsWarm(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	f := newReportsFixture(t, now)
	f.d.Config.Alerts.Interval, f.d.Config.RequestTimeout = 10*time.Millisecond, 50*time.Millisecond // warm-up 30 ms
	var refusals atomic.Int64                                                                        // left before the grain is warm
	f.d.AlertsFired = func(context.Context, time.Time, time.Time) (int, error) {
		if refusals.Add(-1) >= 0 {
			return 0, ErrAlertsNotReady
		}
		return 2, nil
	}

	refusals.Store(1 << 30) // not warm during this catch-up
	done, ok := f.w.catchUp(context.Background(), f.done, now, reportSettle(f.d.Config))
	if ok || len(f.stored(persistence.PeriodHour))+len(f.stored(persistence.PeriodDay)) != 0 {
		t.Fatalf("catch-up with the alerts grain warming up: ok %v, %d hours written", ok, len(f.stored(persistence.PeriodHour)))
	}
	f.done = done

	refusals.Store(1) // warm after one refusal: the write waits for it
	f.catchUp()
	hours, days := f.stored(persistence.PeriodHour), f.stored(persistence.PeriodDay)
	if len(hours) != 48 || len(days) != 2 {
		t.Fatalf("after the alerts grain warmed: %d hours, %d days", len(hours), len(days))
	}
	for _, r := range append(mapsValues(hours), mapsValues(days)...) {
		if !r.Final || r.AlertsFired != 2 {
			t.Fatalf("report %s %s: final %v alerts_fired %d, want final with 2", r.Period, r.Start, r.Final, r.AlertsFired)
		}
	}

	refusals.Store(1 << 30)
	if r := f.w.run(context.Background(), persistence.PeriodHour); r.ErrorCode != CodeUnavailable {
		t.Fatalf("forced run with the alerts grain warming up = %v, want unavailable", r)
	}
}

func mapsValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestAlertsGrainRefusesFiredCountUntilWarm: a fresh activation has not
// taken over the nodes' per-hour counts yet, so it answers not_ready
// instead of 0; once warm it answers the adopted counts.
func TestAlertsGrainRefusesFiredCountUntilWarm(t *testing.T) {
	now := time.Date(2026, 1, 1, 13, 30, 0, 0, time.UTC)
	g, _ := alertsAt(t, &now)
	g.warm = false
	h12 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	q := &msg.AlertsFiredQuery{StartMs: ms(h12), EndMs: ms(h12.Add(time.Hour))}
	if r := g.firedReply(q); !r.NotReady || r.Count != 0 {
		t.Fatalf("fresh activation answered %v, want not_ready", r)
	}
	g.report(&msg.AlertReport{Node: "a", KnownSeq: 7, FiredHours: map[int64]int32{h12.Unix(): 3}})
	if _, err := alertsFiredOf(g.firedReply(q)); !errors.Is(err, ErrAlertsNotReady) {
		t.Fatalf("during warm-up, after adopting: err %v, want ErrAlertsNotReady", err)
	}
	g.warm = true
	if n, err := alertsFiredOf(g.firedReply(q)); err != nil || n != 3 {
		t.Fatalf("warm: %d, %v; want the adopted 3", n, err)
	}
}
