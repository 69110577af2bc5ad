package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

const reportsAdminKey = "admin-key-for-the-reports-test"

// adminCall calls an admin route with the given key ("" for none) and
// decodes the JSON answer.
func adminCall(t *testing.T, base, key, method, path string) (int, frame) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	if key != "" {
		req.Header.Set("X-Admin-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var f frame
	_ = json.NewDecoder(res.Body).Decode(&f)
	return res.StatusCode, f
}

// TestReportsPostgres drives a real node on PostgreSQL through a known
// hour (a mutual date, a no_match date, a cancel), forces the hour's
// report, and reads the row back from PostgreSQL itself.
func TestReportsPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL test: not in -short")
	}
	dbURL := pgtest.NewDatabase(t)
	// The counts must all fall in one UTC hour (and day): not in the last
	// two minutes of one.
	waitFor(t, 3*time.Minute, "not the end of an hour", func() bool { return time.Now().UTC().Minute() < 58 })
	hour := time.Now().UTC().Truncate(time.Hour)

	cfg := testConfig(t)
	cfg.DatabaseURL = dbURL
	cfg.AdminKey = reportsAdminKey
	cfg.Actors.DateLength, cfg.Actors.VoteWindow = 20*time.Second, 5*time.Second
	n := startNode(t, cfg)
	base := "http://" + n.Addr()

	// A mutual date, a no_match date, and a woman who gives up waiting.
	d1 := matchPair(t, base, "reports", "Ann", "Bob")
	d1.ca.send("vote", map[string]any{"match_id": d1.mid, "choice": "yes"})
	d1.ca.expect("vote_recorded")
	d1.cb.send("vote", map[string]any{"match_id": d1.mid, "choice": "yes"})
	d1.cb.expect("vote_recorded")
	if r := d1.ca.expect("match_result"); r.str("result") != "mutual" {
		t.Fatalf("first date: %v", r)
	}
	d2 := matchPair(t, base, "reports", "Cat", "Dan")
	d2.ca.send("vote", map[string]any{"match_id": d2.mid, "choice": "no"})
	d2.ca.expect("vote_recorded")
	d2.cb.send("vote", map[string]any{"match_id": d2.mid, "choice": "yes"})
	d2.cb.expect("vote_recorded")
	if r := d2.ca.expect("match_result"); r.str("result") != "no_match" {
		t.Fatalf("second date: %v", r)
	}
	eve := newUser(t, base, "Eve", "female", "reports", "male")
	ce, _ := eve.dial(t)
	ce.spin()
	ce.send("cancel", nil)
	ce.expect("cancelled")
	// Wait samples are written off the pools' paths: 4 matched, 1 cancelled.
	waitFor(t, 10*time.Second, "wait samples", func() bool {
		return count(t, dbURL, `select count(*) from wait_samples where pool = 'reports'`) == 5
	})

	// The admin key is required, and the period must be hour or day.
	for _, tc := range []struct {
		name, key, method, path string
		status                  int
		code                    string
	}{
		{"no key", "", "POST", "/api/admin/reports/run?period=hour", 401, "unauthorized"},
		{"wrong key", "wrong", "GET", "/api/admin/reports?period=hour", 401, "unauthorized"},
		{"bad period", reportsAdminKey, "GET", "/api/admin/reports?period=week", 400, "bad_request"},
		{"no period", reportsAdminKey, "GET", "/api/admin/reports", 400, "bad_request"},
		{"bad period run", reportsAdminKey, "POST", "/api/admin/reports/run?period=HOUR", 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := adminCall(t, base, tc.key, tc.method, tc.path)
			if status != tc.status || body.obj("error").str("code") != tc.code {
				t.Fatalf("%s %s = %d %v, want %d %s", tc.method, tc.path, status, body, tc.status, tc.code)
			}
		})
	}

	// The waits the pool saw are those stored with the matches (a: the woman).
	var avgF, avgM float64
	queryRow(t, dbURL, `select avg(wait_a_us)::float8 / 1e6, avg(wait_b_us)::float8 / 1e6 from matches where pool = 'reports'`, nil, &avgF, &avgM)

	status, rep := adminCall(t, base, reportsAdminKey, "POST", "/api/admin/reports/run?period=hour")
	if status != 200 {
		t.Fatalf("forced run: %d %v", status, rep)
	}
	start, _ := time.Parse(time.RFC3339, rep.str("start"))
	end, _ := time.Parse(time.RFC3339, rep.str("end"))
	if rep.str("period") != "hour" || !start.Equal(hour) || !end.Equal(hour.Add(time.Hour)) {
		t.Fatalf("forced run reported %s %s..%s, want the hour %s", rep.str("period"), rep.str("start"), rep.str("end"), hour)
	}
	checkReport(t, rep, avgF, avgM)
	if f, _ := rep["final"].(bool); f {
		t.Errorf("a report of the current hour says final")
	}

	// The row in PostgreSQL has the same counts.
	var matches, mutual, noMatch, peak, alerts, abF, abM int
	var rate float64
	var final bool
	queryRow(t, dbURL, `select matches, mutual, no_match, success_rate, (abandoned->>'female')::int, (abandoned->>'male')::int,
		peak_waiting, alerts_fired, final from reports where period = 'hour' and start_at = $1`,
		[]any{hour}, &matches, &mutual, &noMatch, &rate, &abF, &abM, &peak, &alerts, &final)
	if matches != 2 || mutual != 1 || noMatch != 1 || rate != 0.5 || abF != 1 || abM != 0 || peak != 2 || alerts != 0 || final {
		t.Fatalf("reports row: matches %d mutual %d no_match %d success %v abandoned f%d m%d peak %d alerts %d final %v; want 2 1 1 0.5 f1 m0 2 0 false",
			matches, mutual, noMatch, rate, abF, abM, peak, alerts, final)
	}
	if got := count(t, dbURL, `select count(*) from reports where period = 'hour' and start_at = $1`, hour); got != 1 {
		t.Fatalf("%d rows for the hour", got)
	}

	// A second run rewrites the same row.
	if status, _ := adminCall(t, base, reportsAdminKey, "POST", "/api/admin/reports/run?period=hour"); status != 200 {
		t.Fatalf("second run: %d", status)
	}
	if got := count(t, dbURL, `select count(*) from reports where period = 'hour' and start_at = $1`, hour); got != 1 {
		t.Fatalf("%d rows for the hour after a second run, want 1", got)
	}

	// The day so far has the same counts.
	status, day := adminCall(t, base, reportsAdminKey, "POST", "/api/admin/reports/run?period=day")
	if status != 200 || day.str("period") != "day" || day.str("start") != hour.Truncate(24*time.Hour).Format(time.RFC3339) {
		t.Fatalf("day run: %d %v", status, day)
	}
	checkReport(t, day, avgF, avgM)

	// The listing: newest first (the current hour), bounded to a week.
	status, list := adminCall(t, base, reportsAdminKey, "GET", "/api/admin/reports?period=hour")
	reports, _ := list["reports"].([]any)
	if status != 200 || len(reports) == 0 || len(reports) > 168 {
		t.Fatalf("listing: %d, %d reports", status, len(reports))
	}
	first := frame(reports[0].(map[string]any))
	if first.str("start") != hour.Format(time.RFC3339) {
		t.Fatalf("newest report starts %s, want %s", first.str("start"), hour.Format(time.RFC3339))
	}
	checkReport(t, first, avgF, avgM)
	for i := 1; i < len(reports); i++ {
		prev, cur := frame(reports[i-1].(map[string]any)).str("start"), frame(reports[i].(map[string]any)).str("start")
		if cur >= prev {
			t.Fatalf("listing not newest first: %s after %s", cur, prev)
		}
	}
	// The grain writes the finished hours it found missing (the last 48),
	// each final and empty (nothing happened in them), in the background.
	got := 0
	waitFor(t, 20*time.Second, "the catch-up of the last 48 hours", func() bool {
		got = count(t, dbURL, `select count(*) from reports where period = 'hour' and final and start_at < $1 and matches = 0`, hour)
		return got >= 47
	})
}

