package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence"
)

// sentryStandIn is a local HTTP server standing in as Sentry: it records
// every envelope posted to it. Safe for concurrent use.
type sentryStandIn struct {
	srv *httptest.Server

	mu    sync.Mutex
	raw   [][]byte   // every envelope body; guarded by mu
	items []envelope // every decoded item; guarded by mu
}

// envelope is one item of an envelope: its type and its JSON payload.
type envelope struct {
	typ     string
	payload map[string]any
}

func newSentryStandIn(t *testing.T) *sentryStandIn {
	t.Helper()
	s := &sentryStandIn{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// dsn is the DSN that points the SDK at the stand-in.
func (s *sentryStandIn) dsn() string {
	return "http://publickey@" + s.srv.Listener.Addr().String() + "/1"
}

func (s *sentryStandIn) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	items := parseEnvelope(body)
	s.mu.Lock()
	s.raw = append(s.raw, body)
	s.items = append(s.items, items...)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// parseEnvelope splits an envelope (a header line, then per item a header
// line and a payload of the header's length, or one line).
func parseEnvelope(b []byte) []envelope {
	rd := bufio.NewReader(bytes.NewReader(b))
	if _, err := rd.ReadBytes('\n'); err != nil {
		return nil
	}
	var out []envelope
	for {
		line, err := rd.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return out
			}
			continue
		}
		var h struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if json.Unmarshal(line, &h) != nil {
			return out
		}
		var payload []byte
		if h.Length != nil {
			payload = make([]byte, *h.Length)
			if _, err := io.ReadFull(rd, payload); err != nil {
				return out
			}
		} else {
			payload, _ = rd.ReadBytes('\n')
		}
		var m map[string]any
		_ = json.Unmarshal(payload, &m)
		out = append(out, envelope{typ: h.Type, payload: m})
	}
}

// find returns the recorded items of type typ that match.
func (s *sentryStandIn) find(typ string, match func(map[string]any) bool) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, it := range s.items {
		if it.typ == typ && match(it.payload) {
			out = append(out, it.payload)
		}
	}
	return out
}

// await polls (flushing the SDK) until an item of type typ matches.
func (s *sentryStandIn) await(t *testing.T, what, typ string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var got []map[string]any
	waitFor(t, 15*time.Second, what, func() bool {
		sentry.Flush(time.Second)
		got = s.find(typ, match)
		return len(got) > 0
	})
	return got[0]
}

// faultStore is the node's store with faults injected from the test: a
// PutQueueEntry for failUser fails, one for panicUser panics. Safe for
// concurrent use.
type faultStore struct {
	actors.Store
	mu                  sync.Mutex
	failUser, panicUser string // guarded by mu
}

var errInjected = errors.New("injected store failure")

func (f *faultStore) PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error {
	f.mu.Lock()
	fail, boom := f.failUser == e.UserID, f.panicUser == e.UserID
	f.mu.Unlock()
	if boom {
		panic("injected grain panic for " + e.UserID)
	}
	if fail {
		return errInjected
	}
	return f.Store.PutQueueEntry(ctx, e)
}

func (f *faultStore) set(fail, boom string) {
	f.mu.Lock()
	f.failUser, f.panicUser = fail, boom
	f.mu.Unlock()
}

// Item accessors.
func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

