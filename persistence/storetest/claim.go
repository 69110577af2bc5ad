package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// prior is a match that exists before the one a test creates.
type prior struct {
	id, a, b string
	at       time.Duration // created at baseTime()+at
	deadline time.Duration // vote deadline at baseTime()+deadline
	result   string        // recorded before the test; "" for none
}

func testCreateMatchClaims(t *testing.T, f *fixture) {
	t0 := baseTime()
	// Every case then creates "new" between a and b at t0.
	cases := []struct {
		name     string
		priors   []prior
		conflict bool
		// results are the stored results of priors afterwards: no_match
		// for one settled as stale, "" for one still without a result.
		results map[string]string
		free    []string // users claimed by no match afterwards
	}{
		{name: "partners free"},
		{
			name:     "A in an unsettled match",
			priors:   []prior{{"p1", "a", "x", -time.Minute, 3 * time.Minute, ""}},
			conflict: true,
			results:  map[string]string{"p1": ""},
		},
		{
			name:     "B in an unsettled match",
			priors:   []prior{{"p1", "y", "b", -time.Minute, 3 * time.Minute, ""}},
			conflict: true,
			results:  map[string]string{"p1": ""},
		},
		{
			name:     "both in another match together",
			priors:   []prior{{"p1", "b", "a", -time.Minute, 3 * time.Minute, ""}},
			conflict: true,
			results:  map[string]string{"p1": ""},
		},
		{
			name:    "A's match has a result",
			priors:  []prior{{"p1", "a", "x", -time.Minute, 3 * time.Minute, persistence.ResultMutual}},
			results: map[string]string{"p1": persistence.ResultMutual},
			free:    []string{"x"},
		},
		{
			name:    "A's match is past its vote deadline",
			priors:  []prior{{"p1", "a", "x", -10 * time.Minute, -time.Minute, ""}},
			results: map[string]string{"p1": persistence.ResultNoMatch},
			free:    []string{"x"},
		},
		{
			name:    "A's vote deadline is the new match's creation time",
			priors:  []prior{{"p1", "x", "a", -10 * time.Minute, 0, ""}},
			results: map[string]string{"p1": persistence.ResultNoMatch},
			free:    []string{"x"},
		},
		{
			name:     "A's vote deadline a millisecond after the creation time",
			priors:   []prior{{"p1", "a", "x", -10 * time.Minute, time.Millisecond, ""}},
			conflict: true,
			results:  map[string]string{"p1": ""},
		},
		{
			name: "B's match stale but A busy: nothing settled",
			priors: []prior{
				{"p1", "a", "x", -time.Minute, 3 * time.Minute, ""},
				{"p2", "y", "b", -10 * time.Minute, -time.Minute, ""},
			},
			conflict: true,
			results:  map[string]string{"p1": "", "p2": ""},
		},
		{
			name: "A's match stale but B busy: nothing settled",
			priors: []prior{
				{"p1", "a", "x", -10 * time.Minute, -time.Minute, ""},
				{"p2", "y", "b", -time.Minute, 3 * time.Minute, ""},
			},
			conflict: true,
			results:  map[string]string{"p1": "", "p2": ""},
		},
		{
			name: "both partners' matches stale",
			priors: []prior{
				{"p1", "a", "x", -10 * time.Minute, -time.Minute, ""},
				{"p2", "y", "b", -10 * time.Minute, -2 * time.Minute, ""},
			},
			results: map[string]string{"p1": persistence.ResultNoMatch, "p2": persistence.ResultNoMatch},
			free:    []string{"x", "y"},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := f.sub(t, fmt.Sprint("c", i))
			for _, p := range tc.priors {
				f.mustCreate(f.matchUntil(p.id, p.a, p.b, t0.Add(p.at), t0.Add(p.deadline)))
				if p.result != "" {
					f.mustResult(f.id(p.id), p.result)
				}
			}
			qa, qb := f.queueEntry("a", "pool", msTime(time.Second)), f.queueEntry("b", "pool", msTime(time.Second))
			f.mustPut(qa, qb)

			m := f.match("new", "a", "b", t0)
			_, err := f.store.CreateMatch(f.ctx(), m)
			if tc.conflict {
				if !errors.Is(err, persistence.ErrConflict) {
					t.Fatalf("CreateMatch = %v, want ErrConflict", err)
				}
				// Nothing recorded: no match, queue places kept.
				if _, err := f.store.Votes(f.ctx(), m.ID); !errors.Is(err, persistence.ErrNotFound) {
					t.Fatalf("Votes of the refused match = %v, want ErrNotFound", err)
				}
				for _, e := range []persistence.QueueEntry{qa, qb} {
					if _, err := f.store.QueueEntry(f.ctx(), e.UserID); err != nil {
						t.Errorf("QueueEntry(%s) after the refused match: %v, want it kept", e.UserID, err)
					}
				}
			} else {
				if err != nil {
					t.Fatalf("CreateMatch: %v", err)
				}
				for _, u := range []string{"a", "b"} {
					assertActive(t, f, u, t0, m)
				}
			}
			for _, u := range tc.free {
				assertNoActive(t, f, u, time.Time{})
			}
			for id, want := range tc.results {
				assertResult(t, f, f.id(id), want)
			}
		})
	}
}

