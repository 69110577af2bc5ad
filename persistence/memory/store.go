package memory

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// DefaultLogLimit is how many wait samples and audit entries a Store keeps
// when New is used; older ones are dropped first.
const DefaultLogLimit = 100_000

// DefaultMatchLimit is how many matches a Store keeps when New is used:
// past it, the oldest settled ones (their votes and results with them)
// are forgotten first, so a long run holds the store's memory flat. The
// embedded store is for development and load tests; PostgreSQL keeps
// everything.
const DefaultMatchLimit = 100_000

// Store is the in-memory store. The zero value is not usable; call New.
type Store struct {
	logLimit   int // static after construction
	matchLimit int // static after construction

	mu       sync.Mutex
	profiles map[string]persistence.Profile    // guarded by mu
	matches  map[string]*record                // match id -> the match, its votes and result; guarded by mu
	byUser   map[string][]string               // user id -> ids of the user's matches, oldest first; guarded by mu
	order    []string                          // match ids, oldest first from head; guarded by mu
	head     int                               // order[:head] are forgotten; guarded by mu
	nVotes   int                               // votes recorded over matches; guarded by mu
	nResults int                               // matches with a result; guarded by mu
	claims   map[string]string                 // user id -> id of the user's match without a result; guarded by mu
	queue    map[string]persistence.QueueEntry // user id -> queue place; guarded by mu
	waits    []persistence.WaitSample          // bounded by logLimit; guarded by mu
	audit    []persistence.AuditEntry          // bounded by logLimit; guarded by mu
	// reports are by period, then by start (unix microseconds); bounded
	// by maxReports per period; guarded by mu; nil until the first report.
	reports map[string]map[int64]persistence.Report
}

// New returns an empty store that keeps at most DefaultLogLimit wait samples
// and audit entries.
func New() *Store {
	return &Store{
		logLimit:   DefaultLogLimit,
		matchLimit: DefaultMatchLimit,
		profiles:   make(map[string]persistence.Profile),
		matches:    make(map[string]*record),
		byUser:     make(map[string][]string),
		claims:     make(map[string]string),
		queue:      make(map[string]persistence.QueueEntry),
	}
}

// record is one match with its votes and result, in one allocation of
// 192 bytes: the store keeps DefaultMatchLimit of them, so what one costs
// is what a long run's store grows to, and every pointer in it is work for
// each collection. Times are Unix nanoseconds (a time.Time is 24 bytes
// with a location pointer, and a match has five), the votes and the
// result small codes (they were strings, and a map of votes and a map of
// results beside the matches once cost as much as the matches).
type record struct {
	id, pool string
	A, B     persistence.Participant
	// createdAt ... placeB are Unix nanoseconds, noTime for the zero time.
	createdAt, dateEndsAt, voteDeadline, placeA, placeB int64
	waitA, waitB                                        time.Duration
	voteA, voteB                                        choice // of A and B; none until they vote
	result                                              outcome
}

// noTime stands for the zero time.Time in a record.
const noTime = math.MinInt64

// Times a record can hold: Unix nanoseconds' range, less noTime.
var (
	firstNanos = time.Unix(0, math.MinInt64+1)
	lastNanos  = time.Unix(0, math.MaxInt64)
)

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// storable reports whether every time of m fits a record.
func storable(m persistence.Match) bool {
	for _, t := range []time.Time{m.CreatedAt, m.DateEndsAt, m.VoteDeadline, m.PlaceA, m.PlaceB} {
		if !t.IsZero() && (t.Before(firstNanos) || t.After(lastNanos)) {
			return false
		}
	}
	return true
}

func newRecord(m persistence.Match) *record {
	return &record{
		id: m.ID, pool: m.Pool, A: m.A, B: m.B,
		createdAt: nanos(m.CreatedAt), dateEndsAt: nanos(m.DateEndsAt), voteDeadline: nanos(m.VoteDeadline),
		placeA: nanos(m.PlaceA), placeB: nanos(m.PlaceB),
		waitA: m.WaitA, waitB: m.WaitB,
	}
}

// match returns r's match as CreateMatch was given it (times in the
// local zone).
func (r *record) match() persistence.Match {
	return persistence.Match{
		ID: r.id, Pool: r.pool, A: r.A, B: r.B,
		CreatedAt: fromNanos(r.createdAt), DateEndsAt: fromNanos(r.dateEndsAt), VoteDeadline: fromNanos(r.voteDeadline),
		PlaceA: fromNanos(r.placeA), PlaceB: fromNanos(r.placeB),
		WaitA: r.waitA, WaitB: r.waitB,
	}
}

func (r *record) deadline() time.Time { return fromNanos(r.voteDeadline) }

func (r *record) created() time.Time { return fromNanos(r.createdAt) }

// choice is a recorded vote: none, yes or no.
type choice uint8

const (
	noChoice choice = iota
	choiceYes
	choiceNo
)

