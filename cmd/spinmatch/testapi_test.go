package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/alert"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
	"github.com/spinmatch/spinmatch/transport/auth/authtest"
)

const testAPIKey = "test-api-key-for-the-test"

// testAPI calls a test endpoint with key (none when ""); a string body is
// sent as it is, anything else as JSON.
func testAPI(t *testing.T, base, key, method, path string, body any) (int, frame) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if key != "" {
		req.Header.Set("X-Test-Api-Key", key)
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

// auditRow is one line of the audit log in PostgreSQL.
type auditRow struct{ actor, action, target, ip, detail string }

func auditRows(t *testing.T, dbURL string) []auditRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `select actor, action, target, ip, detail from audit_log where action like 'test.%' order by id`)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	var out []auditRow
	var r auditRow
	if _, err := pgx.ForEachRow(rows, []any{&r.actor, &r.action, &r.target, &r.ip, &r.detail}, func() error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return out
}

// testRoutes are the eight test endpoints, each with a call that succeeds.
var testRoutes = []struct {
	method, path string
	body         any
}{
	{"POST", "/api/test/batch-setup", map[string]any{"count": 2, "pool": "gate", "genders": map[string]float64{"male": 1, "female": 1}}},
	{"POST", "/api/test/spin", map[string]any{"user_id": "{user}"}},
	{"GET", "/api/test/match-status?user_id={user}", nil},
	{"POST", "/api/test/vote", map[string]any{"user_id": "{user}", "match_id": "no-such-match", "choice": "yes"}},
	{"GET", "/api/test/user-pool?pool=gate", nil},
	{"GET", "/api/test/queue-status", nil},
	{"GET", "/api/test/monitoring", nil},
	{"GET", "/api/test/db-stats", nil},
}

// TestTestEndpointsNeedTheirKey: in production the eight routes answer 404
// without TEST_API_KEY configured; with it, 401 without the key or with a
// wrong one, and their answer with it; each call let in leaves exactly one
// audit row in PostgreSQL naming the key (never its value), the route,
// the target and the client address; refused calls leave none.
func TestTestEndpointsNeedTheirKey(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL test: not in -short")
	}
	// One node at a time (see TestOperatorRoutesNeedTheirKeys).
	t.Run("production, no test key configured", func(t *testing.T) {
		prod := testConfig(t)
		prod.Development = false
		base := "http://" + startNode(t, prod).Addr()
		for _, r := range testRoutes {
			if code, f := testAPI(t, base, "guess", r.method, r.path, withUser(r.body, "someone")); code != 404 || f.obj("error").str("code") != actors.CodeNotFound {
				t.Errorf("%s %s: %d %v, want 404 not_found", r.method, r.path, code, f)
			}
		}
	})
	t.Run("production, test key configured", func(t *testing.T) {
		dbURL := pgtest.NewDatabase(t)
		prod := testConfig(t)
		prod.Development, prod.TestKey, prod.DatabaseURL = false, testAPIKey, dbURL
		base := "http://" + startNode(t, prod).Addr()
		for _, r := range testRoutes {
			for _, key := range []string{"", testAPIKey + "x", strings.ToUpper(testAPIKey)} {
				if code, f := testAPI(t, base, key, r.method, r.path, withUser(r.body, "someone")); code != 401 || f.obj("error").str("code") != actors.CodeUnauthorized {
					t.Errorf("%s %s with key %q: %d %v, want 401 unauthorized", r.method, r.path, key, code, f)
				}
			}
		}
		if rows := auditRows(t, dbURL); len(rows) != 0 {
			t.Fatalf("refused calls were audited: %v", rows)
		}
		// vote on a match that does not exist is the user route's answer
		// (404 match_not_found): the call was let in and served.
		want := map[string]int{"/api/test/batch-setup": 201, "/api/test/vote": 404}
		// batch-setup (first) makes the user the other routes act on: in
		// production there is no other way to make one.
		target := ""
		for i, r := range testRoutes {
			path := strings.ReplaceAll(r.path, "{user}", target)
			code, f := testAPI(t, base, testAPIKey, r.method, path, withUser(r.body, target))
			if i == 0 {
				users, _ := f["users"].([]any)
				if len(users) != 2 {
					t.Fatalf("batch-setup: %d %v, want 2 users", code, f)
				}
				target = frame(users[0].(map[string]any)).str("user_id")
			}
			wantCode := 200
			if w, ok := want[strings.SplitN(r.path, "?", 2)[0]]; ok {
				wantCode = w
			}
			if r.path == "/api/test/spin" {
				wantCode = 202 // queued, nobody to pair with
			}
			if code != wantCode {
				t.Errorf("%s %s with the key: %d %v, want %d", r.method, r.path, code, f, wantCode)
			}
			rows := auditRows(t, dbURL)
			if len(rows) != i+1 {
				t.Fatalf("after %d calls, %d audit rows: %v", i+1, len(rows), rows)
			}
			last := rows[i]
			action := "test." + strings.ReplaceAll(strings.TrimPrefix(strings.SplitN(r.path, "?", 2)[0], "/api/test/"), "-", "_")
			if last.actor != "test-key" || last.action != action || last.ip != "127.0.0.1" {
				t.Errorf("audit row %+v, want actor test-key, action %s, ip 127.0.0.1", last, action)
			}
			if strings.Contains(fmt.Sprint(last), testAPIKey) {
				t.Errorf("audit row %+v holds the key's value", last)
			}
			wantTarget := map[string]string{
				"test.batch_setup": strings.TrimSuffix(target, "0001") + "*", "test.spin": target, "test.match_status": target,
				"test.vote": target, "test.user_pool": "gate",
			}[action]
			if last.target != wantTarget {
				t.Errorf("audit row %+v: target %q, want %q", last, last.target, wantTarget)
			}
		}
	})
}

