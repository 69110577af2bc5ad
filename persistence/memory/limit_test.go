package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// TestMatchLimit: past matchLimit the oldest settled matches are
// forgotten (with their votes, results and places in the users' lists),
// an open match is kept however old, and the newest stay queryable.
func TestMatchLimit(t *testing.T) {
	ctx := context.Background()
	s := New()
	s.matchLimit = 3
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	create := func(i int, a, b string) string {
		t.Helper()
		at := t0.Add(time.Duration(i) * time.Minute)
		m := persistence.Match{ID: fmt.Sprintf("m%d", i), Pool: "p", A: persistence.Participant{UserID: a}, B: persistence.Participant{UserID: b},
			CreatedAt: at, DateEndsAt: at.Add(30 * time.Second), VoteDeadline: at.Add(40 * time.Second)}
		if _, err := s.CreateMatch(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	settle := func(id string) {
		t.Helper()
		for _, v := range []string{"a", "b"} {
			_, _ = s.RecordVote(ctx, id, v, persistence.ChoiceYes)
		}
		if _, err := s.RecordResult(ctx, id, persistence.ResultMutual); err != nil {
			t.Fatal(err)
		}
	}
	// m0 stays open (c and d never vote) and its deadline is far ahead.
	open := persistence.Match{ID: "open", Pool: "p", A: persistence.Participant{UserID: "c"}, B: persistence.Participant{UserID: "d"},
		CreatedAt: t0, DateEndsAt: t0.Add(time.Hour), VoteDeadline: t0.Add(2 * time.Hour)}
	if _, err := s.CreateMatch(ctx, open); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		settle(create(i, "a", "b"))
	}
	s.mu.Lock()
	n, votes, results, ids := len(s.matches), s.nVotes, s.nResults, append([]string(nil), s.byUser["a"]...)
	s.mu.Unlock()
	// The open match holds its place: it and the two newest settled ones.
	if n != 3 || results != 2 || votes != 4 {
		t.Fatalf("%d matches, %d results, %d votes kept, want 3, 2, 4", n, results, votes)
	}
	if fmt.Sprint(ids) != "[m5 m6]" {
		t.Fatalf("a's matches %v, want [m5 m6]", ids)
	}
	h, err := s.MatchHistory(ctx, "a", 10)
	if err != nil || len(h) != 2 || h[0].MatchID != "m6" {
		t.Fatalf("history %+v %v", h, err)
	}
	if m, err := s.ActiveMatch(ctx, "c", t0.Add(time.Minute)); err != nil || m.ID != "open" {
		t.Fatalf("the open match was forgotten: %+v %v", m, err)
	}
	if _, err := s.Votes(ctx, "m1"); err == nil {
		t.Fatal("a forgotten match still has votes")
	}
	// Once its deadline has passed, the open match goes too.
	s.mu.Lock()
	s.matchLimit = 0
	s.forgetLocked(t0.Add(3 * time.Hour))
	n, users := len(s.matches), len(s.byUser)
	s.mu.Unlock()
	if n != 0 || users != 0 {
		t.Fatalf("%d matches and %d users' lists kept at limit 0", n, users)
	}
	if _, err := s.ActiveMatch(ctx, "c", t0); err == nil {
		t.Fatal("a match past its deadline was kept past the limit")
	}
}
