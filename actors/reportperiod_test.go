package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

func TestDuePeriods(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	settle := 5 * time.Minute
	cases := []struct {
		name     string
		kind     string
		now      string
		lookback time.Duration
		want     []string
		next     string
	}{
		{"hour not settled yet", persistence.PeriodHour, "2026-03-10T12:04:00Z", 3 * time.Hour,
			[]string{"2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z"}, "2026-03-10T12:05:00Z"},
		{"hour just settled", persistence.PeriodHour, "2026-03-10T12:05:00Z", 3 * time.Hour,
			[]string{"2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", "2026-03-10T11:00:00Z"}, "2026-03-10T13:05:00Z"},
		{"48 hours back", persistence.PeriodHour, "2026-03-10T12:30:00Z", ReportLookback,
			nil, "2026-03-10T13:05:00Z"},
		{"day settled", persistence.PeriodDay, "2026-03-10T00:05:00Z", ReportLookback,
			[]string{"2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z"}, "2026-03-11T00:05:00Z"},
		{"day not settled", persistence.PeriodDay, "2026-03-10T00:04:59Z", ReportLookback,
			[]string{"2026-03-08T00:00:00Z"}, "2026-03-10T00:05:00Z"},
		{"day in another zone is UTC", persistence.PeriodDay, "2026-03-10T03:00:00+05:00", 24 * time.Hour,
			[]string{"2026-03-08T00:00:00Z"}, "2026-03-10T00:05:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := at(tc.now)
			got := duePeriods(tc.kind, now, settle, tc.lookback)
			var want []time.Time
			for _, s := range tc.want {
				want = append(want, at(s))
			}
			if tc.want == nil {
				if len(got) != 48 || !got[47].Equal(at("2026-03-10T11:00:00Z")) || !got[0].Equal(at("2026-03-08T12:00:00Z")) {
					t.Fatalf("duePeriods = %d periods %v..., want the 48 hours 2026-03-08T12 to 2026-03-10T11", len(got), got[:min(len(got), 1)])
				}
			} else if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Fatalf("duePeriods = %v, want %v", got, want)
			}
			for _, s := range got {
				if s.Location() != time.UTC {
					t.Errorf("start %v is not UTC", s)
				}
			}
			if next := nextDue(tc.kind, now, settle); !next.Equal(at(tc.next)) {
				t.Errorf("nextDue = %v, want %s", next, tc.next)
			}
		})
	}
}
