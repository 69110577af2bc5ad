package api

import (
	"context"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/transport/clientip"
	"github.com/spinmatch/spinmatch/transport/keys"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// The test endpoints (PROTOCOL.md, Test endpoints), for load and smoke
// tests of a deployment. The keys.Test gate lets a call in; the call is
// written to the audit log (who, the route, the target user, the client
// address) before anything is done or answered, and a call whose audit
// line cannot be written is answered 503 unavailable and does nothing. A
// call the gate refuses (404, 401) is not a call of these routes and is
// not audited; the rest_admin address budget bounds them all (limits.go).

// auditTimeout bounds one audit write of a test call.
const auditTimeout = 2 * time.Second

// testHandler serves one test route; c audits the call.
type testHandler func(w http.ResponseWriter, r *http.Request, c *testCall)

// testCall is one test-endpoint call being served. Owned by its handler.
type testCall struct {
	a      *API
	r      *http.Request
	who    string // keys.ActorTestKey or keys.ActorDevelopment, never a key
	action string // the route, e.g. "test.spin"
}

func (a *API) registerTest(mux *http.ServeMux) {
	g := keys.Test(a.cfg.TestKey, a.cfg.Development, WriteError)
	route := func(pattern, action string, h testHandler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			who, ok := g.Check(w, r)
			if !ok {
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			h(w, r, &testCall{a: a, r: r, who: who, action: action})
		})
	}
	route("POST /api/test/batch-setup", "test.batch_setup", a.testBatchSetup)
	route("POST /api/test/spin", "test.spin", a.testSpin)
	route("GET /api/test/match-status", "test.match_status", a.testMatchStatus)
	route("POST /api/test/vote", "test.vote", a.testVote)
	route("GET /api/test/user-pool", "test.user_pool", a.testUserPool)
	route("GET /api/test/queue-status", "test.queue_status", a.testQueueStatus)
	route("GET /api/test/monitoring", "test.monitoring", a.testMonitoring)
	route("GET /api/test/db-stats", "test.db_stats", a.testDBStats)
}

// audit writes the call's audit line: target is the user (or batch) it
// acts on ("" for none), detail what else it names, and the client
// address. On failure it answers 503 and returns false: the call must
// then do nothing.
func (c *testCall) audit(w http.ResponseWriter, target, detail string) bool {
	ip := ""
	if addr := clientip.FromContext(c.r.Context()); addr.IsValid() {
		ip = addr.String()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), auditTimeout)
	defer cancel()
	e := persistence.AuditEntry{Actor: c.who, Action: c.action, Target: target, IP: ip, Detail: detail}
	if err := c.a.sys.Audit(ctx, e); err != nil {
		c.a.log.Error("api: test call not audited; refused", "action", c.action, "err", err)
		WriteError(w, actors.CodeUnavailable, "We can't record this test call in the audit log right now, so it was not run. Please try again in a moment.")
		return false
	}
	return true
}

// refuse audits a call refused for its input, then writes e.
func (c *testCall) refuse(w http.ResponseWriter, target string, e *msg.Error) {
	if c.audit(w, target, "refused="+e.Code) {
		writeMsgError(w, e)
	}
}

// readBody reads the call's body (bounded, as readBody); a body that
// cannot be read is refused and audited.
func (c *testCall) readBody(w http.ResponseWriter) ([]byte, bool) {
	data, err := wire.ReadBody(c.r.Body, wire.MaxBody)
	if err != nil {
		c.refuse(w, "", bodyError(err, "We couldn't read that request. Please try again."))
		return nil, false
	}
	return data, true
}

// testUserID checks a user id named by a test call (as POST /api/dev/token does).
func testUserID(id string) *msg.Error {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\r\n/") {
		return actors.NewError(actors.CodeBadRequest, "user_id is required: at most 64 characters without spaces or slashes.")
	}
	return nil
}

// auditTarget is what the audit line names of a target that was refused:
// at most 64 bytes of it, never the whole of a long input.
func auditTarget(id string) string {
	if len(id) > 64 {
		id = id[:64]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, id)
}

// testUserBody parses a test body that names a user: {"user_id", ...}.
func testUserBody(data []byte, usage string, v any) *msg.Error {
	if err := wire.Unmarshal(data, v); err != nil {
		return bodyError(err, usage)
	}
	return nil
}

// asUser runs h as userID would through API.user: the user's in-flight
// bound and rest_user budget apply.
func (a *API) asUser(w http.ResponseWriter, r *http.Request, userID string, h func()) {
	leave, ok := a.takeUser(w, r, userID)
	if !ok {
		return
	}
	defer leave()
	h()
}

func (a *API) testSpin(w http.ResponseWriter, r *http.Request, c *testCall) {
	data, ok := c.readBody(w)
	if !ok {
		return
	}
	var body struct {
		UserID string `json:"user_id"`
	}
	if e := testUserBody(data, `Send {"user_id": "..."}.`, &body); e != nil {
		c.refuse(w, "", e)
		return
	}
	if e := testUserID(body.UserID); e != nil {
		c.refuse(w, auditTarget(body.UserID), e)
		return
	}
	if !c.audit(w, body.UserID, "") {
		return
	}
	a.asUser(w, r, body.UserID, func() { a.spinFor(w, r, body.UserID) })
}