// withUser is body with "{user}" values replaced by id.
func withUser(body any, id string) any {
	m, ok := body.(map[string]any)
	if !ok {
		return body
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v == "{user}" {
			v = id
		}
		out[k] = v
	}
	return out
}

// auditFailStore refuses every audit write.
type auditFailStore struct{ actors.Store }

func (auditFailStore) Audit(ctx context.Context, e persistence.AuditEntry) error {
	return errors.New("audit log down")
}

// TestTestEndpointsUnauditedRefused: when the audit log cannot be written,
// a test call answers 503 unavailable and does nothing (the user it would
// have spun is not queued).
func TestTestEndpointsUnauditedRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.wrapStore = func(st actors.Store) actors.Store { return auditFailStore{st} }
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	u := newUser(t, base, "Unaudited", "male", "unaudited", "female")
	code, f := testAPI(t, base, "", "POST", "/api/test/spin", map[string]any{"user_id": u.id})
	if code != 503 || f.obj("error").str("code") != actors.CodeUnavailable {
		t.Fatalf("spin with the audit log down: %d %v, want 503 unavailable", code, f)
	}
	if code, f := rest(t, base, u, "GET", "/api/match/status", nil); code != 200 || f.str("state") != actors.StateIdle {
		t.Fatalf("the user after a refused test spin: %d %v, want idle", code, f)
	}
	if code, _ := testAPI(t, base, "", "POST", "/api/test/batch-setup", map[string]any{"count": 3}); code != 503 {
		t.Fatalf("batch-setup with the audit log down: %d, want 503", code)
	}
}

