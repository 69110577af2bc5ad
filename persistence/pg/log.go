package pg

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// RecordWaitSample appends one finished wait. A zero At is set to the
// current time.
func (s *Store) RecordWaitSample(ctx context.Context, w persistence.WaitSample) error {
	if w.At.IsZero() {
		w.At = time.Now()
	}
	return s.commit.exec(ctx, "pg: record wait sample",
		`insert into wait_samples (pool, gender, wait_us, outcome, at) values ($1, $2, $3, $4, $5)`,
		w.Pool, w.Gender, w.Wait.Microseconds(), w.Outcome, w.At)
}

// Audit appends one line to the audit log. A zero At is set to the current
// time.
func (s *Store) Audit(ctx context.Context, e persistence.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return s.commit.exec(ctx, "pg: audit",
		`insert into audit_log (at, actor, action, target, ip, detail) values ($1, $2, $3, $4, $5, $6)`,
		e.At, e.Actor, e.Action, e.Target, e.IP, e.Detail)
}

// AuditLog returns the newest audit lines, newest first, at most limit.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]persistence.AuditEntry, error) {
	var out []persistence.AuditEntry
	err := s.retry(ctx, "pg: audit log", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`select at, actor, action, target, ip, detail from audit_log order by at desc, id desc limit $1`, max(limit, 0))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (persistence.AuditEntry, error) {
			var e persistence.AuditEntry
			err := row.Scan(&e.At, &e.Actor, &e.Action, &e.Target, &e.IP, &e.Detail)
			return e, err
		})
		return err
	})
	return out, err
}
