package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// DefaultLogLimit is how many wait samples and audit entries a Store keeps
// when New is used; older ones are dropped first.
const DefaultLogLimit = 100_000

// Store is the in-memory store. The zero value is not usable; call New.
type Store struct {
	logLimit int // static after construction

	mu       sync.Mutex
	profiles map[string]persistence.Profile // guarded by mu
	matches  map[string]persistence.Match   // guarded by mu
	byUser   map[string][]string            // user id -> ids of the user's matches; guarded by mu
	votes    map[string]map[string]string   // match id -> voter -> choice; guarded by mu
	results  map[string]string              // match id -> result; guarded by mu
	waits    []persistence.WaitSample       // bounded by logLimit; guarded by mu
	audit    []persistence.AuditEntry       // bounded by logLimit; guarded by mu
}

// New returns an empty store that keeps at most DefaultLogLimit wait samples
// and audit entries.
func New() *Store {
	return &Store{
		logLimit: DefaultLogLimit,
		profiles: make(map[string]persistence.Profile),
		matches:  make(map[string]persistence.Match),
		byUser:   make(map[string][]string),
		votes:    make(map[string]map[string]string),
		results:  make(map[string]string),
	}
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
// and keeps the first record.
func (s *Store) CreateMatch(ctx context.Context, m persistence.Match) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: create match: %w", err)
	}
	if m.ID == "" {
		return fmt.Errorf("memory: create match: empty match id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.matches[m.ID]; ok {
		return nil
	}
	s.matches[m.ID] = m
	s.byUser[m.A.UserID] = append(s.byUser[m.A.UserID], m.ID)
	if m.B.UserID != m.A.UserID {
		s.byUser[m.B.UserID] = append(s.byUser[m.B.UserID], m.ID)
	}
	return nil
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
	if voter != m.A.UserID && voter != m.B.UserID {
		return "", fmt.Errorf("memory: record vote: voter %q in match %q: %w", voter, matchID, persistence.ErrNotFound)
	}
	byVoter := s.votes[matchID]
	if byVoter == nil {
		byVoter = make(map[string]string, 2)
		s.votes[matchID] = byVoter
	}
	if stored, ok := byVoter[voter]; ok {
		return stored, nil
	}
	byVoter[voter] = choice
	return choice, nil
}

// Votes returns the recorded votes of a match by voter, or
// persistence.ErrNotFound for an unknown match.
func (s *Store) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: votes: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.matches[matchID]; !ok {
		return nil, fmt.Errorf("memory: votes: match %q: %w", matchID, persistence.ErrNotFound)
	}
	out := make(map[string]string, len(s.votes[matchID]))
	for voter, choice := range s.votes[matchID] {
		out[voter] = choice
	}
	return out, nil
}

// RecordResult records a match's result once and returns the stored result.
// It returns persistence.ErrNotFound for an unknown match.
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
	if stored, ok := s.results[matchID]; ok {
		return stored, nil
	}
	s.results[matchID] = result
	return result, nil
}
