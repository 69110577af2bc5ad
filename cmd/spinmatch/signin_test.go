package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/transport/auth/authtest"
)

// TestSupabaseSignIn runs a production node whose SUPABASE_URL is a local
// fake project (no JWT_SECRET): /readyz waits for the key set, ES256
// tokens open sockets and spin, and a token that expires on an open socket
// is renewed with auth (same place) or, unanswered, closes the socket with
// 4001 while the place is kept for the reconnect grace.
func TestSupabaseSignIn(t *testing.T) {
	proj := authtest.NewProject(t)
	proj.SetFailing(true)
	cfg := testConfig(t)
	cfg.Development = false
	cfg.JWTSecret = nil
	cfg.SupabaseURL = proj.URL
	cfg.JWKSRetry = 20 * time.Millisecond
	cfg.WSAuthWait = 1500 * time.Millisecond
	cfg.Actors.ReconnectGrace = 6 * time.Second
	n := startUnreadyNode(t, cfg)
	base := "http://" + n.Addr()

	// While the key set cannot be fetched the node is not ready.
	code, body := readyz(t, base)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "key set") {
		t.Fatalf("readyz while the key set fails: %d %s", code, body)
	}
	waitFor(t, 5*time.Second, "more key set fetches", func() bool { return proj.Requests() >= 3 })
	if code, body := readyz(t, base); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz still failing: %d %s", code, body)
	}
	proj.SetFailing(false)
	waitFor(t, 10*time.Second, "readyz 200 once the key set answers", func() bool {
		code, _ := readyz(t, base)
		return code == http.StatusOK
	})

	pool := func() string { return fmt.Sprintf("sb%d", userSeq.Add(1)) }
	// member signs a user in: a profile saved with a long-lived token.
	member := func(t *testing.T, name, gender, p string, seeking ...string) *user {
		id := fmt.Sprintf("sb-%d-%s", userSeq.Add(1), strings.ToLower(name))
		u := &user{id: id, token: proj.Token(t, id, time.Hour), name: name, base: base}
		st, f := rest(t, base, u, "PUT", "/api/me", map[string]any{"display_name": name, "gender": gender, "seeking": seeking, "pool": p})
		if st != http.StatusOK {
			t.Fatalf("PUT /api/me as %s: %d %v", name, st, f)
		}
		return u
	}
	// shortLived returns u with a token that expires in 2 to 3 s (exp is in
	// whole seconds).
	shortLived := func(t *testing.T, u *user) *user {
		v := *u
		v.token = proj.Token(t, u.id, 3*time.Second)
		return &v
	}

	t.Run("ES256 token opens the socket and spins; HS256 is refused", func(t *testing.T) {
		t.Parallel()
		p := pool()
		ann, bob := member(t, "Ann", "female", p, "male"), member(t, "Bob", "male", p, "female")
		ca, st := ann.dial(t)
		if st.str("state") != "idle" {
			t.Fatalf("state %v", st)
		}
		cb, _ := bob.dial(t)
		ca.spin()
		cb.spin()
		if fa := ca.expect("match_found"); fa.obj("partner").str("user_id") != bob.id {
			t.Fatalf("match_found %v", fa)
		}
		cb.expect("match_found")

		// Browsers hand the token over in the query.
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(base)+"?access_token="+ann.token, nil)
		if err != nil {
			t.Fatalf("dial with ?access_token: %v", err)
		}
		var st0 frame
		if err := ws.ReadJSON(&st0); err != nil || st0.str("type") != "state" || st0.str("state") != "matched" {
			t.Fatalf("query-token socket's first frame %v (%v)", st0, err)
		}
		_ = ws.Close()

		legacy := &user{id: "x", token: signHS256(t, "not-configured", "x"), name: "Legacy", base: base}
		_, res, err := websocket.DefaultDialer.Dial(wsURL(base), http.Header{"Authorization": {"Bearer " + legacy.token}})
		if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("HS256 without JWT_SECRET: %v %v", err, res)
		}
	})

	t.Run("expired token renewed with auth keeps the place", func(t *testing.T) {
		t.Parallel()
		p := pool()
		first := member(t, "Uma", "female", p, "male")
		cf, _ := first.dial(t)
		cf.spin()
		eve := member(t, "Eve", "female", p, "male")
		ce, _ := shortLived(t, eve).dial(t)
		q := ce.spin()
		pos := q.obj("queue").num("position")
		if pos != 2 {
			t.Fatalf("Eve queued at %v, want 2", pos)
		}
		// An invalid token is refused; the socket keeps the old one.
		id := ce.send("auth", map[string]any{"access_token": "not.a.token"})
		if e := ce.expect("error"); e.str("code") != "unauthorized" || e.num("ref") != id {
			t.Fatalf("invalid auth: %v", e)
		}
		if e := ce.expectWithin("error", 5*time.Second); e.str("code") != "token_expired" || e.str("help_url") == "" {
			t.Fatalf("at expiry: %v", e)
		}
		// Until a fresh token arrives, commands are refused.
		id = ce.send("status", nil)
		if e := ce.expect("error"); e.str("code") != "token_expired" || e.num("ref") != id {
			t.Fatalf("command after expiry: %v", e)
		}
		id = ce.send("auth", map[string]any{"access_token": proj.Token(t, eve.id, time.Hour)})
		st := ce.expect("state")
		if st.num("ref") != id || st.str("state") != "queued" || st.obj("queue").num("position") != pos {
			t.Fatalf("state after auth %v, want queued at %v with ref %v", st, pos, id)
		}
		// The fresh token re-armed the expiry: the socket outlives the auth window.
		ce.quiet(cfg.WSAuthWait + time.Second)
		ce.send("status", nil)
		if st := ce.expect("state"); st.str("state") != "queued" || st.obj("queue").num("position") != pos {
			t.Fatalf("status after renewal %v", st)
		}
	})

	t.Run("auth with another user's token is forbidden and closes", func(t *testing.T) {
		t.Parallel()
		p := pool()
		ida := member(t, "Ida", "female", p, "male")
		other := member(t, "Otto", "male", p, "female")
		ci, _ := ida.dial(t)
		id := ci.send("auth", map[string]any{"access_token": other.token})
		if e := ci.expect("error"); e.str("code") != "forbidden" || e.num("ref") != id {
			t.Fatalf("other user's auth: %v", e)
		}
		if code := closeCode(t, ci, 5*time.Second); code != 4003 {
			t.Fatalf("closed with %d, want 4003", code)
		}
	})

	t.Run("no auth within the window closes with 4001; the reconnect finds the place", func(t *testing.T) {
		t.Parallel()
		p := pool()
		first := member(t, "Zoe", "female", p, "male")
		cz, _ := first.dial(t)
		cz.spin()
		fay := member(t, "Fay", "female", p, "male")
		cy, _ := shortLived(t, fay).dial(t)
		pos := cy.spin().obj("queue").num("position")
		if e := cy.expectWithin("error", 5*time.Second); e.str("code") != "token_expired" {
			t.Fatalf("at expiry: %v", e)
		}
		start := time.Now()
		if code := closeCode(t, cy, cfg.WSAuthWait+3*time.Second); code != 4001 {
			t.Fatalf("closed with %d, want 4001", code)
		}
		if d := time.Since(start); d < cfg.WSAuthWait-200*time.Millisecond {
			t.Fatalf("closed %v after token_expired, before the %v window", d, cfg.WSAuthWait)
		}
		// Within the reconnect grace, a fresh token finds the same place.
		again, st := fay.dial(t)
		if st.str("state") != "queued" || st.obj("queue").num("position") != pos {
			t.Fatalf("reconnect state %v, want queued at %v", st, pos)
		}
		again.send("cancel", nil)
		again.expect("cancelled")
	})
}

