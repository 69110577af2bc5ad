package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/spinmatch/spinmatch/persistence"
)

// safeErr is an error that happened before anything was sent.
type safeErr struct{}

func (safeErr) Error() string     { return "not sent" }
func (safeErr) SafeToRetry() bool { return true }

func TestClassify(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"query canceled", &pgconn.PgError{Code: "57014"}, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"canceled by caller", context.Canceled, false},
		{"safe to retry", safeErr{}, true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"no rows", pgx.ErrNoRows, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := classify("pg: op", tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("classify(%v) = %v, does not wrap the cause", tc.err, got)
			}
			if !strings.HasPrefix(got.Error(), "pg: op: ") {
				t.Errorf("classify(%v) = %q, want the op prefix", tc.err, got)
			}
			if errors.Is(got, persistence.ErrUnavailable) != tc.unavailable {
				t.Errorf("classify(%v) = %v, unavailable want %v", tc.err, got, tc.unavailable)
			}
		})
	}
	t.Run("already unavailable is wrapped once", func(t *testing.T) {
		inner := classify("pg: inner", io.EOF)
		got := classify("pg: outer", inner)
		if n := strings.Count(got.Error(), persistence.ErrUnavailable.Error()); n != 1 {
			t.Fatalf("classify twice = %q, mentions unavailable %d times", got, n)
		}
	})
}

func TestRetry(t *testing.T) {
	cases := []struct {
		name        string
		errs        []error // returned by successive calls; nil after the list
		wantCalls   int
		wantErr     bool
		unavailable bool
	}{
		{"success", nil, 1, false, false},
		{"serialization then success", []error{&pgconn.PgError{Code: "40001"}, &pgconn.PgError{Code: "40001"}}, 3, false, false},
		{"deadlock then success", []error{&pgconn.PgError{Code: "40P01"}}, 2, false, false},
		{"gives up after max attempts", repeat(&pgconn.PgError{Code: "40001"}, 10), maxAttempts, true, false},
		{"not sent is retried", []error{safeErr{}}, 2, false, false},
		{"never sent gives up unavailable", repeat(safeErr{}, 10), maxAttempts, true, true},
		{"constraint violation is final", []error{&pgconn.PgError{Code: "23505"}}, 1, true, false},
		{"lost connection is final", []error{io.ErrUnexpectedEOF}, 1, true, true},
	}
	s := &Store{logger: slog.New(slog.DiscardHandler)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := s.retry(t.Context(), "pg: test", func(context.Context) error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if errors.Is(err, persistence.ErrUnavailable) != tc.unavailable {
				t.Errorf("err = %v, unavailable want %v", err, tc.unavailable)
			}
		})
	}
	t.Run("stops when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := s.retry(ctx, "pg: test", func(context.Context) error {
			calls++
			cancel()
			return &pgconn.PgError{Code: "40001"}
		})
		if calls != 1 || !errors.Is(err, context.Canceled) {
			t.Fatalf("calls = %d, err = %v; want 1 call and context.Canceled", calls, err)
		}
	})
}

// repeat returns n copies of err.
func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