func testConflictClearedByResult(t *testing.T, f *fixture) {
	t0 := baseTime()
	first := f.match("m1", "a", "b", t0)
	f.mustCreate(first)
	second := f.match("m2", "c", "a", t0.Add(time.Minute))
	if _, err := f.store.CreateMatch(f.ctx(), second); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("CreateMatch while a is in m1 = %v, want ErrConflict", err)
	}
	f.mustResult(first.ID, persistence.ResultNoMatch)
	f.mustCreate(second)
	assertActive(t, f, "a", t0.Add(time.Minute), second)
	assertActive(t, f, "c", t0.Add(time.Minute), second)
	assertNoActive(t, f, "b", time.Time{})
	// b is free too.
	f.mustCreate(f.match("m3", "b", "d", t0.Add(time.Minute)))
}

func testStaleMatchSettled(t *testing.T, f *fixture) {
	t0 := baseTime()
	stale := f.match("stale", "a", "b", t0) // vote deadline t0+3m30s, never settled
	f.mustCreate(stale)
	if _, err := f.store.RecordVote(f.ctx(), stale.ID, stale.A.UserID, persistence.ChoiceYes); err != nil {
		t.Fatalf("RecordVote: %v", err)
	}
	next := f.match("next", "c", "a", stale.VoteDeadline.Add(time.Second))
	f.mustCreate(next)
	assertActive(t, f, "a", next.CreatedAt, next)
	// The stale match was settled as no_match and let b go: b may join a
	// match created even before the stale match's deadline.
	assertNoActive(t, f, "b", time.Time{})
	f.mustCreate(f.match("other", "b", "d", t0.Add(time.Minute)))
	assertResult(t, f, stale.ID, persistence.ResultNoMatch)
	hist, err := f.store.MatchHistory(f.ctx(), stale.A.UserID, 10)
	if err != nil || len(hist) != 0 {
		t.Fatalf("MatchHistory of a = %+v, %v; want none", hist, err)
	}
	votes, err := f.store.Votes(f.ctx(), stale.ID)
	if err != nil || len(votes) != 1 {
		t.Fatalf("Votes of the stale match = %v, %v; want the one vote", votes, err)
	}
}

// testStaleMatchSettledFromVotes: a stale match whose partners both voted
// yes (its grain and sessions were lost before it settled) is settled
// mutual, not no_match, when a partner's next match forms.
func testStaleMatchSettledFromVotes(t *testing.T, f *fixture) {
	t0 := baseTime()
	stale := f.match("stale", "a", "b", t0)
	f.mustCreate(stale)
	for _, u := range []string{stale.A.UserID, stale.B.UserID} {
		if _, err := f.store.RecordVote(f.ctx(), stale.ID, u, persistence.ChoiceYes); err != nil {
			t.Fatalf("RecordVote: %v", err)
		}
	}
	f.mustCreate(f.match("next", "c", "a", stale.VoteDeadline.Add(time.Second)))
	assertResult(t, f, stale.ID, persistence.ResultMutual)
	hist, err := f.store.MatchHistory(f.ctx(), stale.A.UserID, 10)
	if err != nil || len(hist) != 1 || hist[0].MatchID != stale.ID {
		t.Fatalf("MatchHistory of a = %+v, %v; want the mutual stale match", hist, err)
	}
}

func testActiveMatch(t *testing.T, f *fixture) {
	t0 := baseTime()
	m := f.match("m", "a", "b", t0)
	f.mustCreate(m)
	cases := []struct {
		name  string
		user  string
		since time.Time
		found bool
	}{
		{"partner A", "a", t0, true},
		{"partner B", "b", t0, true},
		{"long before", "a", time.Time{}, true},
		{"just before the vote deadline", "b", m.VoteDeadline.Add(-time.Microsecond), true},
		{"at the vote deadline", "a", m.VoteDeadline, false},
		{"after the vote deadline", "b", m.VoteDeadline.Add(time.Minute), false},
		{"stranger", "x", t0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.found {
				assertActive(t, f, tc.user, tc.since, m)
			} else {
				assertNoActive(t, f, tc.user, tc.since)
			}
		})
	}
	t.Run("after the result", func(t *testing.T) {
		f.mustResult(m.ID, persistence.ResultMutual)
		assertNoActive(t, f, "a", time.Time{})
		assertNoActive(t, f, "b", time.Time{})
	})
}