func choiceOf(v string) choice {
	switch v {
	case persistence.ChoiceYes:
		return choiceYes
	case persistence.ChoiceNo:
		return choiceNo
	}
	return noChoice
}

func (c choice) String() string {
	switch c {
	case choiceYes:
		return persistence.ChoiceYes
	case choiceNo:
		return persistence.ChoiceNo
	}
	return ""
}

// outcome is a recorded result: none, mutual or no_match.
type outcome uint8

const (
	noOutcome outcome = iota
	outcomeMutual
	outcomeNoMatch
)

func outcomeOf(v string) outcome {
	switch v {
	case persistence.ResultMutual:
		return outcomeMutual
	case persistence.ResultNoMatch:
		return outcomeNoMatch
	}
	return noOutcome
}

func (o outcome) String() string {
	switch o {
	case outcomeMutual:
		return persistence.ResultMutual
	case outcomeNoMatch:
		return persistence.ResultNoMatch
	}
	return ""
}

// vote returns the slot of voter's choice, or nil when voter is not a
// partner of r.
func (r *record) vote(voter string) *choice {
	switch voter {
	case r.A.UserID:
		return &r.voteA
	case r.B.UserID:
		return &r.voteB
	}
	return nil
}

// votes counts r's recorded votes (one for a match of a user with
// themself, whose two sides are one voter).
func (r *record) votes() int {
	n := 0
	if r.voteA != noChoice {
		n++
	}
	if r.voteB != noChoice && r.B.UserID != r.A.UserID {
		n++
	}
	return n
}

// Ping reports whether the store answers; it always does unless ctx is done.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: ping: %w", err)
	}
	return nil
}

// Profile returns a user's profile, or persistence.ErrNotFound.
func (s *Store) Profile(ctx context.Context, userID string) (persistence.Profile, error) {
	if err := ctx.Err(); err != nil {
		return persistence.Profile{}, fmt.Errorf("memory: profile: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profiles[userID]
	if !ok {
		return persistence.Profile{}, fmt.Errorf("memory: profile %q: %w", userID, persistence.ErrNotFound)
	}
	p.Seeking = slices.Clone(p.Seeking)
	return p, nil
}

// PutProfile creates or replaces a user's profile. A zero UpdatedAt is set
// to the current time.
func (s *Store) PutProfile(ctx context.Context, p persistence.Profile) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put profile: %w", err)
	}
	if p.UserID == "" {
		return fmt.Errorf("memory: put profile: empty user id")
	}
	p.Seeking = slices.Clone(p.Seeking)
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiles[p.UserID] = p
	return nil
}

