package storetest

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// reportHour returns a UTC hour in the given year (before 2025) picked at
// random, so a summary sees only its own subtest's records even on a
// shared store (the other subtests write around 2025 and now), and each
// report subtest has a year of its own.
func reportHour(t *testing.T, year int) time.Time {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random hour: %v", err)
	}
	h := binary.LittleEndian.Uint64(b[:]) % (364 * 24)
	return time.Date(year, 1, 1, 1, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
}

func testSummarizePeriod(t *testing.T, f *fixture) {
	p := reportHour(t, 2001)
	at := func(d time.Duration) time.Time { return p.Add(d) }
	asOf := at(59 * time.Minute)

	// Matches: formed in the hour, with a result or past the deadline
	// (no_match) or still under way; one before and one at the end.
	m := func(id string, created time.Duration) persistence.Match {
		return f.match(id, id+"-a", id+"-b", at(created))
	}
	for _, c := range []struct {
		m      persistence.Match
		result string
	}{
		{m("mutual", 10*time.Minute), persistence.ResultMutual},
		{m("nomatch", 20*time.Minute), persistence.ResultNoMatch},
		{m("pending", 57*time.Minute), ""},  // deadline 60.5 min > asOf: under way
		{m("unsettled", 5*time.Minute), ""}, // deadline 8.5 min <= asOf: a no_match
		{m("before", -time.Minute), ""},     // previous hour
		{m("at-end", 60*time.Minute), ""},   // next hour
		{m("after-mutual", 61*time.Minute), persistence.ResultMutual},
	} {
		f.mustCreate(c.m)
		if c.result != "" {
			f.mustResult(c.m.ID, c.result)
		}
	}

	sample := func(gender, outcome string, end, wait time.Duration) {
		t.Helper()
		s := persistence.WaitSample{Pool: f.id("pool"), Gender: gender, Wait: wait, Outcome: outcome, At: at(end)}
		if err := f.store.RecordWaitSample(f.ctx(), s); err != nil {
			t.Fatalf("RecordWaitSample: %v", err)
		}
	}
	for _, w := range []time.Duration{10, 20, 30, 40} {
		sample("female", "matched", 10*time.Minute, w*time.Second) // avg 25, p90 37
	}
	sample("male", "matched", 10*time.Minute, 60*time.Second)
	sample("male", "matched", 10*time.Minute, 11*time.Minute) // began in the previous hour
	sample("male", "cancelled", 30*time.Minute, 5*time.Minute)
	sample("nonbinary", "expired", 40*time.Minute, time.Minute)
	sample("female", "matched", 61*time.Minute, time.Second) // next hour
	// Spans the whole hour but ended more than PeakWaitBound after it: left out.
	sample("male", "cancelled", 26*time.Hour, 26*time.Hour)
	// Still queued: one since 9:45 into the hour, one only after it.
	f.mustPut(persistence.QueueEntry{UserID: f.id("q1"), Pool: f.id("pool"), DisplayName: "q1", Gender: "male", Seeking: []string{"female"}, EnqueuedAt: at(9*time.Minute + 45*time.Second)})
	f.mustPut(persistence.QueueEntry{UserID: f.id("q2"), Pool: f.id("pool"), DisplayName: "q2", Gender: "male", Seeking: []string{"female"}, EnqueuedAt: at(2 * time.Hour)})

	cases := []struct {
		name       string
		start, end time.Time
		want       persistence.PeriodSummary
	}{
		{"the hour", p, p.Add(time.Hour), persistence.PeriodSummary{
			Matches: 4, Mutual: 1, NoMatch: 2,
			AvgWaitS:  map[string]float64{"female": 25, "male": 360},
			P90WaitS:  map[string]float64{"female": 37, "male": 600},
			Abandoned: map[string]int{"male": 1, "nonbinary": 1},
			// At 9:50: four female waits, two male ones and q1.
			PeakWaiting: 7,
		}},
		{"the hour before", p.Add(-time.Hour), p, persistence.PeriodSummary{
			Matches: 1, NoMatch: 1,
			AvgWaitS: map[string]float64{}, P90WaitS: map[string]float64{}, Abandoned: map[string]int{},
			PeakWaiting: 1, // the 11-minute wait
		}},
		{"an empty hour", p.Add(-3 * time.Hour), p.Add(-2 * time.Hour), persistence.PeriodSummary{
			AvgWaitS: map[string]float64{}, P90WaitS: map[string]float64{}, Abandoned: map[string]int{},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.store.SummarizePeriod(f.ctx(), tc.start, tc.end, asOf)
			if err != nil {
				t.Fatalf("SummarizePeriod: %v", err)
			}
			assertSummary(t, got, tc.want)
		})
	}
}

