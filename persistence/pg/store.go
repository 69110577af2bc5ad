package pg

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// defaultConnectTimeout bounds one connection attempt when the URL does
	// not set connect_timeout, so a dead server fails fast instead of
	// holding callers until their own deadlines.
	defaultConnectTimeout = 5 * time.Second
	// pingTimeout bounds Ping.
	pingTimeout = 2 * time.Second
)

// Store is the PostgreSQL store. Create it with Open; release it with Close.
type Store struct {
	pool   *pgxpool.Pool // static after construction; safe for concurrent use
	logger *slog.Logger  // static after construction
	commit *committer    // static after construction; batches the writes (commit.go)
}

// Open connects to databaseURL (a postgres:// URL or key=value string; pool
// settings such as pool_max_conns may be given in it, and so may the group
// commit's: commit_flushers, the batches in flight at once, and
// commit_max_batch, the writes in one batch; see commit.go; unless
// pool_max_conns is given, the pool has a connection per flusher beside
// pgx's default), applies the schema
// migrations and returns the store. An unreachable database gives an error
// wrapping persistence.ErrUnavailable.
func Open(ctx context.Context, databaseURL string, logger *slog.Logger) (*Store, error) {
	return open(ctx, databaseURL, logger, commitConfig{})
}

// open is Open with the committer's settings.
func open(ctx context.Context, databaseURL string, logger *slog.Logger, cc commitConfig) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("pg: open: parse database url: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if err := commitSettings(cfg.ConnConfig.RuntimeParams, &cc); err != nil {
		return nil, fmt.Errorf("pg: open: %w", err)
	}
	cc = cc.withDefaults()
	if !strings.Contains(databaseURL, "pool_max_conns") {
		// Each flusher holds a connection for its whole batch: without
		// room beside them, reads queue behind the batches (about 40 ms
		// at 3,000 spins/s with pgx's default of max(4, CPUs) in all).
		cfg.MaxConns += int32(cc.Flushers)
	}
	if err := applyMigrations(ctx, cfg.ConnConfig, logger); err != nil {
		return nil, classify("pg: open: migrate", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, classify("pg: open: pool", err)
	}
	s := &Store{pool: pool, logger: logger}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pg: open: %w", err)
	}
	s.commit = newCommitter(s, pool, cc)
	logger.Info("pg store open", "host", cfg.ConnConfig.Host, "database", cfg.ConnConfig.Database, "max_conns", cfg.MaxConns)
	return s, nil
}

// Close commits the writes already queued (their callers get their
// answers), refuses later ones, waits for in-flight calls to return their
// connections and closes the pool. The store must not be used afterwards.
func (s *Store) Close() {
	s.commit.close()
	s.pool.Close()
}

// Ping reports whether the database answers, within a short timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return classify("pg: ping", err)
	}
	return nil
}
