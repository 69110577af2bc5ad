// Package api serves Spinmatch's REST routes: the predecessor app's
// compatibility routes, the profile routes, the development token route and
// the operational probes. Handlers hold no state of their own; everything
// lives in the actors. Safe for concurrent use.
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/transport/auth"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// maxBody bounds every REST request body.
const maxBody = wire.MaxBody

// Config holds what the routes need. Static after construction.
type Config struct {
	// Development enables /api/dev/token; in production it answers 404.
	Development bool
	// DevTokenTTL is how long development tokens live. Zero: 24h.
	DevTokenTTL time.Duration
	// Ready reports whether the node can serve (store answers, cluster joined).
	Ready func(ctx context.Context) error
	// Live, when set, reports a state only a restart cures (the cluster
	// declared this node dead); /healthz then answers 503.
	Live func() error
	// Members, when set, reports how many cluster members this node sees;
	// /readyz includes it.
	Members func() int
	// TestKey is TEST_API_KEY, the key of the test endpoints (testapi.go);
	// zero value: open in development, 404 in production.
	TestKey string
	// NodeName, when set, names this node (GET /api/test/monitoring).
	NodeName func() string
	// Sentry reports whether errors go to Sentry (GET /api/test/monitoring).
	Sentry bool
}

// API is the REST surface.
type API struct {
	cfg      Config
	sys      *actors.System
	verifier *auth.Verifier
	log      *slog.Logger
	users    *inFlight     // REST requests in flight per user (limits.go)
	batch    chan struct{} // batch-setup workers of the node (testbatch.go)
}

// New returns the REST surface.
func New(cfg Config, sys *actors.System, v *auth.Verifier, log *slog.Logger) *API {
	if cfg.DevTokenTTL == 0 {
		cfg.DevTokenTTL = 24 * time.Hour
	}
	return &API{cfg: cfg, sys: sys, verifier: v, log: log, users: newInFlight(), batch: make(chan struct{}, batchWorkers)}
}

// Register mounts the routes on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/spin", a.user(a.spin))
	mux.HandleFunc("DELETE /api/spin", a.user(a.cancel))
	mux.HandleFunc("GET /api/match/status", a.user(a.status))
	mux.HandleFunc("POST /api/vote", a.user(a.vote))
	mux.HandleFunc("GET /api/matches", a.user(a.matches))
	mux.HandleFunc("GET /api/me", a.user(a.getMe))
	mux.HandleFunc("PUT /api/me", a.user(a.putMe))
	mux.HandleFunc("GET /api/queue/status", a.queueStatus)
	mux.HandleFunc("POST /api/dev/token", a.devToken)
	a.registerTest(mux)
	mux.Handle("POST /api/client-errors", newClientErrors())
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, actors.CodeNotFound, "There's no such API route.")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Live != nil {
			if err := a.cfg.Live(); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "restart", "reason": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET "+wire.HelpPath, helpPage)
}

// WriteError writes {"error": {code, message, help_url}} with the code's status.
func WriteError(w http.ResponseWriter, code, message string) {
	writeJSON(w, wire.Status(code), map[string]any{"error": map[string]string{
		"code": code, "message": message, "help_url": wire.HelpURL(code),
	}})
}

// writeMsgError writes a typed error. A rate_limited error must go through writeUserError or writeLimited,
// which know the budget and so write the RateLimit-Policy and RateLimit
// headers PROTOCOL.md asks for; here it would get Retry-After only.
func writeMsgError(w http.ResponseWriter, e *msg.Error) {
	if e.Code == actors.CodeRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(e.RetryAfterS+0.999), 1)))
	}
	WriteError(w, e.Code, e.Message)
}

func secondsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// user wraps a handler that needs an authenticated user.
func (a *API) user(h func(w http.ResponseWriter, r *http.Request, userID string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := auth.BearerToken(r, false)
		if err != nil {
			WriteError(w, actors.CodeUnauthorized, "Please sign in first.")
			return
		}
		userID, _, err := a.verifier.Verify(tok)
		if err != nil {
			WriteError(w, actors.CodeUnauthorized, "Your sign-in has expired or is invalid. Please sign in again.")
			return
		}
		leave, ok := a.takeUser(w, r, userID)
		if !ok {
			return
		}
		defer leave()
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r, userID)
	}
}

