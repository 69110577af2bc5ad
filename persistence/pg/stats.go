package pg

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// Stats counts rows cheaply: the tables of the current schema (at most
// maxStatTables, the migration bookkeeping left out) are listed with their
// size on disk and the statistics collector's live-row estimate in one
// query; those of at most exactCountBytes (tens of thousands of rows) are
// then counted exactly with count(*), all in a second query. A larger
// table keeps the estimate and is named in Estimated, so a diagnostics call
// never scans a big append-only log.
const (
	maxStatTables   = 64
	exactCountBytes = 16 << 20
)

var tablesQuery = `
select c.relname, pg_total_relation_size(c.oid), coalesce(s.n_live_tup, 0)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_stat_user_tables s on s.relid = c.oid
where n.nspname = current_schema() and c.relkind in ('r', 'p')
  and c.relname <> 'spin_schema_version'
order by c.relname
limit ` + strconv.Itoa(maxStatTables)

// Stats returns the row count of every table (exact for the small ones,
// see exactCountBytes) and the connection pool's state.
func (s *Store) Stats(ctx context.Context) (persistence.StoreStats, error) {
	st := persistence.StoreStats{Store: "postgres", Rows: map[string]int64{}, Estimated: []string{}}
	var exact []string
	err := s.retry(ctx, "pg: stats", func(ctx context.Context) error {
		clear(st.Rows)
		st.Estimated, exact = st.Estimated[:0], exact[:0]
		rows, err := s.pool.Query(ctx, tablesQuery)
		if err != nil {
			return err
		}
		var (
			name       string
			size, live int64
		)
		_, err = pgx.ForEachRow(rows, []any{&name, &size, &live}, func() error {
			if size <= exactCountBytes {
				exact = append(exact, name)
			} else {
				st.Rows[name] = live
				st.Estimated = append(st.Estimated, name)
			}
			return nil
		})
		if err != nil || len(exact) == 0 {
			return err
		}
		counts := make([]int64, len(exact))
		dest := make([]any, len(exact))
		cols := make([]string, len(exact))
		for i, table := range exact {
			dest[i] = &counts[i]
			cols[i] = "(select count(*) from " + pgx.Identifier{table}.Sanitize() + ")"
		}
		if err := s.pool.QueryRow(ctx, "select "+strings.Join(cols, ", ")).Scan(dest...); err != nil {
			return err
		}
		for i, table := range exact {
			st.Rows[table] = counts[i]
		}
		return nil
	})
	if err != nil {
		return persistence.StoreStats{}, err
	}
	ps := s.pool.Stat()
	st.Connections = map[string]int64{
		"max":                 int64(ps.MaxConns()),
		"total":               int64(ps.TotalConns()),
		"acquired":            int64(ps.AcquiredConns()),
		"idle":                int64(ps.IdleConns()),
		"constructing":        int64(ps.ConstructingConns()),
		"acquire_count":       ps.AcquireCount(),
		"empty_acquire_count": ps.EmptyAcquireCount(),
		"acquire_duration_ms": ps.AcquireDuration().Milliseconds(),
		"new_conns_count":     ps.NewConnsCount(),
		// Group commit (commit.go): batches sent, statements in them (a
		// shared one counts once), writes committed, batches sent again
		// without a write whose statement failed, batches sent again
		// unshared after a shared statement failed, callers that found the
		// queue full, writes queued now, and the microseconds the flushers
		// spent on batches, on their statements, and on their commits.
		"commit_batches":      s.commit.batches.Load(),
		"commit_statements":   s.commit.statements.Load(),
		"commit_writes":       s.commit.writes.Load(),
		"commit_splits":       s.commit.splits.Load(),
		"commit_unshared":     s.commit.unshared.Load(),
		"commit_queue_full":   s.commit.full.Load(),
		"commit_queued":       int64(len(s.commit.queue)),
		"commit_batch_us":     s.commit.batchMicros.Load(),
		"commit_statement_us": s.commit.statementMicros.Load(),
		"commit_commit_us":    s.commit.commitMicros.Load(),
	}
	for _, k := range allKinds {
		st.Connections["commit_"+k.name+"_us"] = s.commit.kindMicros[k.rank].Load()
	}
	return st, nil
}
