package pg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// These tests hold every flusher inside a batch (a vote whose foreign key
// check waits on a row a test connection locks), queue writes meanwhile,
// and then let go: what the committer does with the queued writes is then
// decided, not left to timing.

// commitFixture is a store on a fresh database whose flushers can be held.
type commitFixture struct {
	t     *testing.T
	url   string
	store *Store
	admin *pgx.Conn
}

func newCommitFixture(t *testing.T, cc commitConfig) *commitFixture {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	s, err := open(t.Context(), dbURL, slog.New(slog.DiscardHandler), cc)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	admin, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("admin connect: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	return &commitFixture{t: t, url: dbURL, store: s, admin: admin}
}

// hold puts every flusher in a batch that waits on a row lock, and returns
// the function that lets them go; it waits for the held votes to succeed.
func (f *commitFixture) hold() (release func()) {
	t := f.t
	t.Helper()
	ctx := t.Context()
	locker, err := pgx.Connect(ctx, f.url)
	if err != nil {
		t.Fatalf("locker connect: %v", err)
	}
	lockTx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatalf("locker begin: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, f.store.commit.flushers)
	for i := range f.store.commit.flushers {
		id := fmt.Sprint("hold", i)
		now := time.Now()
		m := persistence.Match{ID: id, A: persistence.Participant{UserID: id + "a"}, B: persistence.Participant{UserID: id + "b"},
			CreatedAt: now, DateEndsAt: now.Add(time.Hour), VoteDeadline: now.Add(time.Hour)}
		if _, err := f.store.CreateMatch(ctx, m); err != nil {
			t.Fatalf("CreateMatch %s: %v", id, err)
		}
		if _, err := lockTx.Exec(ctx, "select 1 from matches where id = $1 for update", id); err != nil {
			t.Fatalf("lock %s: %v", id, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.store.RecordVote(context.Background(), id, id+"a", persistence.ChoiceYes)
			errs <- err
		}()
		// Flusher i is now held (the others were held before): wait until
		// its backend waits on the lock, so the next vote goes to another.
		f.eventually(fmt.Sprintf("%d backends waiting on the lock", i+1), func() bool {
			var n int
			err := f.admin.QueryRow(ctx, `select count(*) from pg_stat_activity
				where datname = current_database() and wait_event_type = 'Lock'`).Scan(&n)
			return err == nil && n == i+1
		})
	}
	return func() {
		t.Helper()
		if err := lockTx.Rollback(ctx); err != nil {
			t.Fatalf("locker rollback: %v", err)
		}
		_ = locker.Close(ctx)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("held vote: %v", err)
			}
		}
	}
}

// eventually polls cond until it holds, failing the test after 10 s.
func (f *commitFixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// queued waits until n writes wait in the committer's queue.
func (f *commitFixture) queued(n int) {
	f.t.Helper()
	f.eventually(fmt.Sprintf("%d writes queued", n), func() bool { return len(f.store.commit.queue) == n })
}

func (f *commitFixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.admin.QueryRow(f.t.Context(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func entry(user string) persistence.QueueEntry {
	return persistence.QueueEntry{UserID: user, Pool: "p", DisplayName: user, Gender: "female", Seeking: []string{"male"}}
}

// TestGroupCommitBatches: writes that arrive while the flushers are busy
// go to PostgreSQL together, in fewer batches (round trips and commits)
// than writes, and each caller returns after its write is committed.
func TestGroupCommitBatches(t *testing.T) {
	for _, flushers := range []int{1, 2} {
		t.Run(fmt.Sprint("flushers=", flushers), func(t *testing.T) {
			f := newCommitFixture(t, commitConfig{Flushers: flushers})
			release := f.hold()
			before := f.store.commit.batches.Load()
			const n = 60
			errs := make(chan error, n)
			for i := range n {
				go func() { errs <- f.store.PutQueueEntry(t.Context(), entry(fmt.Sprint("u", i))) }()
			}
			f.queued(n)
			if got := f.count("select count(*) from queue_entries"); got != 0 {
				t.Fatalf("queue entries while the writes wait = %d, want 0", got)
			}
			release()
			for range n {
				if err := <-errs; err != nil {
					t.Fatalf("PutQueueEntry: %v", err)
				}
			}
			// Every caller has its answer: every write is committed.
			if got := f.count("select count(*) from queue_entries"); got != n {
				t.Fatalf("queue entries after the writes = %d, want %d", got, n)
			}
			// The held batches (counted before) end, then the n writes
			// need at most one batch (two round trips: the statements,
			// then the commit) per flusher.
			if sent := f.store.commit.batches.Load() - before; sent > int64(flushers) {
				t.Fatalf("%d writes took %d batches, want at most %d", n, sent, flushers)
			} else {
				t.Logf("%d writes in %d batch(es)", n, sent)
			}
		})
	}
}

// TestGroupCommitFailingWriteFailsAlone: a write whose statement fails in a
// shared batch fails only its own caller; the others are committed, and a
// write whose verdict is "not found" is not a failure of the batch.
func TestGroupCommitFailingWriteFailsAlone(t *testing.T) {
	f := newCommitFixture(t, commitConfig{Flushers: 1})
	release := f.hold()
	const good = 20
	type result struct {
		i   int
		err error
	}
	results := make(chan result, good+2)
	for i := range good {
		go func() { results <- result{i, f.store.PutQueueEntry(t.Context(), entry(fmt.Sprint("u", i)))} }()
	}
	f.queued(good)
	bad := entry("bad")
	bad.DisplayName = "\xff" // not UTF-8: PostgreSQL refuses the row
	go func() { results <- result{-1, f.store.PutQueueEntry(t.Context(), bad)} }()
	go func() {
		_, err := f.store.RecordVote(t.Context(), "no-such-match", "x", persistence.ChoiceYes)
		results <- result{-2, err}
	}()
	f.queued(good + 2)
	splits := f.store.commit.splits.Load()
	release()
	for range good + 2 {
		r := <-results
		var pgErr *pgconn.PgError
		switch {
		case r.i == -1:
			if !errors.As(r.err, &pgErr) || pgErr.Code != "22021" || errors.Is(r.err, persistence.ErrUnavailable) {
				t.Errorf("bad write: %v, want its own PostgreSQL error 22021", r.err)
			}
		case r.i == -2:
			if !errors.Is(r.err, persistence.ErrNotFound) {
				t.Errorf("vote on an unknown match: %v, want ErrNotFound", r.err)
			}
		case r.err != nil:
			t.Errorf("good write %d failed with the bad one: %v", r.i, r.err)
		}
	}
	if got := f.count("select count(*) from queue_entries"); got != good {
		t.Fatalf("queue entries = %d, want the %d good ones", got, good)
	}
	if f.store.commit.splits.Load() == splits {
		t.Fatal("the bad write was not in a shared batch (no split counted)")
	}
	if f.store.commit.unshared.Load() == 0 {
		t.Fatal("the bad write's shared statement did not send the batch again unshared")
	}
}

// queueInOrder starts each call in its own goroutine, one after the
// other, each once the one before waits in the queue (the flushers are
// held): the queue then holds them in this order. It returns their errors,
// in the same order, once all have returned.
func (f *commitFixture) queueInOrder(calls ...func() error) func() []error {
	f.t.Helper()
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	base := len(f.store.commit.queue)
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
		f.queued(base + i + 1)
	}
	return func() []error {
		wg.Wait()
		return errs
	}
}

// TestGroupCommitKeepsDependentOrder: writes that touch the same rows run
// in their queue order even when their kinds' statements go the other way
// (a result before a pairing, a queue delete after a put), while the
// other writes of the batch still share statements. A planner that
// grouped by kind alone fails here: the result would find no match, and
// the delete would take the place the put after it gave back.
func TestGroupCommitKeepsDependentOrder(t *testing.T) {
	f := newCommitFixture(t, commitConfig{Flushers: 1})
	ctx := t.Context()
	place := time.UnixMilli(time.Now().UnixMilli())
	held := entry("held")
	held.EnqueuedAt = place
	if err := f.store.PutQueueEntry(ctx, held); err != nil {
		t.Fatalf("PutQueueEntry: %v", err)
	}
	now := time.Now()
	m := persistence.Match{ID: "dep", A: persistence.Participant{UserID: "x"}, B: persistence.Participant{UserID: "y"},
		CreatedAt: now, DateEndsAt: now.Add(time.Hour), VoteDeadline: now.Add(time.Hour)}
	release := f.hold()
	statements := f.store.commit.statements.Load()
	var result string
	var created bool
	calls := []func() error{
		func() error { return f.store.PutQueueEntry(ctx, entry("other1")) },
		func() error { return f.store.DeleteQueueEntry(ctx, "held", place) },
		func() error { return f.store.PutQueueEntry(ctx, held) },
		func() (err error) { created, err = f.store.CreateMatch(ctx, m); return err },
		func() (err error) {
			result, err = f.store.RecordResult(ctx, m.ID, persistence.ResultMutual)
			return err
		},
		func() error { return f.store.PutQueueEntry(ctx, entry("other2")) },
	}
	wait := f.queueInOrder(calls...)
	release()
	for i, err := range wait() {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if !created || result != persistence.ResultMutual {
		t.Errorf("CreateMatch created %v, RecordResult %q: want true, %q", created, result, persistence.ResultMutual)
	}
	if got := f.count("select count(*) from queue_entries where user_id = 'held'"); got != 1 {
		t.Errorf("the place put back after its delete: %d rows, want 1", got)
	}
	if got := f.count("select count(*) from match_members where match_id = 'dep'"); got != 0 {
		t.Errorf("claims left after the result: %d, want 0", got)
	}
	// Six writes: the two unrelated puts share with the first of "held"'s
	// writes, so fewer statements than writes.
	if sent := f.store.commit.statements.Load() - statements; sent >= int64(len(calls)) {
		t.Errorf("%d writes took %d statements, want fewer (shared)", len(calls), sent)
	}
}

// TestGroupCommitSharedCreateMatch: pairings queued together go in one
// spin_create_matches statement, and each gets its own outcome: created,
// exists, refused for a gone place or a partner in a live match, or the
// slow path for a partner held by a match past its deadline.
func TestGroupCommitSharedCreateMatch(t *testing.T) {
	f := newCommitFixture(t, commitConfig{Flushers: 1})
	ctx := t.Context()
	now := time.Now()
	match := func(id, a, b string, deadline time.Time) persistence.Match {
		return persistence.Match{ID: id, Pool: "p",
			A:         persistence.Participant{UserID: a, DisplayName: a, Gender: "female"},
			B:         persistence.Participant{UserID: b, DisplayName: b, Gender: "male"},
			CreatedAt: now, DateEndsAt: deadline, VoteDeadline: deadline}
	}
	// Before: a live match holding "busy", a stale one holding "stale", a
	// match "old" that exists, and queue places for the placed pairings.
	for _, m := range []persistence.Match{
		match("live", "busy", "busy2", now.Add(time.Hour)),
		match("stale", "stale", "stale2", now.Add(-time.Second)),
		match("old", "o1", "o2", now.Add(time.Hour)),
	} {
		m.CreatedAt = now.Add(-time.Minute)
		if _, err := f.store.CreateMatch(ctx, m); err != nil {
			t.Fatalf("CreateMatch %s: %v", m.ID, err)
		}
	}
	place := time.UnixMilli(now.UnixMilli())
	for _, u := range []string{"p1", "p2", "g1"} {
		e := entry(u)
		e.EnqueuedAt = place
		if err := f.store.PutQueueEntry(ctx, e); err != nil {
			t.Fatalf("PutQueueEntry: %v", err)
		}
	}
	placed := match("placed", "p1", "p2", now.Add(time.Hour))
	placed.PlaceA, placed.PlaceB = place, place
	gone := match("gone", "g1", "g2", now.Add(time.Hour))
	gone.PlaceA, gone.PlaceB = place, place // g2 has no place
	cases := []struct {
		m       persistence.Match
		created bool
		err     error
	}{
		{match("new1", "n1", "n2", now.Add(time.Hour)), true, nil},
		{placed, true, nil},
		{match("old", "o1", "o2", now.Add(time.Hour)), false, nil},
		{gone, false, persistence.ErrConflict},
		{match("clash", "busy", "c2", now.Add(time.Hour)), false, persistence.ErrConflict},
		{match("self", "solo", "solo", now.Add(time.Hour)), true, nil},
		{match("after-stale", "stale", "s3", now.Add(time.Hour)), true, nil}, // the slow path settles "stale"
	}
	release := f.hold()
	statements := f.store.commit.statements.Load()
	got := make([]bool, len(cases))
	calls := make([]func() error, len(cases))
	for i, c := range cases {
		calls[i] = func() (err error) { got[i], err = f.store.CreateMatch(ctx, c.m); return err }
	}
	wait := f.queueInOrder(calls...)
	release()
	for i, err := range wait() {
		c := cases[i]
		if got[i] != c.created || !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("CreateMatch(%s) = %v, %v; want %v, %v", c.m.ID, got[i], err, c.created, c.err)
		}
	}
	// The held batches' statements came before; the seven pairings were
	// one statement (the slow one's transaction is not a batch).
	if sent := f.store.commit.statements.Load() - statements; sent != 1 {
		t.Errorf("the pairings took %d statements, want 1", sent)
	}
	for _, c := range []struct {
		sql  string
		want int
	}{
		{"select count(*) from matches where id in ('gone', 'clash')", 0},
		{"select count(*) from match_members where match_id in ('gone', 'clash')", 0},
		{"select count(*) from match_members where user_id = 'g1' or user_id = 'c2'", 0},
		{"select count(*) from queue_entries where user_id in ('p1', 'p2')", 0},
		{"select count(*) from queue_entries where user_id = 'g1'", 1},
		{"select count(*) from match_members where match_id = 'placed'", 2},
		{"select count(*) from match_members where match_id = 'self'", 1},
		{"select count(*) from match_members where user_id = 'busy' and match_id = 'live'", 1},
		{"select count(*) from match_members where user_id = 'stale' and match_id = 'after-stale'", 1},
		{"select count(*) from match_results where match_id = 'stale' and result = 'no_match'", 1},
	} {
		if n := f.count(c.sql); n != c.want {
			t.Errorf("%s = %d, want %d", c.sql, n, c.want)
		}
	}
}

// TestGroupCommitContext: a caller whose context ends while its write
// waits returns at once with the context's error, and a write whose
// deadline passed before it was sent is not committed.
func TestGroupCommitContext(t *testing.T) {
	f := newCommitFixture(t, commitConfig{Flushers: 1})
	release := f.hold()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.store.PutQueueEntry(ctx, entry("late"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutQueueEntry past its deadline: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("PutQueueEntry returned after %v, want about its 50ms deadline", d)
	}
	release()
	if err := f.store.PutQueueEntry(t.Context(), entry("next")); err != nil {
		t.Fatalf("PutQueueEntry after: %v", err)
	}
	if got := f.count("select count(*) from queue_entries where user_id = 'late'"); got != 0 {
		t.Fatalf("the expired write was committed")
	}
}

// TestGroupCommitCloseFlushes: Close commits the writes already queued,
// answering their callers, and refuses later ones.
func TestGroupCommitCloseFlushes(t *testing.T) {
	f := newCommitFixture(t, commitConfig{Flushers: 1})
	release := f.hold()
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- f.store.PutQueueEntry(context.Background(), entry(fmt.Sprint("u", i))) }()
	}
	f.queued(n)
	closed := make(chan struct{})
	go func() {
		f.store.commit.close()
		close(closed)
	}()
	f.eventually("the committer to refuse writes", func() bool {
		f.store.commit.mu.RLock()
		defer f.store.commit.mu.RUnlock()
		return f.store.commit.closed
	})
	if err := f.store.PutQueueEntry(t.Context(), entry("after")); !errors.Is(err, errClosed) {
		t.Fatalf("PutQueueEntry after Close: %v, want errClosed", err)
	}
	release()
	<-closed
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("queued write at Close: %v", err)
		}
	}
	if got := f.count("select count(*) from queue_entries"); got != n {
		t.Fatalf("queue entries after Close = %d, want %d", got, n)
	}
}

func TestCommitSettings(t *testing.T) {
	cases := []struct {
		name    string
		params  map[string]string
		want    commitConfig
		wantErr bool
	}{
		{"none", map[string]string{"application_name": "x"}, commitConfig{}, false},
		{"both", map[string]string{"commit_flushers": "3", "commit_max_batch": "64"}, commitConfig{Flushers: 3, MaxBatch: 64}, false},
		{"zero flushers", map[string]string{"commit_flushers": "0"}, commitConfig{}, true},
		{"not a number", map[string]string{"commit_max_batch": "many"}, commitConfig{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got commitConfig
			err := commitSettings(tc.params, &got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for _, k := range []string{"commit_flushers", "commit_max_batch"} {
				if _, left := tc.params[k]; left && err == nil {
					t.Errorf("%s left in the runtime params (it would be sent to the server)", k)
				}
			}
		})
	}
}
