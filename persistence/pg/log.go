package pg

import (
	"context"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// RecordWaitSample appends one finished wait. A zero At is set to the
// current time.
func (s *Store) RecordWaitSample(ctx context.Context, w persistence.WaitSample) error {
	if w.At.IsZero() {
		w.At = time.Now()
	}
	return s.retry(ctx, "pg: record wait sample", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx,
			`insert into wait_samples (pool, gender, wait_us, outcome, at) values ($1, $2, $3, $4, $5)`,
			w.Pool, w.Gender, w.Wait.Microseconds(), w.Outcome, w.At)
		return err
	})
}

// Audit appends one line to the audit log. A zero At is set to the current
// time.
func (s *Store) Audit(ctx context.Context, e persistence.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return s.retry(ctx, "pg: audit", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx,
			`insert into audit_log (at, actor, action, detail) values ($1, $2, $3, $4)`,
			e.At, e.Actor, e.Action, e.Detail)
		return err
	})
}
