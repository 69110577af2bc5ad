package pg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// PutQueueEntry creates or replaces the user's queue entry. A zero
// EnqueuedAt is set to the current time.
func (s *Store) PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error {
	if e.UserID == "" {
		return fmt.Errorf("pg: put queue entry: empty user id")
	}
	if e.EnqueuedAt.IsZero() {
		e.EnqueuedAt = time.Now()
	}
	if e.Seeking == nil {
		e.Seeking = []string{}
	}
	return s.commit.exec(ctx, "pg: put queue entry",
		`insert into queue_entries (user_id, pool, display_name, gender, seeking, enqueued_at)
			 values ($1, $2, $3, $4, $5, $6)
			 on conflict (user_id) do update set
			   pool = excluded.pool, display_name = excluded.display_name, gender = excluded.gender,
			   seeking = excluded.seeking, enqueued_at = excluded.enqueued_at`,
		e.UserID, e.Pool, e.DisplayName, e.Gender, e.Seeking, e.EnqueuedAt)
}

// DeleteQueueEntry deletes the user's queue entry if its enqueue time is
// enqueuedAt to the millisecond (callers rebuild times from Unix
// milliseconds; the column keeps microseconds). A missing entry, or one
// with another enqueue time, is left alone without an error.
func (s *Store) DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error {
	from := time.UnixMilli(enqueuedAt.UnixMilli())
	return s.commit.exec(ctx, "pg: delete queue entry",
		`delete from queue_entries
			  where user_id = $1 and enqueued_at >= $2 and enqueued_at < $3`,
		userID, from, from.Add(time.Millisecond))
}

// QueueEntry returns the user's queue entry, or persistence.ErrNotFound.
func (s *Store) QueueEntry(ctx context.Context, userID string) (persistence.QueueEntry, error) {
	var e persistence.QueueEntry
	err := s.retry(ctx, "pg: queue entry", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx,
			`select user_id, pool, display_name, gender, seeking, enqueued_at
			   from queue_entries where user_id = $1`, userID,
		).Scan(&e.UserID, &e.Pool, &e.DisplayName, &e.Gender, &e.Seeking, &e.EnqueuedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return persistence.QueueEntry{}, fmt.Errorf("pg: queue entry of %q: %w", userID, persistence.ErrNotFound)
	}
	if err != nil {
		return persistence.QueueEntry{}, err
	}
	return e, nil
}

// QueueEntries returns a pool's queue entries, oldest first, ties by user
// id in byte order, leaving out users claimed by a match without a result
// whose vote deadline is after since. A stale claim (deadline at or before
// since) does not hide its user; it is left for CreateMatch to settle.
func (s *Store) QueueEntries(ctx context.Context, pool string, since time.Time) ([]persistence.QueueEntry, error) {
	var out []persistence.QueueEntry
	err := s.retry(ctx, "pg: queue entries", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`select q.user_id, q.pool, q.display_name, q.gender, q.seeking, q.enqueued_at
			   from queue_entries q
			  where q.pool = $1
			    and not exists (select 1 from match_members mm join matches m on m.id = mm.match_id
			                     where mm.user_id = q.user_id and m.vote_deadline > $2)
			  order by q.enqueued_at, q.user_id collate "C"`, pool, since)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (persistence.QueueEntry, error) {
			var e persistence.QueueEntry
			err := row.Scan(&e.UserID, &e.Pool, &e.DisplayName, &e.Gender, &e.Seeking, &e.EnqueuedAt)
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
