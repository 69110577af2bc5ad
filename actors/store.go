package actors

import (
	"context"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// Store is what the grains need from durable storage. Implementations live in
// persistence/memory (the embedded default) and persistence/pg (PostgreSQL).
//
// Errors: persistence.ErrNotFound for a missing record; anything wrapping
// persistence.ErrUnavailable (or any other error) means the write did not
// happen or its outcome is unknown, and the same call may be retried safely,
// because every write below is idempotent.
type Store interface {
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error

	// Profile returns a user's profile, or persistence.ErrNotFound.
	Profile(ctx context.Context, userID string) (persistence.Profile, error)
	// PutProfile creates or replaces a user's profile.
	PutProfile(ctx context.Context, p persistence.Profile) error

	// CreateMatch records a new match; creating an existing id again is a
	// no-op. In the same transaction it deletes both partners' queue entries
	// and marks both as in this match until its result is recorded. It
	// returns persistence.ErrConflict (and records nothing) when a partner
	// is in another match without a result whose vote deadline is after
	// m.CreatedAt; such a match whose deadline has passed is settled as
	// no_match first, so a match nobody settled never blocks a user.
	// created reports whether this call inserted the match (false: it
	// existed), so a caller that created it knows no votes are stored yet.
	CreateMatch(ctx context.Context, m persistence.Match) (created bool, err error)
	// ActiveMatch returns the user's match without a result whose vote
	// deadline is after since, or persistence.ErrNotFound.
	ActiveMatch(ctx context.Context, userID string, since time.Time) (persistence.Match, error)
	// RecordVote records voter's choice on a match once (the first vote wins)
	// and returns the choice that is stored. It returns ErrNotFound when the
	// match does not exist or voter is not one of its partners.
	RecordVote(ctx context.Context, matchID, voter, choice string) (string, error)
	// Votes returns the recorded votes of a match, by voter.
	Votes(ctx context.Context, matchID string) (map[string]string, error)
	// RecordResult records a match's result once (the first result wins) and
	// returns the result that is stored; the partners are then free for
	// another match.
	RecordResult(ctx context.Context, matchID, result string) (string, error)
	// MatchHistory returns the user's mutual matches, newest first, at most limit.
	MatchHistory(ctx context.Context, userID string, limit int) ([]persistence.HistoryEntry, error)
	// RecentPartners returns the users userID was matched with since the given time.
	RecentPartners(ctx context.Context, userID string, since time.Time) ([]string, error)

	// PutQueueEntry creates or replaces the user's queue entry.
	PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error
	// DeleteQueueEntry deletes the user's queue entry if its enqueue time is
	// enqueuedAt (so a newer place is never deleted); a missing entry is not
	// an error.
	DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error
	// QueueEntry returns the user's queue entry, or persistence.ErrNotFound.
	QueueEntry(ctx context.Context, userID string) (persistence.QueueEntry, error)
	// QueueEntries returns a pool's queue entries, oldest first (ties by
	// user id), leaving out users who are in a match without a result whose
	// vote deadline is after since; a user whose match is past its deadline
	// is listed even before that match is settled.
	QueueEntries(ctx context.Context, pool string, since time.Time) ([]persistence.QueueEntry, error)

	// RecordWaitSample appends one finished wait.
	RecordWaitSample(ctx context.Context, s persistence.WaitSample) error
	// Audit appends one line to the audit log.
	Audit(ctx context.Context, e persistence.AuditEntry) error
	// AuditLog returns the newest audit lines, newest first (by At, then
	// the later written first), at most limit.
	AuditLog(ctx context.Context, limit int) ([]persistence.AuditEntry, error)

	// SummarizePeriod summarizes the period [start, end) from the stored
	// matches, results, wait samples and queue places, as of asOf (see
	// persistence.PeriodSummary).
	SummarizePeriod(ctx context.Context, start, end, asOf time.Time) (persistence.PeriodSummary, error)
	// PutReport creates or replaces the report of (r.Period, r.Start),
	// unless the stored one was computed after r, and returns the report
	// that is stored: two writers racing leave one report, the newer.
	PutReport(ctx context.Context, r persistence.Report) (persistence.Report, error)
	// Reports returns the reports of period whose start is at or after
	// since, newest first, at most limit.
	Reports(ctx context.Context, period string, since time.Time, limit int) ([]persistence.Report, error)

	// Stats returns the store's row counts and connection state (cheap:
	// a large table's count may be an estimate, marked as such).
	Stats(ctx context.Context) (persistence.StoreStats, error)
}