// TestTestEndpointsDrive: over real sockets against a node on PostgreSQL,
// batch-setup makes 20 users at 1:1 who spin and are paired (match-status
// shows each matched, every match twice), their tokens work, test/vote
// votes; user-pool lists a line in order with positions; monitoring and
// db-stats answer with the node's and the database's own numbers; bad
// input gets typed errors, each call audited.
func TestTestEndpointsDrive(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL test: not in -short")
	}
	dbURL := pgtest.NewDatabase(t)
	cfg := testConfig(t)
	cfg.DatabaseURL = dbURL
	// The imbalance rule trips at once at 2 waiting on one side; the other
	// rules stay quiet: the line below fires exactly one alert.
	cfg.Actors.Alerts = actors.AlertConfig{Interval: 100 * time.Millisecond, Thresholds: alert.Thresholds{
		WaitP90: time.Hour, Imbalance: 1, MinWaiting: 2, StoreErrorsPerMin: 1e6,
	}}
	base := "http://" + startNode(t, cfg).Addr()
	call := func(method, path string, body any) (int, frame) {
		t.Helper()
		return testAPI(t, base, "", method, path, body)
	}
	type made struct{ id, gender, token string }
	batch := func(body map[string]any) []made {
		t.Helper()
		code, f := call("POST", "/api/test/batch-setup", body)
		if code != 201 {
			t.Fatalf("batch-setup %v: %d %v", body, code, f)
		}
		var out []made
		for _, u := range f["users"].([]any) {
			m := frame(u.(map[string]any))
			out = append(out, made{m.str("user_id"), m.str("gender"), m.str("token")})
		}
		return out
	}

	// 20 users at 1:1, spinning: ten of each, all paired.
	users := batch(map[string]any{"count": 20, "pool": "load", "genders": map[string]float64{"male": 1, "female": 1}, "spin": true})
	genders := map[string]int{}
	for _, u := range users {
		genders[u.gender]++
		if !strings.HasPrefix(u.id, "test-") || u.token == "" {
			t.Fatalf("user %+v: want a test- id and a token", u)
		}
	}
	if len(users) != 20 || genders["male"] != 10 || genders["female"] != 10 {
		t.Fatalf("batch: %d users, genders %v; want 20, 10 and 10", len(users), genders)
	}
	// The token is a real one: the user route knows the profile.
	code, me := rest(t, base, &user{token: users[0].token}, "GET", "/api/me", nil)
	wantSeeking := map[string]string{"male": "female", "female": "male"}[users[0].gender]
	if seeking, _ := me["seeking"].([]any); code != 200 || me.str("pool") != "load" || len(seeking) != 1 || seeking[0] != wantSeeking {
		t.Fatalf("GET /api/me with a batch token: %d %v", code, me)
	}
	matches := map[string][]string{}
	for _, u := range users {
		var st frame
		waitFor(t, 10*time.Second, u.id+" matched", func() bool {
			_, st = call("GET", "/api/test/match-status?user_id="+u.id, nil)
			return st.str("state") == actors.StateMatched
		})
		mid := st.obj("match").str("match_id")
		matches[mid] = append(matches[mid], u.id)
	}
	if len(matches) != 10 {
		t.Fatalf("%d matches, want 10: %v", len(matches), matches)
	}
	for mid, pair := range matches {
		if len(pair) != 2 {
			t.Fatalf("match %s has %v, want two partners", mid, pair)
		}
	}
	if code, f := call("GET", "/api/test/user-pool?pool=load", nil); code != 200 || len(f["waiting"].([]any)) != 0 {
		t.Fatalf("user-pool of a paired pool: %d %v, want nobody waiting", code, f)
	}
	for mid, pair := range matches {
		for _, id := range pair {
			code, f := call("POST", "/api/test/vote", map[string]any{"user_id": id, "match_id": mid, "choice": "yes"})
			if code != 200 || f.str("type") != "vote_recorded" || f.str("choice") != "yes" {
				t.Fatalf("test vote: %d %v", code, f)
			}
		}
		break
	}

	// A line, spun one at a time: listed oldest first with positions
	// (the nonbinary user competes with nobody: position 1).
	line := append(batch(map[string]any{"count": 3, "pool": "line", "genders": map[string]float64{"male": 1}}),
		batch(map[string]any{"count": 1, "pool": "line", "genders": map[string]float64{"nonbinary": 1}})...)
	for _, u := range line {
		if code, f := call("POST", "/api/test/spin", map[string]any{"user_id": u.id}); code != 202 || f.str("type") != "queued" {
			t.Fatalf("test spin %s: %d %v", u.id, code, f)
		}
	}
	code, f := call("GET", "/api/test/user-pool?pool=line", nil)
	waiting, _ := f["waiting"].([]any)
	if code != 200 || f.str("pool") != "line" || len(waiting) != 4 {
		t.Fatalf("user-pool: %d %v, want the 4 waiters", code, f)
	}
	for i, wantPos := range []float64{1, 2, 3, 1} {
		w := frame(waiting[i].(map[string]any))
		if w.str("user_id") != line[i].id || w.str("gender") != line[i].gender || w.num("position") != wantPos || w.num("waited_s") < 0 {
			t.Errorf("waiter %d: %v, want %s (%s) at position %v", i, w, line[i].id, line[i].gender, wantPos)
		}
	}
	if s, _ := frame(waiting[3].(map[string]any))["seeking"].([]any); len(s) != 3 {
		t.Errorf("nonbinary seeking %v, want all three", s)
	}

	// The snapshot, monitoring and the database's numbers.
	code, snap := call("GET", "/api/test/queue-status", nil)
	pools, _ := snap["pools"].([]any)
	if code != 200 || len(pools) == 0 {
		t.Fatalf("queue-status: %d %v", code, snap)
	}
	for _, p := range pools {
		if p := frame(p.(map[string]any)); p.str("pool") == "line" && p.obj("waiting").num("male") != 3 {
			t.Errorf("queue-status pool line: %v, want 3 men waiting", p)
		}
	}
	var mon frame
	waitFor(t, 5*time.Second, "the line's imbalance alert in monitoring", func() bool {
		_, mon = call("GET", "/api/test/monitoring", nil)
		return mon.obj("alerts").num("firing") == 1
	})
	if mon.str("node") != cfg.Cluster.NodeName || mon["ready"] != true ||
		mon.obj("cluster").num("members") != 1 || mon.obj("sentry")["enabled"] != false {
		t.Fatalf("monitoring: %v (node %s)", mon, cfg.Cluster.NodeName)
	}
	code, db := call("GET", "/api/test/db-stats", nil)
	if code != 200 || db.str("store") != "postgres" || db.obj("connections").num("total") < 1 {
		t.Fatalf("db-stats: %d %v", code, db)
	}
	for _, table := range []string{"profiles", "matches", "votes", "queue_entries", "audit_log"} {
		// db-stats audits itself before it counts: nothing wrote since.
		if got, want := db.obj("rows").num(table), count(t, dbURL, "select count(*) from "+table); got != float64(want) {
			t.Errorf("db-stats rows.%s = %v, the database has %d", table, got, want)
		}
	}
	if db.obj("rows").num("profiles") != 24 || db.obj("rows").num("matches") != 10 || db.obj("rows").num("queue_entries") != 4 {
		t.Errorf("db-stats rows %v, want 24 profiles, 10 matches, 4 places", db.obj("rows"))
	}

	// Bad input: typed errors, each call audited.
	before := len(auditRows(t, dbURL))
	bad := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"count 0", "POST", "/api/test/batch-setup", map[string]any{"count": 0}, 400, actors.CodeBadRequest},
		{"count 1001", "POST", "/api/test/batch-setup", map[string]any{"count": 1001}, 400, actors.CodeBadRequest},
		{"count missing", "POST", "/api/test/batch-setup", map[string]any{"pool": "x"}, 400, actors.CodeBadRequest},
		{"count fractional", "POST", "/api/test/batch-setup", `{"count": 1.5}`, 400, actors.CodeInvalidMessage},
		{"unknown gender", "POST", "/api/test/batch-setup", map[string]any{"count": 2, "genders": map[string]float64{"robot": 1}}, 400, actors.CodeBadRequest},
		{"negative weight", "POST", "/api/test/batch-setup", map[string]any{"count": 2, "genders": map[string]float64{"male": 1, "female": -1}}, 400, actors.CodeBadRequest},
		{"all weights zero", "POST", "/api/test/batch-setup", map[string]any{"count": 2, "genders": map[string]float64{"male": 0}}, 400, actors.CodeBadRequest},
		{"bad pool", "POST", "/api/test/batch-setup", map[string]any{"count": 2, "pool": "Not A Pool"}, 400, actors.CodeBadRequest},
		{"not JSON", "POST", "/api/test/batch-setup", `{"count": `, 400, actors.CodeInvalidMessage},
		{"spin without user", "POST", "/api/test/spin", map[string]any{}, 400, actors.CodeBadRequest},
		{"spin with slash", "POST", "/api/test/spin", map[string]any{"user_id": "a/b"}, 400, actors.CodeBadRequest},
		{"vote bad choice", "POST", "/api/test/vote", map[string]any{"user_id": line[0].id, "match_id": "m", "choice": "maybe"}, 400, actors.CodeInvalidMessage},
		{"status without user", "GET", "/api/test/match-status", nil, 400, actors.CodeBadRequest},
		{"user-pool bad pool", "GET", "/api/test/user-pool?pool=..", nil, 400, actors.CodeBadRequest},
		{"body too large", "POST", "/api/test/spin", `{"user_id": "` + strings.Repeat("x", 70<<10) + `"}`, 413, actors.CodeMessageTooLarge},
	}
	for _, tc := range bad {
		code, f := call(tc.method, tc.path, tc.body)
		if code != tc.status || f.obj("error").str("code") != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, code, f, tc.status, tc.code)
		}
	}
	rows := auditRows(t, dbURL)
	if got := len(rows) - before; got != len(bad) {
		t.Errorf("%d audit rows for %d refused calls", got, len(bad))
	}
	for _, r := range rows[before:] {
		if r.actor != "development" || !strings.Contains(r.detail, "refused=") || len(r.detail) > 200 {
			t.Errorf("audit row of a refused call: %+v", r)
		}
	}
	// The admin audit route reads the same lines back, newest first.
	code, log := rest(t, base, nil, "GET", "/api/admin/audit?limit=1", nil)
	entries, _ := log["entries"].([]any)
	if code != 200 || len(entries) != 1 {
		t.Fatalf("GET /api/admin/audit: %d %v", code, log)
	}
	if e := frame(entries[0].(map[string]any)); e.str("action") != "test.spin" || e.str("actor") != "development" ||
		e.str("ip") != "127.0.0.1" || e.str("target") != "" || e.str("detail") != "refused=message_too_large" {
		t.Errorf("newest audit entry %v, want the refused oversized spin", e)
	}
}

