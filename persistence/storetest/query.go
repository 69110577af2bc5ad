package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

func testMatchHistory(t *testing.T, f *fixture) {
	t0 := baseTime()
	// "me" matches p1..p5 at t0+1m..t0+5m; a stranger pair is mutual too.
	type setup struct {
		id, a, b string
		at       time.Duration
		result   string // "" for none yet
	}
	setups := []setup{
		{"m1", "me", "p1", 1 * time.Minute, persistence.ResultMutual},
		{"m2", "p2", "me", 2 * time.Minute, persistence.ResultMutual},
		{"m3", "me", "p3", 3 * time.Minute, persistence.ResultNoMatch},
		{"m5", "p5", "me", 5 * time.Minute, persistence.ResultMutual},
		// Created last: a match without a result claims "me" until its
		// vote deadline, and would refuse the ones after it.
		{"m4", "me", "p4", 4 * time.Minute, ""},
		{"m6", "x", "y", 6 * time.Minute, persistence.ResultMutual},
	}
	for _, s := range setups {
		f.mustCreate(f.match(s.id, s.a, s.b, t0.Add(s.at)))
		if s.result != "" {
			f.mustResult(f.id(s.id), s.result)
		}
	}
	cases := []struct {
		name  string
		user  string
		limit int
		want  []string // match ids, newest first
	}{
		{"all mutual newest first", "me", 10, []string{"m5", "m2", "m1"}},
		{"limit", "me", 2, []string{"m5", "m2"}},
		{"partner side", "p2", 10, []string{"m2"}},
		{"no mutual", "p3", 10, nil},
		{"unknown user", "ghost", 10, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hist, err := f.store.MatchHistory(f.ctx(), f.id(tc.user), tc.limit)
			if err != nil {
				t.Fatalf("MatchHistory: %v", err)
			}
			var ids []string
			for _, h := range hist {
				ids = append(ids, h.MatchID)
			}
			var want []string
			for _, id := range tc.want {
				want = append(want, f.id(id))
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("history ids = %v, want %v", ids, want)
			}
		})
	}
	t.Run("entry contents", func(t *testing.T) {
		hist, err := f.store.MatchHistory(f.ctx(), f.id("me"), 1)
		if err != nil || len(hist) != 1 {
			t.Fatalf("MatchHistory = %+v, %v", hist, err)
		}
		want := persistence.HistoryEntry{
			MatchID: f.id("m5"),
			Partner: persistence.Participant{UserID: f.id("p5"), DisplayName: "name of p5", Gender: "female"},
		}
		if got := hist[0]; got.MatchID != want.MatchID || got.Partner != want.Partner || !got.MatchedAt.Equal(t0.Add(5*time.Minute)) {
			t.Fatalf("entry = %+v, want %+v at %v", got, want, t0.Add(5*time.Minute))
		}
	})
}

func testRecentPartners(t *testing.T, f *fixture) {
	t0 := baseTime()
	type setup struct {
		id, a, b string
		at       time.Duration
		result   string
	}
	setups := []setup{
		{"old", "me", "p-old", -time.Hour, persistence.ResultMutual},
		{"m1", "me", "p1", time.Minute, persistence.ResultNoMatch},
		{"m2", "p2", "me", 2 * time.Minute, persistence.ResultMutual},
		{"m3", "me", "p3", 3 * time.Minute, persistence.ResultNoMatch},
		// p1 again: listed once. Without a result, and last for "me": an
		// unsettled match refuses the ones after it until its deadline.
		{"m4", "me", "p1", 4 * time.Minute, ""},
		{"m5", "x", "y", 5 * time.Minute, ""},
	}
	for _, s := range setups {
		f.mustCreate(f.match(s.id, s.a, s.b, t0.Add(s.at)))
		if s.result != "" {
			f.mustResult(f.id(s.id), s.result)
		}
	}
	cases := []struct {
		name  string
		user  string
		since time.Time
		want  []string
	}{
		{"since t0", "me", t0, []string{"p1", "p2", "p3"}},
		{"since long ago", "me", t0.Add(-24 * time.Hour), []string{"p-old", "p1", "p2", "p3"}},
		{"since inclusive", "me", t0.Add(3 * time.Minute), []string{"p1", "p3"}},
		{"from the other side", "p2", t0, []string{"me"}},
		{"nothing recent", "me", t0.Add(time.Hour), nil},
		{"unknown user", "ghost", t0.Add(-24 * time.Hour), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.store.RecentPartners(f.ctx(), f.id(tc.user), tc.since)
			if err != nil {
				t.Fatalf("RecentPartners: %v", err)
			}
			var want []string
			for _, id := range tc.want {
				want = append(want, f.id(id))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("RecentPartners = %v, want %v", got, want)
			}
		})
	}
}

func testAppendOnly(t *testing.T, f *fixture) {
	for i := range 3 {
		s := persistence.WaitSample{Pool: "default", Gender: "male", Wait: time.Duration(i+1) * time.Second, Outcome: "matched", At: baseTime()}
		if err := f.store.RecordWaitSample(f.ctx(), s); err != nil {
			t.Fatalf("RecordWaitSample: %v", err)
		}
		e := persistence.AuditEntry{At: baseTime(), Actor: "system", Action: "test", Detail: f.id("detail")}
		if err := f.store.Audit(f.ctx(), e); err != nil {
			t.Fatalf("Audit: %v", err)
		}
	}
}

// testAuditLog: the audit log reads back newest first (ties: the later
// written first), every field kept, at most limit lines.
func testAuditLog(t *testing.T, f *fixture) {
	// Far in the future, so these are the store's newest lines.
	at := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	write := []persistence.AuditEntry{
		{At: at, Actor: "test-key", Action: "POST /api/test/spin", Target: f.id("u1"), IP: "127.0.0.1", Detail: f.id("1")},
		{At: at.Add(time.Second), Actor: "admin-key", Action: "POST /api/admin/reports/run", Detail: f.id("2")},
		{At: at.Add(time.Second), Actor: "development", Action: "POST /api/test/vote", Target: f.id("u2"), IP: "::1", Detail: f.id("3")},
		{At: at.Add(-time.Second), Actor: "test-key", Action: "GET /api/test/db-stats", IP: "10.0.0.7", Detail: f.id("4")},
	}
	for _, e := range write {
		if err := f.store.Audit(f.ctx(), e); err != nil {
			t.Fatalf("Audit: %v", err)
		}
	}
	got, err := f.store.AuditLog(f.ctx(), 3)
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	want := []persistence.AuditEntry{write[2], write[1], write[0]}
	if len(got) != len(want) {
		t.Fatalf("AuditLog(3) = %d lines %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !got[i].At.Equal(want[i].At) || got[i].Actor != want[i].Actor || got[i].Action != want[i].Action ||
			got[i].Target != want[i].Target || got[i].IP != want[i].IP || got[i].Detail != want[i].Detail {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, err := f.store.AuditLog(f.ctx(), 0); err != nil || len(got) != 0 {
		t.Errorf("AuditLog(0) = %v, %v; want none", got, err)
	}
}
