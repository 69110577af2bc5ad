package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// RecordWaitSample appends one finished wait, dropping the oldest sample
// when the store already holds its limit (see appendBounded).
func (s *Store) RecordWaitSample(ctx context.Context, w persistence.WaitSample) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: record wait sample: %w", err)
	}
	if w.At.IsZero() {
		w.At = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = appendBounded(s.waits, w, s.logLimit)
	return nil
}

// Audit appends one line to the audit log, dropping the oldest line when
// the store already holds its limit (see appendBounded).
func (s *Store) Audit(ctx context.Context, e persistence.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: audit: %w", err)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = appendBounded(s.audit, e, s.logLimit)
	return nil
}

// WaitSamples returns a copy of the stored wait samples, oldest first.
func (s *Store) WaitSamples() []persistence.WaitSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// AuditEntries returns a copy of the stored audit entries, oldest first.
func (s *Store) AuditEntries() []persistence.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit)
}

// AuditLog returns the newest audit lines, newest first (by At, then the
// later written first), at most limit.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]persistence.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: audit log: %w", err)
	}
	s.mu.Lock()
	out := slices.Clone(s.audit)
	s.mu.Unlock()
	slices.Reverse(out) // the later written first among equal times
	slices.SortStableFunc(out, func(a, b persistence.AuditEntry) int { return b.At.Compare(a.At) })
	return out[:min(max(limit, 0), len(out))], nil
}

// appendBounded appends v to list. When list already holds limit entries it
// first drops the oldest quarter, so the cost of trimming stays amortized
// O(1) per append.
func appendBounded[T any](list []T, v T, limit int) []T {
	if limit > 0 && len(list) >= limit {
		list = slices.Delete(list, 0, len(list)-limit*3/4)
	}
	return append(list, v)
}