func list(m map[string]any, key string) []map[string]any {
	var out []map[string]any
	v := m[key]
	if o, ok := v.(map[string]any); ok { // {"values": [...]}
		v = o["values"]
	}
	l, _ := v.([]any)
	for _, e := range l {
		if mm, ok := e.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

func hasSpan(tx map[string]any, op, descPrefix string) bool {
	for _, sp := range list(tx, "spans") {
		if str(sp, "op") == op && strings.HasPrefix(str(sp, "description"), descPrefix) {
			return true
		}
	}
	return false
}

func hasCrumb(ev map[string]any, message string) bool {
	for _, b := range list(ev, "breadcrumbs") {
		if str(b, "message") == message {
			return true
		}
	}
	return false
}

// TestSentry runs one real node with Sentry pointed at a local stand-in
// and real sockets: a forced grain panic and a forced store failure become
// error events while the node keeps serving, a spin is a trace (the
// socket's transaction and the session's, with grain and store spans and
// breadcrumbs), a page's report reaches Sentry, and no token or key is in
// any envelope byte. Not parallel: the Sentry client is process-wide.
func TestSentry(t *testing.T) {
	rec := newSentryStandIn(t)
	faults := &faultStore{}
	cfg := testConfig(t)
	cfg.SentryDSN = rec.dsn()
	cfg.SentryEnv = "test"
	cfg.SentrySample, cfg.SentryTraces = 1, 1
	cfg.AdminKey = "admin-key-6c1f0e5b9a"
	cfg.TestKey = "test-key-93d2aa7e41"
	cfg.wrapStore = func(st actors.Store) actors.Store { faults.Store = st; return faults }
	flush, err := setupSentry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		flush()
		sentry.CurrentHub().BindClient(nil)
	})
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	const pool = "sentrytest"
	var tokens []string

	// A spin, traced: a woman waits, a man is paired with her at once,
	// both vote.
	ann := newUser(t, base, "Ann", "female", pool, "male")
	bob := newUser(t, base, "Bob", "male", pool, "female")
	tokens = append(tokens, ann.token, bob.token)
	ca, _ := ann.dial(t)
	cb := dialQuery(t, bob) // the token in the URL, as browsers send it
	ca.spin()
	cb.spin()
	mid := ca.expect("match_found").str("match_id")
	cb.expect("match_found")
	ca.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
	ca.expect("vote_recorded")
	cb.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
	cb.expect("vote_recorded")
	ca.expect("match_result")
	cb.expect("match_result")
	cb.send("status", nil) // after the result: its socket's breadcrumbs hold the whole story
	cb.expect("state")

	sessionSpin := rec.await(t, "the session's spin transaction", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "UserSession spin" && str(m, "user", "id") == ann.id
	})
	if op := str(sessionSpin, "contexts", "trace", "op"); op != "session.command" {
		t.Errorf("session transaction op %q", op)
	}
	if !hasSpan(sessionSpin, "db", "PutQueueEntry") || !hasSpan(sessionSpin, "grain.request", "MatchPool Enqueue") {
		t.Errorf("session spin transaction lacks its store or grain spans: %v", sessionSpin["spans"])
	}
	if !hasCrumb(sessionSpin, "queued") {
		t.Errorf("session spin transaction lacks the queued breadcrumb: %v", sessionSpin["breadcrumbs"])
	}
	trace := str(sessionSpin, "contexts", "trace", "trace_id")
	wsSpin := rec.await(t, "the socket's spin transaction in the same trace", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "ws spin" && str(m, "contexts", "trace", "trace_id") == trace
	})
	if op := str(wsSpin, "contexts", "trace", "op"); op != "ws.command" || !hasSpan(wsSpin, "grain.request", "UserSession") {
		t.Errorf("socket transaction op %q spans %v", op, wsSpin["spans"])
	}
	rec.await(t, "bob's session spin, paired at once: match_found", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "UserSession spin" && str(m, "user", "id") == bob.id &&
			hasCrumb(m, "queued") && hasCrumb(m, "match_found") && hasSpan(m, "grain.request", "Match StartMatch")
	})
	rec.await(t, "a session vote transaction with vote_recorded", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "UserSession vote" && hasCrumb(m, "vote_recorded")
	})
	rec.await(t, "the socket's breadcrumbs of the whole date", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "ws status" && str(m, "user", "id") == bob.id &&
			hasCrumb(m, "queued") && hasCrumb(m, "match_found") && hasCrumb(m, "vote_recorded") && hasCrumb(m, "match_result")
	})

	// A REST spin and cancel: sentryhttp's transaction, its grain span, the
	// session's transaction in its trace.
	cat := newUser(t, base, "Cat", "female", pool, "female")
	tokens = append(tokens, cat.token)
	if code, f := rest(t, base, cat, "POST", "/api/spin", nil); code != http.StatusAccepted {
		t.Fatalf("REST spin: %d %v", code, f)
	}
	if code, f := rest(t, base, cat, "DELETE", "/api/spin", nil); code != http.StatusOK {
		t.Fatalf("REST cancel: %d %v", code, f)
	}
	restSpin := rec.await(t, "the REST spin transaction", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "POST /api/spin" && hasSpan(m, "grain.request", "UserSession Command")
	})
	rec.await(t, "the session's transaction in the REST call's trace", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "UserSession spin" &&
			str(m, "contexts", "trace", "trace_id") == str(restSpin, "contexts", "trace", "trace_id")
	})
	rec.await(t, "the session's cancel with its breadcrumb", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "UserSession cancel" && str(m, "user", "id") == cat.id && hasCrumb(m, "cancelled")
	})

	// A forced store failure: the user is told, Sentry gets the logged error.
	dan := newUser(t, base, "Dan", "male", pool, "female")
	tokens = append(tokens, dan.token)
	faults.set(dan.id, "")
	cd, _ := dan.dial(t)
	cd.send("spin", nil)
	if e := cd.expect("error"); e.str("code") != actors.CodeUnavailable {
		t.Fatalf("spin on a failing store: %v", e)
	}
	storeErr := rec.await(t, "the store failure's event", "event", func(m map[string]any) bool {
		return str(m, "message") == "session: queue entry not stored"
	})
	if str(storeErr, "level") != "error" || str(storeErr, "contexts", "log", "err") != errInjected.Error() ||
		str(storeErr, "contexts", "log", "user") != dan.id {
		t.Errorf("store failure event: level %q log %v", str(storeErr, "level"), storeErr["contexts"])
	}

	// A forced grain panic: an event with the panic's stack; the node
	// serves on (a user spins afterwards).
	eve := newUser(t, base, "Eve", "female", pool, "male")
	tokens = append(tokens, eve.token)
	faults.set("", eve.id)
	ce, _ := eve.dial(t)
	ce.send("spin", nil)
	panicEv := rec.await(t, "the grain panic's event", "event", func(m map[string]any) bool {
		for _, ex := range list(m, "exception") {
			if strings.Contains(str(ex, "value"), "injected grain panic for "+eve.id) {
				return true
			}
		}
		return false
	})
	if str(panicEv, "level") != "fatal" || str(panicEv, "tags", "panic") != "grain" {
		t.Errorf("panic event level %q tags %v", str(panicEv, "level"), panicEv["tags"])
	}
	var frames []string
	for _, ex := range list(panicEv, "exception") {
		st, _ := ex["stacktrace"].(map[string]any)
		for _, f := range list(st, "frames") {
			frames = append(frames, str(f, "function"))
		}
	}
	if !strings.Contains(strings.Join(frames, " "), "faultStore).PutQueueEntry") {
		t.Errorf("panic event's stack lacks the panicking frame: %v", frames)
	}
	if logged := rec.find("event", func(m map[string]any) bool { return str(m, "message") == "grain panic" }); len(logged) != 0 {
		t.Errorf("the grain panic was reported twice (as a logged error too)")
	}
	faults.set("", "")
	fay := newUser(t, base, "Fay", "female", pool, "male")
	tokens = append(tokens, fay.token)
	cf, _ := fay.dial(t)
	cf.spin() // still serving
	if code, _ := rest(t, base, nil, "GET", "/healthz", nil); code != http.StatusOK {
		t.Fatalf("healthz after the panic: %d", code)
	}

	// A page's report, sent with every credential a browser might carry.
	report := `{"message":"TypeError: x is undefined (token ` + ann.token + `)","stack":"at f (app.js:1:2)\n` + cfg.AdminKey +
		`","url":"` + base + `/?access_token=` + ann.token + `&admin_key=` + cfg.AdminKey + `","user_agent":"test"}`
	req, _ := http.NewRequest("POST", base+"/api/client-errors?access_token="+ann.token, strings.NewReader(report))
	req.Header.Set("Authorization", "Bearer "+ann.token)
	req.Header.Set("X-Admin-Key", cfg.AdminKey)
	req.Header.Set("x-test-api-key", cfg.TestKey)
	req.Header.Set("Cookie", "sb-access-token="+ann.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("client error report: %d", res.StatusCode)
	}
	browser := rec.await(t, "the page's report", "event", func(m map[string]any) bool {
		return str(m, "tags", "source") == "browser"
	})
	if !strings.HasPrefix(str(browser, "message"), "TypeError: x is undefined") || str(browser, "level") != "error" ||
		str(browser, "contexts", "browser_error", "user_agent") != "test" {
		t.Errorf("browser event: %v", browser)
	}

	// Secrets in log lines (a careless caller): the error's event and the
	// info line's breadcrumb arrive with them filtered out.
	lctx := sentry.SetHubOnContext(context.Background(), sentry.CurrentHub().Clone())
	n.log.InfoContext(lctx, "test: a line with "+cfg.TestKey)
	n.log.ErrorContext(lctx, "test: the JWT secret is "+string(cfg.JWTSecret), "token", ann.token, "detail", "admin "+cfg.AdminKey)
	logged := rec.await(t, "the logged error", "event", func(m map[string]any) bool {
		return strings.HasPrefix(str(m, "message"), "test: the JWT secret is")
	})
	if str(logged, "message") != "test: the JWT secret is [Filtered]" || str(logged, "contexts", "log", "detail") != "admin [Filtered]" ||
		!hasCrumb(logged, "test: a line with [Filtered]") {
		t.Errorf("logged error: message %q log %v", str(logged, "message"), logged["contexts"])
	}
	// A line logged without a context does not become a breadcrumb of the
	// global hub: it would tell the next event other users' story.
	n.log.Info("test: a line of nobody's story")
	n.log.Error("test: an error without a context")
	global := rec.await(t, "the context-less error", "event", func(m map[string]any) bool {
		return str(m, "message") == "test: an error without a context"
	})
	if hasCrumb(global, "test: a line of nobody's story") {
		t.Error("a context-less info line became a breadcrumb of the global hub")
	}

	// No token or key in any envelope byte.
	sentry.Flush(5 * time.Second)
	secrets := append(tokens, cfg.AdminKey, cfg.TestKey, string(cfg.JWTSecret))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.raw) == 0 {
		t.Fatal("no envelopes")
	}
	for i, b := range rec.raw {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				j := bytes.Index(b, []byte(s))
				t.Errorf("envelope %d carries a secret (%.12s...): ...%s...", i, s, b[max(0, j-300):j])
			}
		}
		if bytes.Contains(b, []byte("eyJ")) {
			t.Errorf("envelope %d carries something shaped like a JWT", i)
		}
	}
	t.Logf("%d envelopes, %d items", len(rec.raw), len(rec.items))
}

