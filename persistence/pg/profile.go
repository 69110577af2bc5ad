package pg

import (
	"context"
	"errors"
	"fmt"
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
	if p.Seeking == nil {
		p.Seeking = []string{}
	}
	return s.commit.exec(ctx, "pg: put profile",
		`insert into profiles (user_id, display_name, gender, seeking, pool, updated_at)
			 values ($1, $2, $3, $4, $5, $6)
			 on conflict (user_id) do update set
			   display_name = excluded.display_name, gender = excluded.gender,
			   seeking = excluded.seeking, pool = excluded.pool, updated_at = excluded.updated_at`,
		p.UserID, p.DisplayName, p.Gender, p.Seeking, p.Pool, p.UpdatedAt)
}