// checkReport checks the counts TestReportsPostgres made.
func checkReport(t *testing.T, r frame, avgF, avgM float64) {
	t.Helper()
	if r.num("matches") != 2 || r.num("mutual") != 1 || r.num("no_match") != 1 || r.num("success_rate") != 0.5 ||
		r.num("peak_waiting") != 2 || r.num("alerts_fired") != 0 {
		t.Errorf("%s report: %v; want 2 matches, 1 mutual, 1 no_match, success 0.5, peak 2, 0 alerts", r.str("period"), r)
	}
	ab := r.obj("abandoned")
	if ab.num("female") != 1 || ab.num("male") != 0 || ab.num("nonbinary") != 0 || len(ab) != 3 {
		t.Errorf("%s report: abandoned %v, want female 1, male 0, nonbinary 0", r.str("period"), ab)
	}
	avg, p90 := r.obj("avg_wait_s"), r.obj("p90_wait_s")
	if len(avg) != 2 || math.Abs(avg.num("female")-avgF) > 1e-3 || math.Abs(avg.num("male")-avgM) > 1e-3 {
		t.Errorf("%s report: avg_wait_s %v, want female %.6f male %.6f", r.str("period"), avg, avgF, avgM)
	}
	if len(p90) != 2 || p90.num("female") < avg.num("female") || p90.num("male") < avg.num("male") {
		t.Errorf("%s report: p90_wait_s %v, avg %v", r.str("period"), p90, avg)
	}
}

// queryRow scans one row of a query (with args) on the test database into dest.
func queryRow(t *testing.T, dbURL, q string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, q, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestReportsMemoryStore: with the embedded store the reports are kept in
// memory, and the routes are open in development without a key.
func TestReportsMemoryStore(t *testing.T) {
	waitFor(t, 3*time.Minute, "not the end of an hour", func() bool { return time.Now().UTC().Minute() < 58 })
	n := startNode(t, testConfig(t))
	base := "http://" + n.Addr()
	eve := newUser(t, base, "Eve", "nonbinary", "memreports", "female")
	ce, _ := eve.dial(t)
	ce.spin()
	ce.send("cancel", nil)
	ce.expect("cancelled")
	var rep frame
	waitFor(t, 10*time.Second, "the cancel in the hour's report", func() bool {
		var status int
		status, rep = adminCall(t, base, "", "POST", "/api/admin/reports/run?period=hour")
		return status == 200 && rep.obj("abandoned").num("nonbinary") == 1
	})
	if rep.num("matches") != 0 || rep.num("peak_waiting") != 1 || rep.num("success_rate") != 0 {
		t.Fatalf("hour report: %v", rep)
	}
	status, list := adminCall(t, base, "", "GET", "/api/admin/reports?period=hour")
	reports, _ := list["reports"].([]any)
	if status != 200 || len(reports) < 2 || frame(reports[0].(map[string]any)).obj("abandoned").num("nonbinary") != 1 {
		t.Fatalf("listing: %d %v", status, list)
	}
	if status, body := adminCall(t, base, "", "GET", "/api/admin/reports?period="); status != 400 || body.obj("error").str("code") != "bad_request" {
		t.Fatalf("empty period: %d %v", status, body)
	}
}
