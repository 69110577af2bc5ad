package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// PutQueueEntry creates or replaces the user's queue entry. A zero
// EnqueuedAt is set to the current time.
func (s *Store) PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: put queue entry: %w", err)
	}
	if e.UserID == "" {
		return fmt.Errorf("memory: put queue entry: empty user id")
	}
	e.Seeking = slices.Clone(e.Seeking)
	if e.EnqueuedAt.IsZero() {
		e.EnqueuedAt = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue[e.UserID] = e
	return nil
}

// DeleteQueueEntry deletes the user's queue entry if its enqueue time is
// enqueuedAt to the millisecond (callers rebuild times from Unix
// milliseconds). A missing entry, or one with another enqueue time, is left
// alone without an error.
func (s *Store) DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: delete queue entry: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.queue[userID]; ok && e.EnqueuedAt.UnixMilli() == enqueuedAt.UnixMilli() {
		delete(s.queue, userID)
	}
	return nil
}

// QueueEntry returns the user's queue entry, or persistence.ErrNotFound.
func (s *Store) QueueEntry(ctx context.Context, userID string) (persistence.QueueEntry, error) {
	if err := ctx.Err(); err != nil {
		return persistence.QueueEntry{}, fmt.Errorf("memory: queue entry: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.queue[userID]
	if !ok {
		return persistence.QueueEntry{}, fmt.Errorf("memory: queue entry of %q: %w", userID, persistence.ErrNotFound)
	}
	e.Seeking = slices.Clone(e.Seeking)
	return e, nil
}

// QueueEntries returns a pool's queue entries, oldest first, ties by user
// id, leaving out users claimed by a match without a result whose vote
// deadline is after since. A stale claim (deadline at or before since) does
// not hide its user; it is left for CreateMatch to settle.
func (s *Store) QueueEntries(ctx context.Context, pool string, since time.Time) ([]persistence.QueueEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: queue entries: %w", err)
	}
	var out []persistence.QueueEntry
	s.mu.Lock()
	for _, e := range s.queue {
		if e.Pool != pool {
			continue
		}
		if holder, ok := s.claims[e.UserID]; ok && s.matches[holder] != nil && s.matches[holder].deadline().After(since) {
			continue
		}
		e.Seeking = slices.Clone(e.Seeking)
		out = append(out, e)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b persistence.QueueEntry) int {
		if c := a.EnqueuedAt.Compare(b.EnqueuedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.UserID, b.UserID)
	})
	return out, nil
}
