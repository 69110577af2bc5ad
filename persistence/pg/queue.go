package pg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	return s.commit.do(ctx, &write{op: "pg: put queue entry", kind: &queuePutKind, row: &e,
		keys: keys{writes: []string{key("q", e.UserID)}}})
}

// queuePutKind upserts queue entries, one statement for many.
var queuePutKind = kind{
	name: "put_queue_entry",
	rank: rankQueuePut,
	queue: func(b *pgx.Batch, ws []*write) {
		slices.SortFunc(ws, func(x, y *write) int {
			return strings.Compare(x.row.(*persistence.QueueEntry).UserID, y.row.(*persistence.QueueEntry).UserID)
		})
		var users, pools, names, genders, seeking []string
		var at []time.Time
		for _, w := range ws {
			e := w.row.(*persistence.QueueEntry)
			users, pools, names, genders = append(users, e.UserID), append(pools, e.Pool), append(names, e.DisplayName), append(genders, e.Gender)
			seeking = append(seeking, jsonList(e.Seeking))
			at = append(at, e.EnqueuedAt)
		}
		b.Queue(`insert into queue_entries (user_id, pool, display_name, gender, seeking, enqueued_at)
			select t.u, t.p, t.d, t.g, `+seekingArray+`, t.e
			  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) as t(u, p, d, g, s, e)
			 on conflict (user_id) do update set
			   pool = excluded.pool, display_name = excluded.display_name, gender = excluded.gender,
			   seeking = excluded.seeking, enqueued_at = excluded.enqueued_at`,
			users, pools, names, genders, seeking, at)
	},
	read: func(br pgx.BatchResults, _ []*write) error { return execAll(br, 1) },
}

// seekingArray turns t.s, a JSON list of strings (jsonList), into text[]
// in its order: a ragged text[][] cannot be passed as one array.
const seekingArray = `array(select x from jsonb_array_elements_text(t.s::jsonb) with ordinality as j(x, n) order by j.n)`

// jsonList encodes a list of strings as a JSON array (nil as []).
func jsonList(xs []string) string {
	if xs == nil {
		xs = []string{}
	}
	b, _ := json.Marshal(xs) // a []string always encodes
	return string(b)
}

// DeleteQueueEntry deletes the user's queue entry if its enqueue time is
// enqueuedAt to the millisecond (callers rebuild times from Unix
// milliseconds; the column keeps microseconds). A missing entry, or one
// with another enqueue time, is left alone without an error.
func (s *Store) DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error {
	row := &queueDelete{user: userID, from: time.UnixMilli(enqueuedAt.UnixMilli())}
	return s.commit.do(ctx, &write{op: "pg: delete queue entry", kind: &queueDeleteKind, row: row,
		keys: keys{writes: []string{key("q", userID)}}})
}

// queueDelete is a DeleteQueueEntry: the place's millisecond.
type queueDelete struct {
	user string
	from time.Time
}

// queueDeleteKind deletes queue places, one statement for many.
var queueDeleteKind = kind{
	name: "delete_queue_entry",
	rank: rankQueueDelete,
	queue: func(b *pgx.Batch, ws []*write) {
		slices.SortFunc(ws, func(x, y *write) int {
			return strings.Compare(x.row.(*queueDelete).user, y.row.(*queueDelete).user)
		})
		users, from := make([]string, len(ws)), make([]time.Time, len(ws))
		for i, w := range ws {
			d := w.row.(*queueDelete)
			users[i], from[i] = d.user, d.from
		}
		b.Queue(`delete from queue_entries q
			 using unnest($1::text[], $2::timestamptz[]) as d(u, f)
			 where q.user_id = d.u and q.enqueued_at >= d.f and q.enqueued_at < d.f + interval '1 millisecond'`,
			users, from)
	},
	read: func(br pgx.BatchResults, _ []*write) error { return execAll(br, 1) },
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