// TestBatchSetupNeedsASigningSecret: a node that verifies Supabase tokens
// only (no JWT_SECRET) cannot sign test users' tokens: batch-setup says
// so (503 unavailable), audited, and makes nobody.
func TestBatchSetupNeedsASigningSecret(t *testing.T) {
	proj := authtest.NewProject(t)
	cfg := testConfig(t)
	cfg.Development, cfg.TestKey = false, testAPIKey
	cfg.JWTSecret, cfg.SupabaseURL = nil, proj.URL
	base := "http://" + startNode(t, cfg).Addr()
	code, f := testAPI(t, base, testAPIKey, "POST", "/api/test/batch-setup", map[string]any{"count": 2})
	if code != 503 || f.obj("error").str("code") != actors.CodeUnavailable || !strings.Contains(f.obj("error").str("message"), "JWT_SECRET") {
		t.Fatalf("batch-setup without JWT_SECRET: %d %v, want 503 unavailable naming JWT_SECRET", code, f)
	}
	if code, db := testAPI(t, base, testAPIKey, "GET", "/api/test/db-stats", nil); code != 200 || db.str("store") != "memory" ||
		db.obj("rows").num("profiles") != 0 || db.obj("rows").num("audit_log") != 2 {
		t.Fatalf("db-stats after a refused batch: %d %v, want no profiles and two audit lines", code, db)
	}
}
