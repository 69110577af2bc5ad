package pg_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/pg"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
	"github.com/spinmatch/spinmatch/persistence/storetest"
)

var _ actors.Store = (*pg.Store)(nil)

// schemaVersion is the number of the newest migration.
const schemaVersion = 6

// open opens a store on dbURL, closed when the test ends.
func open(t testing.TB, dbURL string) *pg.Store {
	t.Helper()
	s, err := pg.Open(t.Context(), dbURL, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// testLogger logs into the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// queryInt runs a one-value query on a direct connection to dbURL.
func queryInt(t testing.TB, dbURL, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestConformance(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	storetest.Run(t, func(t *testing.T) actors.Store { return s })
}

func TestMigrationsTwice(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	for i := range 2 {
		s, err := pg.Open(t.Context(), dbURL, testLogger(t))
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		s.Close()
	}
	if v := queryInt(t, dbURL, "select version from spin_schema_version"); v != schemaVersion {
		t.Fatalf("schema version = %d, want %d", v, schemaVersion)
	}
}

func TestMigrationsConcurrent(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	const nodes = 3
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make([]error, nodes)
	)
	for i := range nodes {
		wg.Go(func() {
			<-start
			s, err := pg.Open(t.Context(), dbURL, testLogger(t))
			if err == nil {
				err = s.Ping(t.Context())
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Open: %v", err)
	}
	if v := queryInt(t, dbURL, "select version from spin_schema_version"); v != schemaVersion {
		t.Fatalf("schema version = %d, want %d", v, schemaVersion)
	}
	if n := queryInt(t, dbURL, "select count(*) from spin_schema_version"); n != 1 {
		t.Fatalf("version table has %d rows, want 1", n)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	ctx := t.Context()
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	m := persistence.Match{
		ID: "m1", Pool: "default", CreatedAt: at, DateEndsAt: at.Add(time.Minute), VoteDeadline: at.Add(2 * time.Minute),
		A: persistence.Participant{UserID: "a", DisplayName: "A", Gender: "female"},
		B: persistence.Participant{UserID: "b", DisplayName: "B", Gender: "male"},
	}
	profile := persistence.Profile{UserID: "a", DisplayName: "A", Gender: "female", Seeking: []string{"male"}, Pool: "default", UpdatedAt: at}

	first, err := pg.Open(ctx, dbURL, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	steps := []error{first.PutProfile(ctx, profile)}
	_, err = first.CreateMatch(ctx, m)
	steps = append(steps, err)
	_, err = first.RecordVote(ctx, "m1", "a", persistence.ChoiceYes)
	steps = append(steps, err)
	_, err = first.RecordVote(ctx, "m1", "b", persistence.ChoiceYes)
	steps = append(steps, err)
	_, err = first.RecordResult(ctx, "m1", persistence.ResultMutual)
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		t.Fatalf("writes: %v", err)
	}
	first.Close()

	second := open(t, dbURL)
	got, err := second.Profile(ctx, "a")
	if err != nil || got.DisplayName != "A" || !got.UpdatedAt.Equal(at) {
		t.Fatalf("Profile after reopen = %+v, %v", got, err)
	}
	votes, err := second.Votes(ctx, "m1")
	if err != nil || len(votes) != 2 {
		t.Fatalf("Votes after reopen = %v, %v", votes, err)
	}
	hist, err := second.MatchHistory(ctx, "b", 10)
	if err != nil || len(hist) != 1 || hist[0].Partner != m.A {
		t.Fatalf("MatchHistory after reopen = %+v, %v", hist, err)
	}
}

func TestStats(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	ctx := t.Context()
	if err := s.Audit(ctx, persistence.AuditEntry{Actor: "test", Action: "stats"}); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if err := s.RecordWaitSample(ctx, persistence.WaitSample{Pool: "default", Gender: "male", Wait: time.Second, Outcome: "matched"}); err != nil {
		t.Fatalf("RecordWaitSample: %v", err)
	}
	if err := s.PutQueueEntry(ctx, persistence.QueueEntry{UserID: "q", Pool: "default", Gender: "male", Seeking: []string{"female"}}); err != nil {
		t.Fatalf("PutQueueEntry: %v", err)
	}
	at := time.Now()
	m := persistence.Match{
		ID: "m1", Pool: "default", CreatedAt: at, DateEndsAt: at.Add(time.Minute), VoteDeadline: at.Add(2 * time.Minute),
		A: persistence.Participant{UserID: "a"}, B: persistence.Participant{UserID: "b"},
	}
	if _, err := s.CreateMatch(ctx, m); err != nil {
		t.Fatalf("CreateMatch: %v", err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want := map[string]int64{
		"profiles": 0, "matches": 1, "votes": 0, "match_results": 0, "match_members": 2,
		"queue_entries": 1, "wait_samples": 1, "audit_log": 1,
	}
	for table, n := range want {
		if got, ok := st.Rows[table]; !ok || got != n {
			t.Errorf("Rows[%s] = %d (present %v), want %d", table, got, ok, n)
		}
	}
	if st.Store != "postgres" || len(st.Estimated) != 0 {
		t.Errorf("store %q, estimated %v: want postgres, every small table counted exactly", st.Store, st.Estimated)
	}
	if st.Connections["max"] <= 0 || st.Connections["total"] <= 0 {
		t.Errorf("connections = %v, want live connections", st.Connections)
	}
}

func TestOpenUnreachable(t *testing.T) {
	// A proxy that refuses everything stands in for a dead server.
	dbURL := pgtest.NewDatabase(t)
	proxy := pgtest.NewProxy(t, dbURL)
	proxy.Cut()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := pg.Open(ctx, proxy.URL(dbURL), testLogger(t))
	if !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Open through a cut proxy: %v, want ErrUnavailable", err)
	}
}
