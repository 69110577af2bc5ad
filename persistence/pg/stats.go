package pg

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DBStats is a snapshot of the database's size and the pool's state, for
// diagnostics such as /api/test/db-stats.
type DBStats struct {
	// Rows is the exact row count of each table, by table name.
	Rows map[string]int64 `json:"rows"`
	// Pool is the connection pool's state.
	Pool PoolStats `json:"pool"`
}

// PoolStats is a snapshot of the connection pool.
type PoolStats struct {
	MaxConns        int32         `json:"max_conns"`
	TotalConns      int32         `json:"total_conns"`
	AcquiredConns   int32         `json:"acquired_conns"`
	IdleConns       int32         `json:"idle_conns"`
	AcquireCount    int64         `json:"acquire_count"`
	AcquireDuration time.Duration `json:"acquire_duration_ns"`
	NewConnsCount   int64         `json:"new_conns_count"`
}

// statTables are the tables Stats counts.
var statTables = []string{
	"profiles", "matches", "votes", "match_results", "match_members",
	"queue_entries", "wait_samples", "audit_log",
}

// statsQuery counts every table of statTables in one statement, one column
// per table in that order.
var statsQuery = func() string {
	cols := make([]string, len(statTables))
	for i, table := range statTables {
		cols[i] = "(select count(*) from " + pgx.Identifier{table}.Sanitize() + ")"
	}
	return "select " + strings.Join(cols, ", ")
}()

// Stats returns the row count of every table and the pool's state.
func (s *Store) Stats(ctx context.Context) (DBStats, error) {
	counts := make([]int64, len(statTables))
	dest := make([]any, len(counts))
	for i := range counts {
		dest[i] = &counts[i]
	}
	err := s.retry(ctx, "pg: stats", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, statsQuery).Scan(dest...)
	})
	if err != nil {
		return DBStats{}, err
	}
	st := DBStats{Rows: make(map[string]int64, len(statTables))}
	for i, table := range statTables {
		st.Rows[table] = counts[i]
	}
	ps := s.pool.Stat()
	st.Pool = PoolStats{
		MaxConns:        ps.MaxConns(),
		TotalConns:      ps.TotalConns(),
		AcquiredConns:   ps.AcquiredConns(),
		IdleConns:       ps.IdleConns(),
		AcquireCount:    ps.AcquireCount(),
		AcquireDuration: ps.AcquireDuration(),
		NewConnsCount:   ps.NewConnsCount(),
	}
	return st, nil
}
