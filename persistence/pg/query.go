package pg

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// MatchHistory returns the user's mutual matches, newest first (by the
// match's creation time, then by id), at most limit; limit <= 0 means none.
func (s *Store) MatchHistory(ctx context.Context, userID string, limit int) ([]persistence.HistoryEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []persistence.HistoryEntry
	err := s.retry(ctx, "pg: match history", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`select h.id, h.user_id, h.display_name, h.gender, h.created_at
			   from (select id, b_user_id as user_id, b_display_name as display_name, b_gender as gender, created_at
			           from matches where a_user_id = $1
			         union all
			         select id, a_user_id, a_display_name, a_gender, created_at
			           from matches where b_user_id = $1) h
			   join match_results r on r.match_id = h.id and r.result = 'mutual'
			  order by h.created_at desc, h.id desc
			  limit $2`, userID, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (persistence.HistoryEntry, error) {
			var h persistence.HistoryEntry
			err := row.Scan(&h.MatchID, &h.Partner.UserID, &h.Partner.DisplayName, &h.Partner.Gender, &h.MatchedAt)
			return h, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecentPartners returns the distinct users userID was matched with at or
// after since, whatever the match's result, most recent first.
func (s *Store) RecentPartners(ctx context.Context, userID string, since time.Time) ([]string, error) {
	var out []string
	err := s.retry(ctx, "pg: recent partners", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`select partner
			   from (select b_user_id as partner, created_at from matches
			          where a_user_id = $1 and created_at >= $2
			         union all
			         select a_user_id, created_at from matches
			          where b_user_id = $1 and created_at >= $2) p
			  group by partner
			  order by max(created_at) desc, partner`, userID, since)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
