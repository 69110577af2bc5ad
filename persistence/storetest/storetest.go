// Package storetest owns the conformance suite every actors.Store
// implementation must pass: profile round trips, idempotent match creation,
// first-wins votes and results under races, history and recent-partner
// queries, queue entries, the one-unsettled-match-per-user claim that
// CreateMatch takes (conflicts, stale matches, racing creations), period
// summaries and report upserts (one report per period under racing writers), and
// ErrNotFound where the interface promises it.
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
		{"AuditLogNewestFirst", testAuditLog},
		{"QueueEntryRoundTrip", testQueueEntryRoundTrip},
		{"QueueEntryReplace", testQueueEntryReplace},
		{"QueueEntryNotFound", testQueueEntryNotFound},
		{"DeleteQueueEntry", testDeleteQueueEntry},
		{"QueueEntriesOrder", testQueueEntries},
		{"QueueEntriesStaleClaimListed", testStaleClaimListed},
		{"CreateMatchDeletesQueueEntries", testCreateMatchDeletesQueueEntries},
		{"CreateMatchClaims", testCreateMatchClaims},
		{"ConflictClearedByResult", testConflictClearedByResult},
		{"StaleMatchSettled", testStaleMatchSettled},
		{"StaleMatchSettledFromVotes", testStaleMatchSettledFromVotes},
		{"CreateMatchNeedsThePlaces", testCreateMatchNeedsThePlaces},
		{"ActiveMatch", testActiveMatch},
		{"RacingCreateMatch", testRacingCreateMatch},
		{"SummarizePeriod", testSummarizePeriod},
		{"ReportUpsert", testReportUpsert},
		{"RacingPutReport", testRacingPutReport},
		{"Stats", testStats},
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

// sub returns a fixture for the nested test t on the same store, whose ids
// are unique to name as well.
func (f *fixture) sub(t *testing.T, name string) *fixture {
	return &fixture{t: t, store: f.store, prefix: f.prefix + name + "-"}
}

// matchUntil is match with the given vote deadline (and the date ending no
// later than it).
func (f *fixture) matchUntil(id, a, b string, at, voteDeadline time.Time) persistence.Match {
	m := f.match(id, a, b, at)
	m.VoteDeadline = voteDeadline
	if m.DateEndsAt.After(voteDeadline) {
		m.DateEndsAt = voteDeadline
	}
	return m
}

// queueEntry returns user's queue entry in pool (both names made unique to
// the subtest), enqueued at the given time.
func (f *fixture) queueEntry(user, pool string, at time.Time) persistence.QueueEntry {
	return persistence.QueueEntry{
		UserID:      f.id(user),
		Pool:        f.id(pool),
		DisplayName: "name of " + user,
		Gender:      "nonbinary",
		Seeking:     []string{"female", "nonbinary"},
		EnqueuedAt:  at,
	}
}

// mustPut stores the queue entries or fails the test.
func (f *fixture) mustPut(entries ...persistence.QueueEntry) {
	f.t.Helper()
	for _, e := range entries {
		if err := f.store.PutQueueEntry(f.ctx(), e); err != nil {
			f.t.Fatalf("PutQueueEntry(%s): %v", e.UserID, err)
		}
	}
}

// mustCreate creates m or fails the test.
func (f *fixture) mustCreate(m persistence.Match) {
	f.t.Helper()
	if _, err := f.store.CreateMatch(f.ctx(), m); err != nil {
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

// msTime is baseTime plus d, rebuilt from Unix milliseconds as the callers
// of the queue methods do (so in the local zone, at millisecond precision).
func msTime(d time.Duration) time.Time {
	return time.UnixMilli(baseTime().Add(d).UnixMilli())
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