// command runs one session command and writes its event, or its error.
// It returns the event when it was not an error.
func (a *API) command(w http.ResponseWriter, r *http.Request, userID string, cmd *msg.Command) *msg.Event {
	ev, err := a.sys.Command(r.Context(), userID, cmd)
	if err != nil {
		a.log.Error("api: session unreachable", "err", err)
		WriteError(w, actors.CodeUnavailable, "We can't reach our servers right now. Please try again in a moment.")
		return nil
	}
	if e := ev.GetError(); e != nil {
		a.writeUserError(w, e, actors.CommandAction(cmd))
		return nil
	}
	return ev
}

func (a *API) spin(w http.ResponseWriter, r *http.Request, userID string) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	if e := parseEmptyOrObject(data); e != nil {
		writeMsgError(w, e)
		return
	}
	a.spinFor(w, r, userID)
}

// spinFor runs a spin for userID and writes its answer (POST /api/spin,
// POST /api/test/spin).
func (a *API) spinFor(w http.ResponseWriter, r *http.Request, userID string) {
	ev := a.command(w, r, userID, &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}})
	if ev == nil {
		return
	}
	// Paired at once? The session settles an instant pair before it answers
	// anything else, so the next status shows it.
	if st, err := a.sys.Command(r.Context(), userID, &msg.Command{Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}}); err == nil && st.GetState().GetState() == actors.StateMatched {
		found := &msg.Event{Viewer: userID, Kind: &msg.Event_MatchFound{MatchFound: &msg.MatchFound{Match: st.GetState().Match}}}
		writeJSON(w, http.StatusOK, wire.FromEvent(found))
		return
	}
	writeJSON(w, http.StatusAccepted, wire.FromEvent(ev))
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request, userID string) {
	if ev := a.command(w, r, userID, &msg.Command{Kind: &msg.Command_Cancel{Cancel: &msg.CancelCmd{}}}); ev != nil {
		writeJSON(w, http.StatusOK, wire.FromEvent(ev))
	}
}

func (a *API) status(w http.ResponseWriter, r *http.Request, userID string) {
	if ev := a.command(w, r, userID, &msg.Command{Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}}); ev != nil {
		writeJSON(w, http.StatusOK, wire.FromEvent(ev))
	}
}

func (a *API) vote(w http.ResponseWriter, r *http.Request, userID string) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	matchID, choice, e := parseVote(data)
	if e != nil {
		writeMsgError(w, e)
		return
	}
	a.voteFor(w, r, userID, matchID, choice)
}

// voteFor casts userID's vote and writes its answer (POST /api/vote,
// POST /api/test/vote).
func (a *API) voteFor(w http.ResponseWriter, r *http.Request, userID, matchID, choice string) {
	cmd := &msg.Command{Kind: &msg.Command_Vote{Vote: &msg.Vote{MatchId: matchID, Choice: choice}}}
	if ev := a.command(w, r, userID, cmd); ev != nil {
		writeJSON(w, http.StatusOK, wire.FromEvent(ev))
	}
}

type historyEntry struct {
	MatchID   string       `json:"match_id"`
	Partner   wire.Partner `json:"partner"`
	MatchedAt string       `json:"matched_at"`
}

func (a *API) matches(w http.ResponseWriter, r *http.Request, userID string) {
	hist, err := a.sys.History(r.Context(), userID)
	if err != nil {
		a.log.Error("api: history", "err", err)
		WriteError(w, actors.CodeUnavailable, "Your match history is unavailable right now. Please try again in a moment.")
		return
	}
	out := make([]historyEntry, 0, len(hist))
	for _, h := range hist {
		out = append(out, historyEntry{
			MatchID:   h.MatchID,
			Partner:   wire.Partner{UserID: h.Partner.UserID, DisplayName: h.Partner.DisplayName, Gender: h.Partner.Gender},
			MatchedAt: h.MatchedAt.UTC().Format(time.RFC3339),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"matches": out})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := map[string]any{"status": "ready"}
	if a.cfg.Members != nil {
		body["members"] = a.cfg.Members()
	}
	if err := a.cfg.Ready(ctx); err != nil {
		body["status"], body["reason"] = "unavailable", err.Error()
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// audit appends to the audit log; a failure is logged, never the caller's
// problem (the change it records has already been made).
func (a *API) audit(r *http.Request, actor, action, detail string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	if err := a.sys.Audit(ctx, persistence.AuditEntry{Actor: actor, Action: action, Detail: detail}); err != nil {
		a.log.Warn("api: audit log write failed", "action", action, "err", err)
	}
}
