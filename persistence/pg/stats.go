package pg

import (
	"context"
	"time"
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
var statTables = []string{"profiles", "matches", "votes", "match_results", "wait_samples", "audit_log"}

// Stats returns the row count of every table and the pool's state.
func (s *Store) Stats(ctx context.Context) (DBStats, error) {
	counts := make([]int64, len(statTables))
	err := s.retry(ctx, "pg: stats", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx,
			`select (select count(*) from profiles), (select count(*) from matches),
			        (select count(*) from votes), (select count(*) from match_results),
			        (select count(*) from wait_samples), (select count(*) from audit_log)`,
		).Scan(&counts[0], &counts[1], &counts[2], &counts[3], &counts[4], &counts[5])
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