// dialQuery connects u with the token in the URL (?access_token=), as a
// browser does, and consumes the initial state.
func dialQuery(t *testing.T, u *user) *client {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(wsURL(u.base)+"?access_token="+u.token, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u.name, err, res)
	}
	c := &client{t: t, u: u, ws: ws, frames: make(chan frame, 256), closed: make(chan error, 1)}
	go c.readLoop()
	t.Cleanup(func() { _ = ws.Close() })
	c.expect("state")
	return c
}

// TestSentrySetup: an invalid DSN stops the start naming SENTRY_DSN, and
// SENTRY_SAMPLE_RATE=0 sends no error event (the SDK alone would read 0
// as 1) while transactions still go. Not parallel: the client is
// process-wide.
func TestSentrySetup(t *testing.T) {
	_, err := setupSentry(Config{SentryDSN: "not a dsn"})
	var ce *configError
	if !errors.As(err, &ce) || ce.name != "SENTRY_DSN" {
		t.Fatalf("invalid DSN: %v", err)
	}
	rec := newSentryStandIn(t)
	flush, err := setupSentry(Config{SentryDSN: rec.dsn(), SentrySample: 0, SentryTraces: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		flush()
		sentry.CurrentHub().BindClient(nil)
	})
	sentry.CaptureMessage("dropped by the sample rate")
	tx := sentry.StartTransaction(sentry.SetHubOnContext(context.Background(), sentry.CurrentHub().Clone()), "kept")
	tx.Finish()
	rec.await(t, "the transaction", "transaction", func(m map[string]any) bool { return str(m, "transaction") == "kept" })
	if evs := rec.find("event", func(map[string]any) bool { return true }); len(evs) != 0 {
		t.Fatalf("%d error events sent with SENTRY_SAMPLE_RATE=0", len(evs))
	}
}
