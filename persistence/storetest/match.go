package storetest

import (
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// racers is how many goroutines race each first-wins write.
const racers = 20

func testCreateMatchTwice(t *testing.T, f *fixture) {
	m := f.match("m", "a", "b", baseTime())
	changed := m
	changed.B.DisplayName = "impostor"
	changed.CreatedAt = m.CreatedAt.Add(time.Hour)
	// created says which call inserted the match: only the first.
	for i, c := range []persistence.Match{m, changed, m} {
		created, err := f.store.CreateMatch(f.ctx(), c)
		if err != nil || created != (i == 0) {
			t.Fatalf("CreateMatch #%d = %v, %v; want created %v", i+1, created, err, i == 0)
		}
	}

	// The first record is the one kept: the history shows its partner name
	// and creation time.
	f.mustResult(m.ID, persistence.ResultMutual)
	hist, err := f.store.MatchHistory(f.ctx(), m.A.UserID, 10)
	if err != nil {
		t.Fatalf("MatchHistory: %v", err)
	}
	if len(hist) != 1 {
		t.Fatalf("history has %d entries, want 1: %+v", len(hist), hist)
	}
	if hist[0].Partner != m.B || !hist[0].MatchedAt.Equal(m.CreatedAt) {
		t.Fatalf("history entry = %+v, want partner %+v at %v", hist[0], m.B, m.CreatedAt)
	}
}

func testDuplicateVote(t *testing.T, f *fixture) {
	m := f.match("m", "a", "b", baseTime())
	f.mustCreate(m)
	steps := []struct {
		voter, choice, want string
	}{
		{m.A.UserID, persistence.ChoiceYes, persistence.ChoiceYes},
		{m.A.UserID, persistence.ChoiceNo, persistence.ChoiceYes},
		{m.A.UserID, persistence.ChoiceYes, persistence.ChoiceYes},
		{m.B.UserID, persistence.ChoiceNo, persistence.ChoiceNo},
		{m.B.UserID, persistence.ChoiceYes, persistence.ChoiceNo},
	}
	for i, s := range steps {
		got, err := f.store.RecordVote(f.ctx(), m.ID, s.voter, s.choice)
		if err != nil || got != s.want {
			t.Fatalf("step %d: RecordVote(%s, %s) = %q, %v; want %q", i, s.voter, s.choice, got, err, s.want)
		}
	}
	votes, err := f.store.Votes(f.ctx(), m.ID)
	if err != nil {
		t.Fatalf("Votes: %v", err)
	}
	want := map[string]string{m.A.UserID: persistence.ChoiceYes, m.B.UserID: persistence.ChoiceNo}
	if !maps.Equal(votes, want) {
		t.Fatalf("Votes = %v, want %v", votes, want)
	}
}

func testRacingVotes(t *testing.T, f *fixture) {
	m := f.match("m", "a", "b", baseTime())
	f.mustCreate(m)
	got := race(t, func(i int) (string, error) {
		choice := persistence.ChoiceYes
		if i%2 == 1 {
			choice = persistence.ChoiceNo
		}
		return f.store.RecordVote(f.ctx(), m.ID, m.A.UserID, choice)
	})
	votes, err := f.store.Votes(f.ctx(), m.ID)
	if err != nil {
		t.Fatalf("Votes: %v", err)
	}
	if want := map[string]string{m.A.UserID: got}; !maps.Equal(votes, want) {
		t.Fatalf("Votes = %v, want %v", votes, want)
	}
}

func testRacingResults(t *testing.T, f *fixture) {
	m := f.match("m", "a", "b", baseTime())
	f.mustCreate(m)
	got := race(t, func(i int) (string, error) {
		result := persistence.ResultMutual
		if i%2 == 1 {
			result = persistence.ResultNoMatch
		}
		return f.store.RecordResult(f.ctx(), m.ID, result)
	})
	// A later write still returns the stored result.
	again, err := f.store.RecordResult(f.ctx(), m.ID, other(got))
	if err != nil || again != got {
		t.Fatalf("RecordResult after race = %q, %v; want %q", again, err, got)
	}
	hist, err := f.store.MatchHistory(f.ctx(), m.A.UserID, 10)
	if err != nil {
		t.Fatalf("MatchHistory: %v", err)
	}
	if mutual := got == persistence.ResultMutual; mutual != (len(hist) == 1) {
		t.Fatalf("stored result %q but history = %+v", got, hist)
	}
}

// race calls write from racers goroutines at once and fails the test unless
// every call succeeds with the same value, which it returns.
func race(t *testing.T, write func(i int) (string, error)) string {
	t.Helper()
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		results = make([]string, racers)
		errs    = make([]error, racers)
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = write(i)
		})
	}
	close(start)
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Fatalf("racers disagree: %q", results)
		}
	}
	return results[0]
}

// other returns the result that is not r.
func other(r string) string {
	if r == persistence.ResultMutual {
		return persistence.ResultNoMatch
	}
	return persistence.ResultMutual
}

func testNotFound(t *testing.T, f *fixture) {
	m := f.match("m", "a", "b", baseTime())
	f.mustCreate(m)
	cases := []struct {
		name string
		call func() error
	}{
		{"vote on unknown match", func() error {
			_, err := f.store.RecordVote(f.ctx(), f.id("nope"), m.A.UserID, persistence.ChoiceYes)
			return err
		}},
		{"vote by a stranger", func() error {
			_, err := f.store.RecordVote(f.ctx(), m.ID, f.id("stranger"), persistence.ChoiceYes)
			return err
		}},
		{"votes of unknown match", func() error {
			_, err := f.store.Votes(f.ctx(), f.id("nope"))
			return err
		}},
		{"result of unknown match", func() error {
			_, err := f.store.RecordResult(f.ctx(), f.id("nope"), persistence.ResultMutual)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, persistence.ErrNotFound) {
				t.Fatalf("error = %v, want ErrNotFound", err)
			}
		})
	}
	votes, err := f.store.Votes(f.ctx(), m.ID)
	if err != nil || len(votes) != 0 {
		t.Fatalf("Votes after refused votes = %v, %v; want none", votes, err)
	}
}

func testInvalidValues(t *testing.T, f *fixture) {
	m := f.match("m", "a", "b", baseTime())
	f.mustCreate(m)
	if _, err := f.store.RecordVote(f.ctx(), m.ID, m.A.UserID, "maybe"); err == nil {
		t.Errorf("RecordVote(maybe) succeeded, want an error")
	}
	if _, err := f.store.RecordResult(f.ctx(), m.ID, "draw"); err == nil {
		t.Errorf("RecordResult(draw) succeeded, want an error")
	}
	votes, err := f.store.Votes(f.ctx(), m.ID)
	if err != nil || len(votes) != 0 {
		t.Fatalf("Votes after invalid vote = %v, %v; want none", votes, err)
	}
}