// testReportUpsert uses the latest year of the report subtests, so its
// listings (which have no upper bound) see only its own reports.
func testReportUpsert(t *testing.T, f *fixture) {
	p := reportHour(t, 2003)
	computed := p.Add(2 * time.Hour)
	r := func(matches int, computedAt time.Time) persistence.Report {
		return persistence.Report{
			Period: persistence.PeriodHour, Start: p, End: p.Add(time.Hour),
			PeriodSummary: persistence.PeriodSummary{
				Matches: matches, Mutual: 1, NoMatch: 2,
				AvgWaitS: map[string]float64{"female": 12.5}, P90WaitS: map[string]float64{"female": 20.25},
				Abandoned: map[string]int{"male": 3}, PeakWaiting: 9,
			},
			SuccessRate: 1.0 / 3, AlertsFired: 2, ComputedAt: computedAt, Final: true,
		}
	}
	put := func(want persistence.Report, in persistence.Report) {
		t.Helper()
		got, err := f.store.PutReport(f.ctx(), in)
		if err != nil {
			t.Fatalf("PutReport: %v", err)
		}
		assertReport(t, got, want)
	}
	first := r(5, computed)
	put(first, first)
	newer := r(6, computed.Add(time.Minute))
	put(newer, newer)
	put(newer, r(7, computed)) // computed earlier: the newer one stays
	day := persistence.Report{Period: persistence.PeriodDay, Start: p.Truncate(24 * time.Hour), End: p.Truncate(24 * time.Hour).Add(24 * time.Hour), ComputedAt: computed}
	wantDay := day
	wantDay.AvgWaitS, wantDay.P90WaitS, wantDay.Abandoned = map[string]float64{}, map[string]float64{}, map[string]int{}
	put(wantDay, day)
	next := r(1, computed)
	next.Start, next.End = p.Add(time.Hour), p.Add(2*time.Hour)
	put(next, next)

	got, err := f.store.Reports(f.ctx(), persistence.PeriodHour, p, 10)
	if err != nil {
		t.Fatalf("Reports: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("Reports(hour) = %d reports, want 2 (one per start)", len(got))
	}
	assertReport(t, got[0], next) // newest first
	assertReport(t, got[1], newer)
	if got, err := f.store.Reports(f.ctx(), persistence.PeriodHour, p, 1); err != nil || len(got) != 1 || !got[0].Start.Equal(next.Start) {
		t.Fatalf("Reports(limit 1) = %v, %v; want the newest only", got, err)
	}
	if got, err := f.store.Reports(f.ctx(), persistence.PeriodHour, p.Add(time.Hour), 10); err != nil || len(got) != 1 {
		t.Fatalf("Reports(since the second hour) = %d reports, %v; want 1", len(got), err)
	}
	if got, err := f.store.Reports(f.ctx(), persistence.PeriodDay, day.Start, 10); err != nil || len(got) != 1 {
		t.Fatalf("Reports(day) = %d reports, %v; want 1", len(got), err)
	}
	if _, err := f.store.PutReport(f.ctx(), persistence.Report{Period: "week", Start: p, End: p, ComputedAt: computed}); err == nil {
		t.Fatal("PutReport(period week) succeeded, want an error")
	}
}

// testRacingPutReport is the once-per-cluster guarantee at the store: many
// writers (reports grains on nodes that each think they own it) store the
// same period at once; one report remains, the one computed last.
func testRacingPutReport(t *testing.T, f *fixture) {
	p := reportHour(t, 2002)
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			r := persistence.Report{
				Period: persistence.PeriodHour, Start: p, End: p.Add(time.Hour),
				PeriodSummary: persistence.PeriodSummary{Matches: i},
				ComputedAt:    p.Add(time.Hour + time.Duration(i)*time.Second),
			}
			_, errs[i] = f.store.PutReport(f.ctx(), r)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	all, err := f.store.Reports(f.ctx(), persistence.PeriodHour, p, 1000)
	if err != nil {
		t.Fatalf("Reports: %v", err)
	}
	var got []persistence.Report
	for _, r := range all {
		if r.Start.Equal(p) {
			got = append(got, r)
		}
	}
	if len(got) != 1 || got[0].Matches != writers-1 {
		t.Fatalf("after %d racing writers: %d reports (first %+v), want one, the last computed (matches %d)", writers, len(got), got, writers-1)
	}
}

func assertSummary(t *testing.T, got, want persistence.PeriodSummary) {
	t.Helper()
	if got.Matches != want.Matches || got.Mutual != want.Mutual || got.NoMatch != want.NoMatch || got.PeakWaiting != want.PeakWaiting {
		t.Errorf("matches/mutual/no_match/peak = %d/%d/%d/%d, want %d/%d/%d/%d",
			got.Matches, got.Mutual, got.NoMatch, got.PeakWaiting, want.Matches, want.Mutual, want.NoMatch, want.PeakWaiting)
	}
	if !approxMap(got.AvgWaitS, want.AvgWaitS) || !approxMap(got.P90WaitS, want.P90WaitS) {
		t.Errorf("avg/p90 waits = %v / %v, want %v / %v", got.AvgWaitS, got.P90WaitS, want.AvgWaitS, want.P90WaitS)
	}
	if !maps.Equal(got.Abandoned, want.Abandoned) {
		t.Errorf("abandoned = %v, want %v", got.Abandoned, want.Abandoned)
	}
}

func assertReport(t *testing.T, got, want persistence.Report) {
	t.Helper()
	if got.Period != want.Period || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) ||
		!got.ComputedAt.Equal(want.ComputedAt) || got.Final != want.Final ||
		got.AlertsFired != want.AlertsFired || math.Abs(got.SuccessRate-want.SuccessRate) > 1e-9 {
		t.Errorf("report = %s, want %s", reportString(got), reportString(want))
	}
	if got.Start.Location() != time.UTC {
		t.Errorf("report start %v is not in UTC", got.Start)
	}
	assertSummary(t, got.PeriodSummary, want.PeriodSummary)
}

func reportString(r persistence.Report) string {
	return fmt.Sprintf("{%s %s..%s computed %s final %v alerts %d success %.4f}", r.Period, r.Start, r.End, r.ComputedAt, r.Final, r.AlertsFired, r.SuccessRate)
}

func approxMap(got, want map[string]float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-6 {
			return false
		}
	}
	return true
}