// CreateMatch records a new match; creating an existing id again is a no-op
// and keeps the first record. It claims both partners for the match and
// deletes their queue entries. It returns an error wrapping
// persistence.ErrConflict, and records nothing, when a partner is claimed
// by another match whose vote deadline is after m.CreatedAt; a claiming
// match whose deadline has passed is settled as no_match first. created
// reports whether this call inserted the match.
func (s *Store) CreateMatch(ctx context.Context, m persistence.Match) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memory: create match: %w", err)
	}
	if m.ID == "" {
		return false, fmt.Errorf("memory: create match: empty match id")
	}
	if !storable(m) {
		return false, fmt.Errorf("memory: create match %q: a time outside %d-%d", m.ID, firstNanos.Year(), lastNanos.Year())
	}
	users := []string{m.A.UserID}
	if m.B.UserID != m.A.UserID {
		users = append(users, m.B.UserID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.matches[m.ID]; ok {
		return false, nil
	}
	// Every check before any write, so a conflict records nothing.
	for _, p := range []struct {
		user  string
		place time.Time
	}{{m.A.UserID, m.PlaceA}, {m.B.UserID, m.PlaceB}} {
		if e, ok := s.queue[p.user]; !p.place.IsZero() && (!ok || e.EnqueuedAt.UnixMilli() != p.place.UnixMilli()) {
			return false, fmt.Errorf("memory: create match: place of %q is gone: %w", p.user, persistence.ErrConflict)
		}
	}
	for _, u := range users {
		if holder, ok := s.claims[u]; ok {
			if h := s.matches[holder]; h != nil && h.deadline().After(m.CreatedAt) {
				deadline := h.deadline()
				return false, fmt.Errorf("memory: create match: user %q in match %q until %s: %w",
					u, holder, deadline.UTC().Format(time.RFC3339Nano), persistence.ErrConflict)
			}
		}
	}
	for _, u := range users {
		if holder, ok := s.claims[u]; ok {
			// From its votes: mutual when both said yes, a missing vote is no.
			result := persistence.ResultNoMatch
			if h := s.matches[holder]; h != nil && h.voteA == choiceYes && h.voteB == choiceYes && h.A.UserID != h.B.UserID {
				result = persistence.ResultMutual
			}
			s.settleLocked(holder, result)
		}
	}
	s.matches[m.ID] = newRecord(m)
	s.order = append(s.order, m.ID)
	for _, u := range users {
		s.byUser[u] = append(s.byUser[u], m.ID)
		s.claims[u] = m.ID
		delete(s.queue, u)
	}
	s.forgetLocked(m.CreatedAt)
	return true, nil
}

// forgetLocked drops the oldest matches while there are more than
// matchLimit: those settled, or past their vote deadline at now. One
// still open goes to the back of the line (there are at most one per two
// users). s.mu must be held.
func (s *Store) forgetLocked(now time.Time) {
	for skipped := 0; len(s.matches) > s.matchLimit && s.head < len(s.order)-skipped; {
		id := s.order[s.head]
		s.order[s.head] = ""
		s.head++
		m := s.matches[id]
		if m == nil {
			continue
		}
		if m.result == noOutcome && m.deadline().After(now) {
			s.order = append(s.order, id)
			skipped++
			continue
		}
		delete(s.matches, id)
		s.nVotes -= m.votes()
		if m.result != noOutcome {
			s.nResults--
		}
		for _, u := range []string{m.A.UserID, m.B.UserID} {
			if s.claims[u] == id {
				delete(s.claims, u)
			}
			// Usually the user's oldest (ids are appended in the order the
			// matches are), unless it waited open at the back of the line.
			ids := s.byUser[u]
			switch i := slices.Index(ids, id); {
			case i < 0:
			case len(ids) == 1:
				delete(s.byUser, u)
			case i == 0:
				s.byUser[u] = ids[1:]
			default:
				s.byUser[u] = slices.Delete(ids, i, i+1)
			}
		}
	}
	// Compact the order once most of it is forgotten.
	if s.head > 1024 && s.head > len(s.order)/2 {
		s.order = append([]string(nil), s.order[s.head:]...)
		s.head = 0
	}
}

// ActiveMatch returns the match userID is claimed by (one without a result)
// if its vote deadline is after since, or persistence.ErrNotFound.
func (s *Store) ActiveMatch(ctx context.Context, userID string, since time.Time) (persistence.Match, error) {
	if err := ctx.Err(); err != nil {
		return persistence.Match{}, fmt.Errorf("memory: active match: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if holder, ok := s.claims[userID]; ok {
		if m := s.matches[holder]; m != nil && m.deadline().After(since) {
			return m.match(), nil
		}
	}
	return persistence.Match{}, fmt.Errorf("memory: active match of %q: %w", userID, persistence.ErrNotFound)
}

// settleLocked records result for an existing match unless it has one (the
// first result wins), releases its partners' claims on it, and returns the
// stored result. s.mu must be held.
func (s *Store) settleLocked(matchID, result string) string {
	m := s.matches[matchID]
	if m == nil {
		return result
	}
	if m.result == noOutcome {
		m.result = outcomeOf(result)
		s.nResults++
	}
	for _, u := range []string{m.A.UserID, m.B.UserID} {
		if s.claims[u] == matchID {
			delete(s.claims, u)
		}
	}
	return m.result.String()
}

// RecordVote records voter's choice once and returns the stored choice. It
// returns persistence.ErrNotFound for an unknown match or a voter who is not
// one of its partners.
func (s *Store) RecordVote(ctx context.Context, matchID, voter, choice string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("memory: record vote: %w", err)
	}
	if choice != persistence.ChoiceYes && choice != persistence.ChoiceNo {
		return "", fmt.Errorf("memory: record vote: invalid choice %q", choice)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.matches[matchID]
	if !ok {
		return "", fmt.Errorf("memory: record vote: match %q: %w", matchID, persistence.ErrNotFound)
	}
	slot := m.vote(voter)
	if slot == nil {
		return "", fmt.Errorf("memory: record vote: voter %q in match %q: %w", voter, matchID, persistence.ErrNotFound)
	}
	if *slot != noChoice {
		return slot.String(), nil
	}
	*slot = choiceOf(choice)
	s.nVotes++
	return slot.String(), nil
}

// Votes returns the recorded votes of a match by voter, or
// persistence.ErrNotFound for an unknown match.
func (s *Store) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: votes: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.matches[matchID]
	if !ok {
		return nil, fmt.Errorf("memory: votes: match %q: %w", matchID, persistence.ErrNotFound)
	}
	out := make(map[string]string, 2)
	if m.voteA != noChoice {
		out[m.A.UserID] = m.voteA.String()
	}
	if m.voteB != noChoice {
		out[m.B.UserID] = m.voteB.String()
	}
	return out, nil
}

// RecordResult records a match's result once, releases the partners' claims
// on the match, and returns the stored result. It returns
// persistence.ErrNotFound for an unknown match.
func (s *Store) RecordResult(ctx context.Context, matchID, result string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("memory: record result: %w", err)
	}
	if result != persistence.ResultMutual && result != persistence.ResultNoMatch {
		return "", fmt.Errorf("memory: record result: invalid result %q", result)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.matches[matchID]; !ok {
		return "", fmt.Errorf("memory: record result: match %q: %w", matchID, persistence.ErrNotFound)
	}
	return s.settleLocked(matchID, result), nil
}