func (a *API) testMatchStatus(w http.ResponseWriter, r *http.Request, c *testCall) {
	id := r.URL.Query().Get("user_id")
	if e := testUserID(id); e != nil {
		c.refuse(w, auditTarget(id), e)
		return
	}
	if !c.audit(w, id, "") {
		return
	}
	a.asUser(w, r, id, func() { a.status(w, r, id) })
}

func (a *API) testVote(w http.ResponseWriter, r *http.Request, c *testCall) {
	data, ok := c.readBody(w)
	if !ok {
		return
	}
	var body struct {
		UserID string `json:"user_id"`
	}
	usage := `Send {"user_id": "...", "match_id": "...", "choice": "yes" or "no"}.`
	if e := testUserBody(data, usage, &body); e != nil {
		c.refuse(w, "", e)
		return
	}
	if e := testUserID(body.UserID); e != nil {
		c.refuse(w, auditTarget(body.UserID), e)
		return
	}
	matchID, choice, e := parseVote(data)
	if e != nil {
		c.refuse(w, body.UserID, e)
		return
	}
	if !c.audit(w, body.UserID, "match="+matchID+" choice="+choice) {
		return
	}
	a.asUser(w, r, body.UserID, func() { a.voteFor(w, r, body.UserID, matchID, choice) })
}

// poolWaiter is one entry of GET /api/test/user-pool.
type poolWaiter struct {
	UserID   string   `json:"user_id"`
	Gender   string   `json:"gender"`
	Seeking  []string `json:"seeking"`
	Position int32    `json:"position"`
	WaitedS  float64  `json:"waited_s"`
}

func (a *API) testUserPool(w http.ResponseWriter, r *http.Request, c *testCall) {
	name, e := a.sys.CheckPool(r.URL.Query().Get("pool"))
	if e != nil {
		c.refuse(w, "", e)
		return
	}
	if !c.audit(w, name, "pool") {
		return
	}
	line, err := a.sys.PoolWaiters(r.Context(), name)
	if err != nil {
		a.log.Error("api: pool unreachable", "pool", name, "err", err)
		WriteError(w, actors.CodeUnavailable, "That pool isn't answering right now. Please try again in a moment.")
		return
	}
	now := time.Now()
	out := make([]poolWaiter, 0, len(line.Waiters))
	for _, pw := range line.Waiters {
		waited := max(now.Sub(time.UnixMilli(pw.EnqueuedAtMs)).Seconds(), 0)
		out = append(out, poolWaiter{
			UserID: pw.UserId, Gender: pw.Gender, Seeking: pw.Seeking, Position: pw.Position,
			WaitedS: math.Round(waited*10) / 10,
		})
	}
	// total and truncated (the line is cut at actors.MaxPoolWaiters) are
	// extensions of PROTOCOL.md's body.
	writeJSON(w, http.StatusOK, map[string]any{"pool": name, "waiting": out, "total": line.Total, "truncated": line.Truncated})
}

func (a *API) testQueueStatus(w http.ResponseWriter, r *http.Request, c *testCall) {
	if !c.audit(w, "", "") {
		return
	}
	snap, err := a.sys.Snapshot(r.Context())
	if err != nil && r.Context().Err() != nil {
		return // the caller went away
	}
	if err != nil {
		a.log.Error("api: snapshot", "err", err)
		WriteError(w, actors.CodeUnavailable, "The queue snapshot is unavailable right now. Please try again in a moment.")
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

func (a *API) testMonitoring(w http.ResponseWriter, r *http.Request, c *testCall) {
	if !c.audit(w, "", "") {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ready := a.cfg.Ready == nil || a.cfg.Ready(ctx) == nil
	members := 0
	if a.cfg.Members != nil {
		members = a.cfg.Members()
	}
	node := ""
	if a.cfg.NodeName != nil {
		node = a.cfg.NodeName()
	}
	firing := len(a.sys.AlertsFiring(ctx))
	writeJSON(w, http.StatusOK, map[string]any{
		"node":    node,
		"ready":   ready,
		"cluster": map[string]any{"members": members},
		"sentry":  map[string]any{"enabled": a.cfg.Sentry},
		"alerts":  map[string]any{"firing": firing},
	})
}

func (a *API) testDBStats(w http.ResponseWriter, r *http.Request, c *testCall) {
	if !c.audit(w, "", "") {
		return
	}
	st, err := a.sys.StoreStats(r.Context())
	if err != nil {
		a.log.Error("api: store stats", "err", err)
		WriteError(w, actors.CodeUnavailable, "The database isn't answering right now. Please try again in a moment.")
		return
	}
	// estimated (the tables whose count is an estimate) is an extension.
	writeJSON(w, http.StatusOK, map[string]any{
		"store": st.Store, "rows": st.Rows, "estimated": st.Estimated, "connections": st.Connections,
	})
}
