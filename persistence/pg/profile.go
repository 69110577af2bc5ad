package pg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// Profile returns a user's profile, or persistence.ErrNotFound.
func (s *Store) Profile(ctx context.Context, userID string) (persistence.Profile, error) {
	var p persistence.Profile
	err := s.retry(ctx, "pg: profile", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx,
			`select user_id, display_name, gender, seeking, pool, updated_at
			   from profiles where user_id = $1`, userID,
		).Scan(&p.UserID, &p.DisplayName, &p.Gender, &p.Seeking, &p.Pool, &p.UpdatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return persistence.Profile{}, fmt.Errorf("pg: profile %q: %w", userID, persistence.ErrNotFound)
	}
	return p, err
}

// PutProfile creates or replaces a user's profile. A zero UpdatedAt is set
// to the current time.
func (s *Store) PutProfile(ctx context.Context, p persistence.Profile) error {
	if p.UserID == "" {
		return fmt.Errorf("pg: put profile: empty user id")
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now()
	}
	return s.commit.do(ctx, &write{op: "pg: put profile", kind: &profilePutKind, row: &p,
		keys: keys{writes: []string{key("p", p.UserID)}}})
}

// profilePutKind upserts profiles, one statement for many.
var profilePutKind = kind{
	name: "put_profile",
	rank: rankProfile,
	queue: func(b *pgx.Batch, ws []*write) {
		slices.SortFunc(ws, func(x, y *write) int {
			return strings.Compare(x.row.(*persistence.Profile).UserID, y.row.(*persistence.Profile).UserID)
		})
		var users, names, genders, seeking, pools []string
		var at []time.Time
		for _, w := range ws {
			p := w.row.(*persistence.Profile)
			users, names, genders, pools = append(users, p.UserID), append(names, p.DisplayName), append(genders, p.Gender), append(pools, p.Pool)
			seeking = append(seeking, jsonList(p.Seeking))
			at = append(at, p.UpdatedAt)
		}
		b.Queue(`insert into profiles (user_id, display_name, gender, seeking, pool, updated_at)
			select t.u, t.d, t.g, `+seekingArray+`, t.p, t.e
			  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) as t(u, d, g, s, p, e)
			 on conflict (user_id) do update set
			   display_name = excluded.display_name, gender = excluded.gender,
			   seeking = excluded.seeking, pool = excluded.pool, updated_at = excluded.updated_at`,
			users, names, genders, seeking, pools, at)
	},
	read: func(br pgx.BatchResults, _ []*write) error { return execAll(br, 1) },
}
