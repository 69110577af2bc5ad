package pg

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

// migrationFiles holds the schema migrations, NNN_name.sql, applied in order.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable is where tern records the applied schema version.
const versionTable = "public.spin_schema_version"

// applyMigrations brings the database's schema up to the newest migration over a
// dedicated connection, closed afterwards so no session state (and no
// advisory lock, should an unlock fail) leaks into the pool.
//
// Several nodes may start at once: tern's Migrator takes a session-level
// pg_advisory_lock around creating its version table and around MigrateTo,
// and reads the current version under that lock, so concurrent callers
// apply each migration exactly once and the later ones find nothing to do.
func applyMigrations(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return fmt.Errorf("new migrator: %w", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrations dir: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	m.OnStart = func(seq int32, name, direction, _ string) {
		logger.Info("applying migration", "sequence", seq, "name", name, "direction", direction)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}
