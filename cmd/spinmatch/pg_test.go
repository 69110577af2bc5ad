package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// count runs a count query on the test database.
func count(t *testing.T, dbURL, q string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// metric reads one sample (its name with labels, as exposed) from
// /metrics; a sample that is not exported fails the test.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	v, ok := readMetric(t, base, name)
	if !ok {
		t.Fatalf("metric %s not exported", name)
	}
	return v
}

// metricOr is metric with a value for a sample not exported yet (a
// labelled counter that never counted).
func metricOr(t *testing.T, base string, or float64, name string) float64 {
	t.Helper()
	if v, ok := readMetric(t, base, name); ok {
		return v
	}
	return or
}

func readMetric(t *testing.T, base, name string) (float64, bool) {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f, true
		}
	}
	return 0, false
}

func readyStatus(t *testing.T, base string) int {
	t.Helper()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestPostgresDurability runs the durable flows against the real PostgreSQL:
// a private database per run, the server talking to it through a TCP proxy
// the test can cut.
func TestPostgresDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL test: not in -short")
	}
	dbURL := pgtest.NewDatabase(t)
	proxy := pgtest.NewProxy(t, dbURL)
	cfg := testConfig(t)
	cfg.DatabaseURL = proxy.URL(dbURL)
	cfg.Actors.DateLength, cfg.Actors.VoteWindow = 20*time.Second, 5*time.Second
	n := startNode(t, cfg)
	base := "http://" + n.Addr()

	// The full spin-to-mutual flow leaves the right rows.
	d := matchPair(t, base, "durable", "Ann", "Bob")
	ann, bob, ca, cb, mid := d.a, d.b, d.ca, d.cb, d.mid
	ca.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
	ca.expect("vote_recorded")
	// A duplicate vote (other choice) keeps the first, and leaves one row.
	ca.send("vote", map[string]any{"match_id": mid, "choice": "no"})
	if v := ca.expect("vote_recorded"); v.str("choice") != "yes" {
		t.Fatalf("duplicate vote answered %v", v)
	}

	// Wait samples (best effort, written off the pool's path) arrive.
	waitFor(t, 5*time.Second, "wait samples", func() bool {
		return count(t, dbURL, `select count(*) from wait_samples where pool = 'durable' and outcome = 'matched'`) == 2
	})

	// Take the database away: readiness drops, a vote gets a retryable
	// error, and nothing half-written remains.
	proxy.Cut()
	waitFor(t, 10*time.Second, "readyz 503", func() bool { return readyStatus(t, base) == http.StatusServiceUnavailable })
	cb.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
	if e := cb.expect("error"); e.str("code") != "unavailable" {
		t.Fatalf("vote while the database is away: %v", e)
	}
	if got := count(t, dbURL, `select count(*) from votes where match_id = $1 and voter = $2`, mid, bob.id); got != 0 {
		t.Fatalf("unacknowledged vote left %d rows", got)
	}
	// The server keeps running: a status still answers.
	cb.send("status", nil)
	if st := cb.expect("state"); st.str("state") != "matched" {
		t.Fatalf("state while the database is away: %v", st)
	}

	proxy.Restore()
	waitFor(t, 15*time.Second, "readyz 200", func() bool { return readyStatus(t, base) == http.StatusOK })
	cb.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
	cb.expect("vote_recorded")
	if r := ca.expect("match_result"); r.str("result") != "mutual" {
		t.Fatalf("result %v", r)
	}
	cb.expect("match_result")

	if got := count(t, dbURL, `select count(*) from matches where id = $1`, mid); got != 1 {
		t.Errorf("matches rows %d", got)
	}
	if got := count(t, dbURL, `select count(*) from votes where match_id = $1`, mid); got != 2 {
		t.Errorf("votes rows %d", got)
	}
	if got := count(t, dbURL, `select count(*) from votes where match_id = $1 and choice = 'yes'`, mid); got != 2 {
		t.Errorf("yes votes %d", got)
	}
	if got := count(t, dbURL, `select count(*) from match_results where match_id = $1 and result = 'mutual'`, mid); got != 1 {
		t.Errorf("result rows %d", got)
	}
	if got := count(t, dbURL, `select count(*) from profiles where user_id in ($1, $2)`, ann.id, bob.id); got != 2 {
		t.Errorf("profiles %d", got)
	}
	if got := count(t, dbURL, `select count(*) from audit_log where actor in ($1, $2) and action = 'dev_token'`, ann.id, bob.id); got != 2 {
		t.Errorf("audit rows %d", got)
	}

	// Restart: a new node on the same database serves the history and the profile.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Logf("shutdown: %v", err)
	}
	// Sockets are told the server is going away.
	for _, c := range []*client{ca, cb} {
		var ce *websocket.CloseError
		if _, err := c.next(5 * time.Second); !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("%s after shutdown: %v, want close 1001", c.u.name, err)
		}
	}
	cfg2 := testConfig(t)
	cfg2.DatabaseURL = dbURL
	n2 := startNode(t, cfg2)
	base2 := "http://" + n2.Addr()
	ann.base = base2
	code, hist := rest(t, base2, ann, "GET", "/api/matches", nil)
	list, _ := hist["matches"].([]any)
	if code != 200 || len(list) != 1 {
		t.Fatalf("history after restart: %d %v", code, hist)
	}
	if e := frame(list[0].(map[string]any)); e.str("match_id") != mid || e.obj("partner").str("user_id") != bob.id || e.str("matched_at") == "" {
		t.Fatalf("history entry %v", e)
	}
	code, me := rest(t, base2, ann, "GET", "/api/me", nil)
	if code != 200 || me.str("display_name") != "Ann" || me.str("pool") != "durable" {
		t.Fatalf("profile after restart: %d %v", code, me)
	}
	// The profile was loaded from the store once and then served from the
	// session's cache.
	if hits, misses := metric(t, base2, "spinmatch_profile_cache_hits_total"), metric(t, base2, "spinmatch_profile_cache_misses_total"); misses != 1 || hits != 0 {
		t.Fatalf("profile cache after one read: hits %v misses %v", hits, misses)
	}
	rest(t, base2, ann, "GET", "/api/me", nil)
	if hits := metric(t, base2, "spinmatch_profile_cache_hits_total"); hits != 1 {
		t.Fatalf("second read: hits %v", hits)
	}
	// The rematch cooldown survives the restart too: Ann and Bob are not paired again.
	bob.base = base2
	ca2, _ := ann.dial(t)
	cb2, _ := bob.dial(t)
	ca2.spin()
	cb2.spin()
	ca2.quiet(300 * time.Millisecond)
}
