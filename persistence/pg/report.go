package pg

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// summaryMatchesQuery counts the matches formed in [$1, $2) and their
// results; a match without a result past its vote deadline at $3 is a no_match.
const summaryMatchesQuery = `
select count(*),
       count(*) filter (where r.result = 'mutual'),
       count(*) filter (where r.result = 'no_match' or (r.result is null and m.vote_deadline <= $3))
  from matches m left join match_results r on r.match_id = m.id
 where m.created_at >= $1 and m.created_at < $2`

// summaryWaitsQuery sums the waits that ended in [$1, $2), by gender.
const summaryWaitsQuery = `
select gender,
       count(*) filter (where outcome = 'matched'),
       coalesce((avg(wait_us) filter (where outcome = 'matched'))::float8, 0),
       coalesce(percentile_cont(0.9) within group (order by wait_us) filter (where outcome = 'matched'), 0),
       count(*) filter (where outcome <> 'matched')
  from wait_samples
 where at >= $1 and at < $2
 group by gender`

// summaryPeakQuery is the most users waiting at once in [$1, $2): every
// finished wait overlapping the period (and ending before $3, the end
// plus persistence.PeakWaitBound) and every queue place held before its
// end is an interval clipped to the period; a sweep over their ends (an
// end before a start at the same instant) finds the peak.
const summaryPeakQuery = `
with iv as (
  select greatest(at - wait_us * interval '1 microsecond', $1) as s, least(at, $2) as e
    from wait_samples
   where at >= $1 and at < $3 and at - wait_us * interval '1 microsecond' < $2
  union all
  select greatest(enqueued_at, $1), $2 from queue_entries where enqueued_at < $2
), ev as (
  select s as t, 1 as d from iv union all select e, -1 from iv
)
select coalesce(max(n), 0)
  from (select sum(d) over (order by t, d rows between unbounded preceding and current row) as n from ev) x`

// SummarizePeriod summarizes [start, end) as of asOf, in one read-only
// transaction (one snapshot for all three queries).
func (s *Store) SummarizePeriod(ctx context.Context, start, end, asOf time.Time) (persistence.PeriodSummary, error) {
	var sum persistence.PeriodSummary
	err := s.retry(ctx, "pg: summarize period", func(ctx context.Context) error {
		sum = persistence.PeriodSummary{AvgWaitS: map[string]float64{}, P90WaitS: map[string]float64{}, Abandoned: map[string]int{}}
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, summaryMatchesQuery, start, end, asOf).Scan(&sum.Matches, &sum.Mutual, &sum.NoMatch); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, summaryWaitsQuery, start, end)
			if err != nil {
				return err
			}
			var gender string
			var matched, left int
			var avgUS, p90US float64
			if _, err := pgx.ForEachRow(rows, []any{&gender, &matched, &avgUS, &p90US, &left}, func() error {
				if matched > 0 {
					sum.AvgWaitS[gender], sum.P90WaitS[gender] = avgUS/1e6, p90US/1e6
				}
				if left > 0 {
					sum.Abandoned[gender] = left
				}
				return nil
			}); err != nil {
				return err
			}
			return tx.QueryRow(ctx, summaryPeakQuery, start, end, end.Add(persistence.PeakWaitBound)).Scan(&sum.PeakWaiting)
		})
	})
	if err != nil {
		return persistence.PeriodSummary{}, err
	}
	return sum, nil
}

// reportColumns are the columns of a report row, in scan order.
const reportColumns = `period, start_at, end_at, matches, mutual, no_match, success_rate,
	avg_wait_s, p90_wait_s, abandoned, peak_waiting, alerts_fired, computed_at, final`

// PutReport stores r unless the stored report of its period was computed
// later, and returns the report that is stored.
func (s *Store) PutReport(ctx context.Context, r persistence.Report) (persistence.Report, error) {
	if r.Period != persistence.PeriodHour && r.Period != persistence.PeriodDay {
		return persistence.Report{}, fmt.Errorf("pg: put report: invalid period %q", r.Period)
	}
	avg, p90, ab, err := reportMaps(r)
	if err != nil {
		return persistence.Report{}, fmt.Errorf("pg: put report: %w", err)
	}
	var out persistence.Report
	err = s.inTx(ctx, "pg: put report", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`insert into reports (`+reportColumns+`)
			 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			 on conflict (period, start_at) do update set
			   end_at = excluded.end_at, matches = excluded.matches, mutual = excluded.mutual,
			   no_match = excluded.no_match, success_rate = excluded.success_rate,
			   avg_wait_s = excluded.avg_wait_s, p90_wait_s = excluded.p90_wait_s,
			   abandoned = excluded.abandoned, peak_waiting = excluded.peak_waiting,
			   alerts_fired = excluded.alerts_fired, computed_at = excluded.computed_at, final = excluded.final
			 where reports.computed_at <= excluded.computed_at`,
			r.Period, r.Start, r.End, r.Matches, r.Mutual, r.NoMatch, r.SuccessRate,
			avg, p90, ab, r.PeakWaiting, r.AlertsFired, r.ComputedAt, r.Final); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `select `+reportColumns+` from reports where period = $1 and start_at = $2`, r.Period, r.Start)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanReport)
		return err
	})
	return out, err
}

// Reports returns the stored reports of period whose start is at or after
// since, newest first, at most limit; limit <= 0 means none.
func (s *Store) Reports(ctx context.Context, period string, since time.Time, limit int) ([]persistence.Report, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []persistence.Report
	err := s.retry(ctx, "pg: reports", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`select `+reportColumns+` from reports
			  where period = $1 and start_at >= $2
			  order by start_at desc limit $3`, period, since, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanReport)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanReport(row pgx.CollectableRow) (persistence.Report, error) {
	var r persistence.Report
	var avg, p90, ab []byte
	if err := row.Scan(&r.Period, &r.Start, &r.End, &r.Matches, &r.Mutual, &r.NoMatch, &r.SuccessRate,
		&avg, &p90, &ab, &r.PeakWaiting, &r.AlertsFired, &r.ComputedAt, &r.Final); err != nil {
		return r, err
	}
	r.Start, r.End, r.ComputedAt = r.Start.UTC(), r.End.UTC(), r.ComputedAt.UTC()
	for _, f := range []struct {
		raw []byte
		to  any
	}{{avg, &r.AvgWaitS}, {p90, &r.P90WaitS}, {ab, &r.Abandoned}} {
		if err := json.Unmarshal(f.raw, f.to); err != nil {
			return r, fmt.Errorf("report %s %s: %w", r.Period, r.Start, err)
		}
	}
	return r, nil
}

// reportMaps encodes the report's per-gender maps as JSON objects ({} for nil).
func reportMaps(r persistence.Report) (avg, p90, ab []byte, err error) {
	enc := func(m any) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = json.Marshal(m)
		return b
	}
	avg, p90, ab = enc(orEmpty(r.AvgWaitS)), enc(orEmpty(r.P90WaitS)), enc(orEmpty(r.Abandoned))
	return avg, p90, ab, err
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