// signHS256 signs a legacy token for sub with secret.
func signHS256(t *testing.T, secret, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startUnreadyNode starts a node without waiting for /readyz.
func startUnreadyNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("SPIN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	return n
}

func readyz(t *testing.T, base string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// closeCode reads until the socket closes and returns its close code
// (frames before the close other than wait_update fail the test).
func closeCode(t *testing.T, c *client, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: socket still open after %v", c.u.name, d)
		}
		f, err := c.next(left)
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return ce.Code
		case errors.Is(err, errTimeout):
			continue
		case err != nil:
			t.Fatalf("%s: socket ended without a close frame: %v", c.u.name, err)
		case f.str("type") != "wait_update":
			t.Fatalf("%s: unexpected %v before the close", c.u.name, f)
		}
	}
}

// TestSupabaseProcess runs the real binary in production with only
// SUPABASE_URL (no JWT_SECRET): it becomes ready and serves ES256 users;
// with neither, it stops at once with one line naming both variables.
func TestSupabaseProcess(t *testing.T) {
	proj := authtest.NewProject(t)
	p := startProcess(t, "SPIN_ENV=production", "SUPABASE_URL="+proj.URL, "SPIN_CLUSTER_KEY="+devClusterKey, "JWT_SECRET=")
	u := &user{id: "proc-sb-user", name: "Pia", base: p.base}
	u.token = proj.Token(t, u.id, time.Hour)
	if code, f := rest(t, p.base, u, "PUT", "/api/me", map[string]any{"display_name": "Pia", "gender": "female", "seeking": []string{"male"}}); code != http.StatusOK {
		t.Fatalf("PUT /api/me: %d %v", code, f)
	}
	if code, me := rest(t, p.base, u, "GET", "/api/me", nil); code != http.StatusOK || me.str("display_name") != "Pia" {
		t.Fatalf("GET /api/me: %d %v", code, me)
	}
	p.stop(t)

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "SPIN_ENV=production", "JWT_SECRET=", "SUPABASE_URL=",
		"SPIN_CLUSTER_KEY="+devClusterKey, "SPIN_ADDR=127.0.0.1:0", "SPIN_CLUSTER_BIND=127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	line := strings.TrimSpace(string(out))
	if err == nil || strings.Contains(line, "\n") || !strings.Contains(line, "JWT_SECRET") || !strings.Contains(line, "SUPABASE_URL") {
		t.Fatalf("start without either: err %v, output %q", err, out)
	}
}
