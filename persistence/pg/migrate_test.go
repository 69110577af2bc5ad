package pg

import (
	"io/fs"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

func TestMigrationClaimsDatesUnderWay(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		t.Fatalf("new migrator: %v", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatalf("migrations dir: %v", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		t.Fatalf("load migrations: %v", err)
	}
	if err := m.MigrateTo(ctx, 1); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}

	// Version 1 data: b is in two dates under way (the newer one claims
	// b), d and e are settled, f and g are past their vote deadline.
	now := time.Now()
	matches := []struct {
		id, a, b  string
		createdAt time.Time
		deadline  time.Time
		result    string
	}{
		{"live-old", "a", "b", now.Add(-time.Minute), now.Add(5 * time.Minute), ""},
		{"live-new", "c", "b", now.Add(-30 * time.Second), now.Add(5 * time.Minute), ""},
		{"settled", "d", "e", now.Add(-time.Minute), now.Add(5 * time.Minute), "mutual"},
		{"expired", "f", "g", now.Add(-10 * time.Minute), now.Add(-time.Minute), ""},
	}
	for _, r := range matches {
		if _, err := conn.Exec(ctx,
			`insert into matches (id, pool, a_user_id, a_display_name, a_gender, b_user_id, b_display_name, b_gender,
			   created_at, date_ends_at, vote_deadline, wait_a_us, wait_b_us)
			 values ($1, 'default', $2, '', 'female', $3, '', 'male', $4, $5, $5, 0, 0)`,
			r.id, r.a, r.b, r.createdAt, r.deadline); err != nil {
			t.Fatalf("insert match %s: %v", r.id, err)
		}
		if r.result != "" {
			if _, err := conn.Exec(ctx, `insert into match_results (match_id, result) values ($1, $2)`, r.id, r.result); err != nil {
				t.Fatalf("insert result %s: %v", r.id, err)
			}
		}
	}

	s, err := Open(ctx, dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	rows, err := conn.Query(ctx, `select user_id || '=' || match_id from match_members order by user_id`)
	if err != nil {
		t.Fatalf("query claims: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("collect claims: %v", err)
	}
	if want := []string{"a=live-old", "b=live-new", "c=live-new"}; !slices.Equal(got, want) {
		t.Fatalf("claims after migration = %v, want %v", got, want)
	}
}
