// Package storetest owns the conformance suite every actors.Store
// implementation must pass: profile round trips, idempotent match creation,
// first-wins votes and results under races, history and recent-partner
// queries, and ErrNotFound where the interface promises it.
//
// Concurrency: Run drives the store from many goroutines in some subtests;
// the store under test must be safe for concurrent use. The subtests use
// fresh, randomly prefixed ids, so one store may serve all of them.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per subtest; it may return a new store or a shared one.
func Run(t *testing.T, open func(t *testing.T) actors.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"Ping", testPing},
		{"ProfileRoundTrip", testProfileRoundTrip},
		{"ProfileReplace", testProfileReplace},
		{"ProfileNotFound", testProfileNotFound},
		{"CreateMatchTwiceIsNoOp", testCreateMatchTwice},
		{"DuplicateVoteKeepsFirst", testDuplicateVote},
		{"RacingVotesAgree", testRacingVotes},
		{"RacingResultsAgree", testRacingResults},
		{"NotFound", testNotFound},
		{"InvalidValuesRejected", testInvalidValues},
		{"MatchHistory", testMatchHistory},
		{"RecentPartners", testRecentPartners},
		{"WaitSamplesAndAudit", testAppendOnly},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixture{t: t, store: open(t), prefix: randomPrefix(t)}
			tc.run(t, f)
		})
	}
}

// fixture carries one subtest's store and id namespace.
type fixture struct {
	t      *testing.T
	store  actors.Store
	prefix string
}

// id returns an id unique to this subtest.
func (f *fixture) id(name string) string { return f.prefix + name }

// ctx returns a context that ends with the subtest, bounded so a hung store
// fails the test instead of stalling it.
func (f *fixture) ctx() context.Context {
	ctx, cancel := context.WithTimeout(f.t.Context(), 30*time.Second)
	f.t.Cleanup(cancel)
	return ctx
}

// match returns a match between users a and b created at the given time,
// with times at microsecond precision (what PostgreSQL keeps).
func (f *fixture) match(id, a, b string, at time.Time) persistence.Match {
	return persistence.Match{
		ID:           f.id(id),
		Pool:         "default",
		A:            persistence.Participant{UserID: f.id(a), DisplayName: "name of " + a, Gender: "female"},
		B:            persistence.Participant{UserID: f.id(b), DisplayName: "name of " + b, Gender: "male"},
		CreatedAt:    at,
		DateEndsAt:   at.Add(3 * time.Minute),
		VoteDeadline: at.Add(3*time.Minute + 30*time.Second),
		WaitA:        1500 * time.Millisecond,
		WaitB:        42 * time.Second,
	}
}

// mustCreate creates m or fails the test.
func (f *fixture) mustCreate(m persistence.Match) {
	f.t.Helper()
	if err := f.store.CreateMatch(f.ctx(), m); err != nil {
		f.t.Fatalf("CreateMatch(%s): %v", m.ID, err)
	}
}

// mustResult records a result or fails the test.
func (f *fixture) mustResult(matchID, result string) {
	f.t.Helper()
	got, err := f.store.RecordResult(f.ctx(), matchID, result)
	if err != nil || got != result {
		f.t.Fatalf("RecordResult(%s, %s) = %q, %v", matchID, result, got, err)
	}
}

// baseTime is a fixed instant at microsecond precision, in UTC.
func baseTime() time.Time {
	return time.Date(2025, 6, 1, 12, 0, 0, 123456000, time.UTC)
}

// randomPrefix returns a short random id prefix so subtests never collide,
// even on a store shared across runs.
func randomPrefix(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random prefix: %v", err)
	}
	return fmt.Sprintf("st-%s-", hex.EncodeToString(b[:]))
}
