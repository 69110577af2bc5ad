package actors

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// countingStore counts the report calls and can fail the summaries.
type countingStore struct {
	Store
	summaries, lists atomic.Int64
	fail             atomic.Bool
}

func (s *countingStore) SummarizePeriod(ctx context.Context, start, end, asOf time.Time) (persistence.PeriodSummary, error) {
	s.summaries.Add(1)
	if s.fail.Load() {
		return persistence.PeriodSummary{}, errors.New("store down")
	}
	return s.Store.SummarizePeriod(ctx, start, end, asOf)
}

func (s *countingStore) Reports(ctx context.Context, period string, since time.Time, limit int) ([]persistence.Report, error) {
	s.lists.Add(1)
	return s.Store.Reports(ctx, period, since, limit)
}

// reportsFixture is the Reports grain's job code (without an actor
// system: its reportWriter needs none) on a memory store, with a clock the
// test moves; done is what the grain would hold.
type reportsFixture struct {
	t     *testing.T
	store *countingStore
	mu    sync.Mutex
	now   time.Time
	d     *Deps
	w     reportWriter
	done  map[string]time.Time
}

func newReportsFixture(t *testing.T, now time.Time) *reportsFixture {
	f := &reportsFixture{t: t, store: &countingStore{Store: memory.New()}, now: now}
	cfg := TestConfig()
	cfg.DateLength, cfg.VoteWindow = 3*time.Minute, time.Minute // settle: 5 minutes
	d := &Deps{Config: cfg, Store: f.store, Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()),
		Now: func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }}
	f.d, f.w, f.done = d, reportWriter{d: d, log: d.Logger}, map[string]time.Time{}
	return f
}

func (f *reportsFixture) set(now time.Time) { f.mu.Lock(); f.now = now; f.mu.Unlock() }

func (f *reportsFixture) catchUp() {
	f.done, _ = f.w.catchUp(context.Background(), f.done, f.d.now(), reportSettle(f.d.Config))
}

func (f *reportsFixture) stored(kind string) map[time.Time]persistence.Report {
	f.t.Helper()
	rs, err := f.store.Store.Reports(context.Background(), kind, time.Time{}, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[time.Time]persistence.Report{}
	for _, r := range rs {
		out[r.Start] = r
	}
	return out
}

func TestReportsGrainCatchUp(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	f := newReportsFixture(t, now)
	ctx := context.Background()
	// Already written before this activation: 11:00 final, 10:00 only a
	// forced run during that hour.
	kept := persistence.Report{Period: persistence.PeriodHour, Start: now.Add(-90 * time.Minute), End: now.Add(-30 * time.Minute),
		PeriodSummary: persistence.PeriodSummary{Matches: 7}, ComputedAt: now.Add(-20 * time.Minute), Final: true}
	partial := persistence.Report{Period: persistence.PeriodHour, Start: now.Add(-150 * time.Minute), End: now.Add(-90 * time.Minute),
		PeriodSummary: persistence.PeriodSummary{Matches: 3}, ComputedAt: now.Add(-120 * time.Minute)}
	for _, r := range []persistence.Report{kept, partial} {
		if _, err := f.store.PutReport(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	f.catchUp()
	hours := f.stored(persistence.PeriodHour)
	if len(hours) != 48 {
		t.Fatalf("after activation: %d hourly reports, want the 48 finished hours", len(hours))
	}
	for start, r := range hours {
		if !r.Final || start.Before(now.Add(-48*time.Hour-30*time.Minute)) || !start.Before(now.Add(-30*time.Minute)) {
			t.Errorf("hour %s: final %v", start, r.Final)
		}
	}
	if r := hours[kept.Start]; r.Matches != 7 || !r.ComputedAt.Equal(kept.ComputedAt) {
		t.Errorf("the final report of 11:00 was rewritten: %+v", r)
	}
	if r := hours[partial.Start]; r.Matches != 0 || !r.ComputedAt.Equal(now) {
		t.Errorf("the partial report of 10:00 was not rewritten as final: %+v", r)
	}
	if days := f.stored(persistence.PeriodDay); len(days) != 2 {
		t.Errorf("%d daily reports, want the 2 finished days of the last 48 hours", len(days))
	}

	// Nothing new is due: no store call at all.
	sums, lists := f.store.summaries.Load(), f.store.lists.Load()
	f.set(now.Add(30 * time.Minute)) // 13:00, 13:00 is not settled until 13:05
	f.catchUp()
	if f.store.summaries.Load() != sums || f.store.lists.Load() != lists {
		t.Fatalf("a tick with nothing due called the store")
	}

	// 13:05: the 12:00 hour is due; the store fails once, then it is written.
	f.set(now.Add(35 * time.Minute))
	f.store.fail.Store(true)
	f.catchUp()
	if _, ok := f.stored(persistence.PeriodHour)[now.Add(-30*time.Minute)]; ok {
		t.Fatal("12:00 written while the store failed")
	}
	f.store.fail.Store(false)
	f.catchUp()
	if r, ok := f.stored(persistence.PeriodHour)[now.Add(-30*time.Minute)]; !ok || !r.Final {
		t.Fatalf("12:00 after the store came back: %+v, %v", r, ok)
	}
}

func TestReportsGrainRun(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	f := newReportsFixture(t, now)
	var asked [2]time.Time
	f.d.AlertsFired = func(_ context.Context, start, end time.Time) (int, error) {
		asked = [2]time.Time{start, end}
		return 3, nil
	}
	r := f.w.run(context.Background(), persistence.PeriodHour)
	if r.ErrorCode != "" || r.Report == nil {
		t.Fatalf("run(hour) = %v", r)
	}
	got := reportFromMsg(r.Report)
	hour := now.Truncate(time.Hour)
	if !got.Start.Equal(hour) || !got.End.Equal(hour.Add(time.Hour)) || got.Final || got.AlertsFired != 3 ||
		asked != [2]time.Time{hour, hour.Add(time.Hour)} || len(got.Abandoned) != 3 {
		t.Fatalf("run(hour) = %+v (alerts asked for %v)", got, asked)
	}
	f.store.fail.Store(true)
	if r := f.w.run(context.Background(), persistence.PeriodDay); r.ErrorCode != CodeUnavailable {
		t.Fatalf("run(day) with the store down = %v, want unavailable", r)
	}
}

// TestReportsTwoActivations is the once-per-cluster guarantee at the
// grain: two activations (the grain moved while its old node still ran)
// catch up at once on one store; every period has one report.
func TestReportsTwoActivations(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	a := newReportsFixture(t, now)
	b := newReportsFixture(t, now)
	b.d.Store = a.store // one store for the cluster
	var wg sync.WaitGroup
	wg.Go(a.catchUp)
	wg.Go(b.catchUp)
	wg.Wait()
	rs, err := a.store.Store.Reports(context.Background(), persistence.PeriodHour, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]bool{}
	for _, r := range rs {
		if seen[r.Start] {
			t.Fatalf("two reports for %s", r.Start)
		}
		seen[r.Start] = true
	}
	if len(rs) != 48 {
		t.Fatalf("%d hourly reports, want 48", len(rs))
	}
}