func testRacingCreateMatch(t *testing.T, f *fixture) {
	t0 := baseTime()
	cases := []struct {
		name   string
		match  func(f *fixture, i int) persistence.Match
		sameID bool // every racer creates one match: all succeed
	}{
		{
			// Partners sort before and after the shared user, so the
			// racers claim their users in both orders.
			name: "one shared user",
			match: func(f *fixture, i int) persistence.Match {
				partner := fmt.Sprintf("%c%02d", "az"[i%2], i)
				if i%3 == 0 {
					return f.match(fmt.Sprint("m", i), partner, "m", t0)
				}
				return f.match(fmt.Sprint("m", i), "m", partner, t0)
			},
		},
		{
			name: "same pair, different ids",
			match: func(f *fixture, i int) persistence.Match {
				if i%2 == 0 {
					return f.match(fmt.Sprint("m", i), "a", "m", t0)
				}
				return f.match(fmt.Sprint("m", i), "m", "a", t0)
			},
		},
		{
			name:   "same id",
			match:  func(f *fixture, i int) persistence.Match { return f.match("m", "a", "m", t0) },
			sameID: true,
		},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := f.sub(t, fmt.Sprint("c", ci))
			matches := make([]persistence.Match, racers)
			for i := range matches {
				matches[i] = tc.match(f, i)
				for _, p := range []persistence.Participant{matches[i].A, matches[i].B} {
					f.mustPut(persistence.QueueEntry{UserID: p.UserID, Pool: f.id("pool"), Gender: p.Gender, EnqueuedAt: msTime(0)})
				}
			}
			var (
				start = make(chan struct{})
				wg    sync.WaitGroup
				errs  = make([]error, racers)
			)
			for i := range racers {
				wg.Go(func() {
					<-start
					_, errs[i] = f.store.CreateMatch(f.ctx(), matches[i])
				})
			}
			close(start)
			wg.Wait()

			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && (winner < 0 || tc.sameID):
					winner = i
				case err == nil:
					t.Fatalf("racers %d and %d both created a match with the shared user", winner, i)
				case tc.sameID || !errors.Is(err, persistence.ErrConflict):
					t.Fatalf("racer %d: %v, want nil or ErrConflict", i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no racer created a match: %v", errs)
			}
			won := matches[winner]
			assertActive(t, f, "m", t0, won)
			inWinner := map[string]bool{won.A.UserID: true, won.B.UserID: true}
			for i, m := range matches {
				if m.ID != won.ID {
					if _, err := f.store.Votes(f.ctx(), m.ID); !errors.Is(err, persistence.ErrNotFound) {
						t.Errorf("Votes of losing match %d = %v, want ErrNotFound", i, err)
					}
				}
				for _, p := range []persistence.Participant{m.A, m.B} {
					_, err := f.store.QueueEntry(f.ctx(), p.UserID)
					if inWinner[p.UserID] != errors.Is(err, persistence.ErrNotFound) {
						t.Errorf("QueueEntry(%s) = %v; in the winning match: %v", p.UserID, err, inWinner[p.UserID])
					}
					if !inWinner[p.UserID] {
						if got, err := f.store.ActiveMatch(f.ctx(), p.UserID, time.Time{}); err == nil {
							t.Errorf("loser %s is in match %s, want in none", p.UserID, got.ID)
						}
					}
				}
			}
		})
	}
}

// assertActive fails the test unless user's active match since the given
// time is want, field by field with times compared as instants.
func assertActive(t *testing.T, f *fixture, user string, since time.Time, want persistence.Match) {
	t.Helper()
	got, err := f.store.ActiveMatch(f.ctx(), f.id(user), since)
	if err != nil {
		t.Fatalf("ActiveMatch(%s, %v): %v, want match %s", user, since, err, want.ID)
	}
	if got.ID != want.ID || got.Pool != want.Pool || got.A != want.A || got.B != want.B ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.DateEndsAt.Equal(want.DateEndsAt) ||
		!got.VoteDeadline.Equal(want.VoteDeadline) || got.WaitA != want.WaitA || got.WaitB != want.WaitB {
		t.Fatalf("ActiveMatch(%s) = %+v, want %+v", user, got, want)
	}
}

// assertNoActive fails the test unless user has no active match since the
// given time.
func assertNoActive(t *testing.T, f *fixture, user string, since time.Time) {
	t.Helper()
	got, err := f.store.ActiveMatch(f.ctx(), f.id(user), since)
	if !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("ActiveMatch(%s, %v) = %+v, %v; want ErrNotFound", user, since, got, err)
	}
}

// assertResult fails the test unless matchID's stored result is want, ""
// meaning none. It probes by recording the other result, so it records
// one when there was none.
func assertResult(t *testing.T, f *fixture, matchID, want string) {
	t.Helper()
	probe := persistence.ResultMutual
	if want == persistence.ResultMutual {
		probe = persistence.ResultNoMatch
	}
	got, err := f.store.RecordResult(f.ctx(), matchID, probe)
	if err != nil {
		t.Fatalf("RecordResult(%s): %v", matchID, err)
	}
	switch {
	case want == "" && got != probe:
		t.Fatalf("match %s has result %q, want none", matchID, got)
	case want != "" && got != want:
		t.Fatalf("match %s has result %q, want %q", matchID, got, want)
	}
}
