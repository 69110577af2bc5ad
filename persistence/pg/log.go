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
	return s.commit.do(ctx, &write{op: "pg: record wait sample", kind: &waitSampleKind, row: &w})
}

// waitSampleKind appends wait samples, one statement for many. Appends
// touch no row another write reads, so they have no keys.
var waitSampleKind = kind{
	name: "record_wait_sample",
	rank: rankWaitSample,
	queue: func(b *pgx.Batch, ws []*write) {
		pools, genders, outcomes := make([]string, len(ws)), make([]string, len(ws)), make([]string, len(ws))
		waits, at := make([]int64, len(ws)), make([]time.Time, len(ws))
		for i, w := range ws {
			s := w.row.(*persistence.WaitSample)
			pools[i], genders[i], waits[i], outcomes[i], at[i] = s.Pool, s.Gender, s.Wait.Microseconds(), s.Outcome, s.At
		}
		b.Queue(`insert into wait_samples (pool, gender, wait_us, outcome, at)
			select * from unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::timestamptz[])`,
			pools, genders, waits, outcomes, at)
	},
	read: func(br pgx.BatchResults, _ []*write) error { return execAll(br, 1) },
}

// Audit appends one line to the audit log. A zero At is set to the current
// time.
func (s *Store) Audit(ctx context.Context, e persistence.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return s.commit.do(ctx, &write{op: "pg: audit", kind: &auditKind, row: &e})
}

// auditKind appends audit lines, one statement for many, in batch order:
// their ids say which of two lines with one At was written later.
var auditKind = kind{
	name: "audit",
	rank: rankAudit,
	queue: func(b *pgx.Batch, ws []*write) {
		n := len(ws)
		at := make([]time.Time, n)
		actors, actions, targets, ips, details := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, w := range ws {
			e := w.row.(*persistence.AuditEntry)
			at[i], actors[i], actions[i], targets[i], ips[i], details[i] = e.At, e.Actor, e.Action, e.Target, e.IP, e.Detail
		}
		b.Queue(`insert into audit_log (at, actor, action, target, ip, detail)
			select t.at, t.actor, t.action, t.target, t.ip, t.detail
			  from unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
			       with ordinality as t(at, actor, action, target, ip, detail, n)
			 order by t.n`,
			at, actors, actions, targets, ips, details)
	},
	read: func(br pgx.BatchResults, _ []*write) error { return execAll(br, 1) },
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
