package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/keys"
)

// Audit log reads: ?limit= is 1..maxAuditLimit, defaultAuditLimit when absent.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// RegisterAdmin mounts the admin REST routes (PROTOCOL.md, Admin) behind
// gate (keys.Admin).
func (a *API) RegisterAdmin(mux *http.ServeMux, gate *keys.Gate) {
	mux.Handle("GET /api/admin/queue-stats", gate.Wrap(http.HandlerFunc(a.queueStats)))
	mux.Handle("GET /api/admin/audit", gate.Wrap(http.HandlerFunc(a.auditLog)))
}

// queueStats is the cluster snapshot (shared, at most a second old).
func (a *API) queueStats(w http.ResponseWriter, r *http.Request) {
	snap, err := a.sys.Snapshot(r.Context())
	if err != nil && r.Context().Err() != nil {
		return // the caller went away
	}
	if err != nil {
		a.log.Error("api: snapshot", "err", err)
		WriteError(w, actors.CodeUnavailable, "The statistics are unavailable right now. Please try again in a moment.")
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

type auditLine struct {
	At     string `json:"at"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
	IP     string `json:"ip"`
	Detail string `json:"detail"`
}

// auditLog reads the audit log back, newest first.
func (a *API) auditLog(w http.ResponseWriter, r *http.Request) {
	limit := defaultAuditLimit
	if v := r.URL.Query().Get("limit"); v != "" || r.URL.Query().Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			WriteError(w, actors.CodeBadRequest, "limit must be a whole number from 1 to 1000.")
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	entries, err := a.sys.AuditLog(ctx, limit)
	if err != nil {
		a.log.Error("api: audit log read", "err", err)
		WriteError(w, actors.CodeUnavailable, "The audit log is unavailable right now. Please try again in a moment.")
		return
	}
	out := make([]auditLine, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditLine{At: e.At.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Action: e.Action, Target: e.Target, IP: e.IP, Detail: e.Detail})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
}
