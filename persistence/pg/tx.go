package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/spinmatch/spinmatch/persistence"
)

// Retry policy for transient conflicts.
const (
	maxAttempts = 4                      // tries per call, the first included
	baseBackoff = 5 * time.Millisecond   // first wait; doubles each retry
	maxBackoff  = 200 * time.Millisecond // cap on one wait
)

// PostgreSQL error codes the store branches on.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// inTx runs fn in a read-committed transaction, retrying it as a whole on
// serialization failures, deadlocks and failures that happened before
// anything was sent. fn must be safe to run more than once. The returned
// error is wrapped as "op: ..." and wraps persistence.ErrUnavailable when
// the database could not be reached.
func (s *Store) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.retry(ctx, op, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
	})
}

// retry runs fn until it succeeds, fails with an error that is not worth
// retrying, or maxAttempts is reached, sleeping a jittered exponential
// backoff between attempts. Errors are classified as by classify.
func (s *Store) retry(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	backoff := baseBackoff
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if attempt == maxAttempts || !retryable(err) {
			return classify(op, err)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		s.logger.Debug("pg retry", "op", op, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return classify(op, errors.Join(err, ctx.Err()))
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryable reports whether err is a transient conflict, or a failure that
// is known to have happened before the request reached the server.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
	}
	return pgconn.SafeToRetry(err)
}

// classify wraps err as "op: err", adding persistence.ErrUnavailable when
// err means the database could not be reached or the connection was lost.
// persistence.ErrNotFound and other errors pass through wrapped as they are.
func classify(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, persistence.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports whether err is a connection-level failure.
func unavailable(err error) bool {
	if errors.Is(err, persistence.ErrUnavailable) {
		return false // already marked
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if len(pgErr.Code) != 5 {
			return false
		}
		switch pgErr.Code[:2] {
		case "08": // connection exception
			return true
		case "57": // operator intervention: admin or crash shutdown, cannot connect now
			return pgErr.Code != "57014" // query_canceled is the caller's own doing
		case "53": // insufficient resources, e.g. too many connections
			return pgErr.Code == "53300"
		}
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err),
		pgconn.SafeToRetry(err),
		errors.As(err, &connectErr),
		errors.As(err, &netErr),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, pgconn.ErrConnClosed):
		return true
	}
	return false
}
