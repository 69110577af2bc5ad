package pg_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// withAppName returns dbURL with application_name set.
func withAppName(t testing.TB, dbURL, name string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse url: %v", err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestConnectionLostMidVote(t *testing.T) {
	cases := []struct {
		name string
		// kill takes the database away from the store's blocked backend pid.
		kill func(t *testing.T, proxy *pgtest.Proxy, admin *pgx.Conn, pid int32)
	}{
		{"proxy cut", func(t *testing.T, proxy *pgtest.Proxy, _ *pgx.Conn, _ int32) {
			proxy.Cut()
		}},
		{"pg_terminate_backend", func(t *testing.T, _ *pgtest.Proxy, admin *pgx.Conn, pid int32) {
			if _, err := admin.Exec(t.Context(), "select pg_terminate_backend($1)", pid); err != nil {
				t.Fatalf("pg_terminate_backend: %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := pgtest.NewDatabase(t)
			proxy := pgtest.NewProxy(t, dbURL)
			var b [4]byte
			_, _ = rand.Read(b[:])
			app := "spin_fault_" + hex.EncodeToString(b[:])
			s := open(t, withAppName(t, proxy.URL(dbURL), app))
			ctx := t.Context()
			m := persistence.Match{
				ID: "m1", Pool: "default", CreatedAt: time.Now(), DateEndsAt: time.Now(), VoteDeadline: time.Now(),
				A: persistence.Participant{UserID: "a"}, B: persistence.Participant{UserID: "b"},
			}
			if _, err := s.CreateMatch(ctx, m); err != nil {
				t.Fatalf("CreateMatch: %v", err)
			}

			// A direct connection locks the match row so the vote's foreign
			// key check blocks: the vote is in flight, inside its transaction.
			admin, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				t.Fatalf("admin connect: %v", err)
			}
			defer admin.Close(context.WithoutCancel(ctx))
			blocker, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				t.Fatalf("blocker connect: %v", err)
			}
			defer blocker.Close(context.WithoutCancel(ctx))
			lockTx, err := blocker.Begin(ctx)
			if err != nil {
				t.Fatalf("blocker begin: %v", err)
			}
			if _, err := lockTx.Exec(ctx, "select 1 from matches where id = 'm1' for update"); err != nil {
				t.Fatalf("blocker lock: %v", err)
			}

			voteErr := make(chan error, 1)
			go func() {
				_, err := s.RecordVote(ctx, "m1", "a", persistence.ChoiceYes)
				voteErr <- err
			}()
			var pid int32
			waitFor(t, "the vote to block on the row lock", 10*time.Second, func() bool {
				err := admin.QueryRow(ctx,
					`select pid from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'`, app).Scan(&pid)
				return err == nil
			})
			tc.kill(t, proxy, admin, pid)

			select {
			case err := <-voteErr:
				if !errors.Is(err, persistence.ErrUnavailable) {
					t.Fatalf("RecordVote after the connection was lost: %v, want ErrUnavailable", err)
				}
				t.Logf("vote failed as expected: %v", err)
			case <-time.After(15 * time.Second):
				t.Fatal("RecordVote did not return after the connection was lost")
			}

			// Let the orphaned backend go, then check it left nothing behind.
			if err := lockTx.Rollback(ctx); err != nil {
				t.Fatalf("blocker rollback: %v", err)
			}
			waitFor(t, "the orphaned backend to exit", 10*time.Second, func() bool {
				var n int
				err := admin.QueryRow(ctx, `select count(*) from pg_stat_activity where pid = $1`, pid).Scan(&n)
				return err == nil && n == 0
			})
			if n := queryInt(t, dbURL, "select count(*) from votes"); n != 0 {
				t.Fatalf("votes after the lost vote = %d, want 0", n)
			}

			proxy.Restore()
			var got string
			waitFor(t, "the retried vote to succeed", 15*time.Second, func() bool {
				got, err = s.RecordVote(ctx, "m1", "a", persistence.ChoiceYes)
				return err == nil
			})
			if got != persistence.ChoiceYes {
				t.Fatalf("retried vote stored %q, want yes", got)
			}
			if n := queryInt(t, dbURL, "select count(*) from votes where match_id = 'm1' and voter = 'a'"); n != 1 {
				t.Fatalf("votes after the retry = %d, want 1", n)
			}
		})
	}
}

func TestPingCutRestore(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	proxy := pgtest.NewProxy(t, dbURL)
	s := open(t, proxy.URL(dbURL))
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping before cut: %v", err)
	}

	proxy.Cut()
	start := time.Now()
	err := s.Ping(ctx)
	if !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Ping while cut: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Ping while cut took %v, want a fast failure", d)
	}
	if _, err := s.Profile(ctx, "x"); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Profile while cut: %v, want ErrUnavailable", err)
	}

	proxy.Restore()
	waitFor(t, "Ping to recover after Restore", 15*time.Second, func() bool {
		return s.Ping(ctx) == nil
	})
	if _, err := s.Profile(ctx, "x"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("Profile after restore: %v, want ErrNotFound", err)
	}
}
