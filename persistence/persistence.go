// Package persistence holds Spinmatch's durable records: the record types the
// actors read and write, the errors stores return, and (in sub-packages) the
// stores themselves: memory (the embedded, non-durable default) and pg
// (PostgreSQL via pgx/v5).
//
// Concurrency: every store is safe for concurrent use by many goroutines and
// actors. Record values are plain data, copied in and out.
package persistence

import (
	"errors"
	"time"
)

// ErrNotFound is returned when the asked-for record does not exist.
var ErrNotFound = errors.New("persistence: not found")

// ErrConflict is returned by CreateMatch when one of the partners is already
// in another unsettled match: the store is the last arbiter that a user is
// never in two dates at once.
var ErrConflict = errors.New("persistence: conflict")

// ErrUnavailable is returned (wrapped) when the store cannot be reached; the
// caller may retry the same request safely.
var ErrUnavailable = errors.New("persistence: store unavailable")

// Profile is a user's matching profile.
type Profile struct {
	UserID      string
	DisplayName string
	Gender      string   // male, female or nonbinary
	Seeking     []string // non-empty set of genders
	Pool        string
	UpdatedAt   time.Time
}

// Participant is one side of a match as it was when the match formed.
type Participant struct {
	UserID      string
	DisplayName string
	Gender      string
}

// Match is one date between two users. Its ID is created once.
type Match struct {
	ID           string
	Pool         string
	A, B         Participant
	CreatedAt    time.Time
	DateEndsAt   time.Time
	VoteDeadline time.Time
	// WaitA and WaitB are how long each partner waited in the queue.
	WaitA, WaitB time.Duration
	// PlaceA and PlaceB are the enqueue times of the queue places the
	// pairing was made from. When set, CreateMatch requires each partner
	// to still hold that place (a pairing made from a place that is gone,
	// by a pool that had not heard, is refused); zero: not checked.
	PlaceA, PlaceB time.Time
}

// Choice values of a vote.
const (
	ChoiceYes = "yes"
	ChoiceNo  = "no"
)

// Result values of a match.
const (
	ResultMutual  = "mutual"
	ResultNoMatch = "no_match"
)

// QueueEntry is a queued user's place in a pool, kept in the store so that
// the place survives the loss of the node that held the user's session or
// the pool. One per user.
type QueueEntry struct {
	UserID      string
	Pool        string
	DisplayName string
	Gender      string
	Seeking     []string
	EnqueuedAt  time.Time
}

// HistoryEntry is one of a user's mutual matches, seen from that user.
type HistoryEntry struct {
	MatchID   string
	Partner   Participant
	MatchedAt time.Time
}

// WaitSample is one finished wait in a pool, for statistics and the ETA model.
type WaitSample struct {
	Pool    string
	Gender  string
	Wait    time.Duration
	Outcome string // matched, cancelled or expired
	At      time.Time
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At     time.Time
	Actor  string // user id, "admin", "test" or "system"
	Action string
	// Target is what the action was about (a user id, a pool), or "".
	Target string
	// IP is the client address the action came from, or "".
	IP     string
	Detail string
}

// StoreStats is a store's size and connection state, for diagnostics
// (GET /api/test/db-stats).
type StoreStats struct {
	// Store names the implementation: "postgres" or "memory".
	Store string
	// Rows is the number of rows (records) of each table, by table name.
	Rows map[string]int64
	// Estimated lists the tables whose Rows figure is an estimate (a table
	// too large to count cheaply); the others are exact.
	Estimated []string
	// Connections is the connection pool's state (empty for a store
	// without connections).
	Connections map[string]int64
}
