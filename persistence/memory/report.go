package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// maxReports bounds the stored reports per period; the oldest go first
// (a year of hours, many years of days).
const maxReports = 24 * 366

// SummarizePeriod summarizes [start, end) as of asOf, exactly as the
// PostgreSQL store does (times and waits at microsecond precision).
func (s *Store) SummarizePeriod(ctx context.Context, start, end, asOf time.Time) (persistence.PeriodSummary, error) {
	if err := ctx.Err(); err != nil {
		return persistence.PeriodSummary{}, fmt.Errorf("memory: summarize period: %w", err)
	}
	sum := persistence.PeriodSummary{AvgWaitS: map[string]float64{}, P90WaitS: map[string]float64{}, Abandoned: map[string]int{}}
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.matches {
		if !in(m.created()) {
			continue
		}
		sum.Matches++
		switch r := m.result; {
		case r == outcomeMutual:
			sum.Mutual++
		case r == outcomeNoMatch, r == noOutcome && !m.deadline().After(asOf):
			sum.NoMatch++
		}
	}
	waits := map[string][]int64{} // matched waits in microseconds, by gender
	type event struct {
		t time.Time
		d int
	}
	var events []event
	addInterval := func(from, to time.Time) {
		events = append(events, event{maxTime(from, start), 1}, event{minTime(to, end), -1})
	}
	for _, w := range s.waits {
		at := w.At.Truncate(time.Microsecond)
		us := w.Wait.Microseconds()
		if from := at.Add(-time.Duration(us) * time.Microsecond); !at.Before(start) && at.Before(end.Add(persistence.PeakWaitBound)) && from.Before(end) {
			addInterval(from, at)
		}
		if !in(at) {
			continue
		}
		if w.Outcome == "matched" {
			waits[w.Gender] = append(waits[w.Gender], us)
		} else {
			sum.Abandoned[w.Gender]++
		}
	}
	for _, e := range s.queue {
		if e.EnqueuedAt.Before(end) {
			addInterval(e.EnqueuedAt, end)
		}
	}
	for g, us := range waits {
		sum.AvgWaitS[g], sum.P90WaitS[g] = mean(us)/1e6, percentile(us, 0.9)/1e6
	}
	slices.SortFunc(events, func(a, b event) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.d, b.d)
	})
	n := 0
	for _, e := range events {
		n += e.d
		sum.PeakWaiting = max(sum.PeakWaiting, n)
	}
	return sum, nil
}

// PutReport stores r unless the stored report of its period was computed
// later, and returns the report that is stored.
func (s *Store) PutReport(ctx context.Context, r persistence.Report) (persistence.Report, error) {
	if err := ctx.Err(); err != nil {
		return persistence.Report{}, fmt.Errorf("memory: put report: %w", err)
	}
	if r.Period != persistence.PeriodHour && r.Period != persistence.PeriodDay {
		return persistence.Report{}, fmt.Errorf("memory: put report: invalid period %q", r.Period)
	}
	r = cloneReport(r)
	r.Start, r.End, r.ComputedAt = r.Start.UTC(), r.End.UTC(), r.ComputedAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reports == nil {
		s.reports = map[string]map[int64]persistence.Report{}
	}
	byStart := s.reports[r.Period]
	if byStart == nil {
		byStart = map[int64]persistence.Report{}
		s.reports[r.Period] = byStart
	}
	key := r.Start.UnixMicro()
	if old, ok := byStart[key]; ok && old.ComputedAt.After(r.ComputedAt) {
		return cloneReport(old), nil
	}
	byStart[key] = r
	if len(byStart) > maxReports {
		delete(byStart, slices.Min(slices.Collect(maps.Keys(byStart))))
	}
	return cloneReport(r), nil
}

// Reports returns the stored reports of period whose start is at or after
// since, newest first, at most limit; limit <= 0 means none.
func (s *Store) Reports(ctx context.Context, period string, since time.Time, limit int) ([]persistence.Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: reports: %w", err)
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []persistence.Report
	for _, r := range s.reports[period] {
		if !r.Start.Before(since) {
			out = append(out, cloneReport(r))
		}
	}
	slices.SortFunc(out, func(a, b persistence.Report) int { return b.Start.Compare(a.Start) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func cloneReport(r persistence.Report) persistence.Report {
	r.AvgWaitS, r.P90WaitS, r.Abandoned = maps.Clone(r.AvgWaitS), maps.Clone(r.P90WaitS), maps.Clone(r.Abandoned)
	return r
}

func mean(v []int64) float64 {
	var t float64
	for _, x := range v {
		t += float64(x)
	}
	return t / float64(len(v))
}

// percentile is PostgreSQL's percentile_cont: linear interpolation between
// the ranks around p*(n-1) of the sorted values.
func percentile(v []int64, p float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	pos := p * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(v)-1)
	return float64(v[lo]) + (pos-float64(lo))*float64(v[hi]-v[lo])
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
