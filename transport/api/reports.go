package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/keys"
)

// RegisterReports mounts the report routes (PROTOCOL.md, Admin, More admin
// routes) on mux behind the admin gate:
//
//   - GET /api/admin/reports?period=hour|day: the stored reports, newest
//     first (the last 168 hours or 90 days);
//   - POST /api/admin/reports/run?period=hour|day: writes (or rewrites)
//     the report of the current period so far and returns it.
func RegisterReports(mux *http.ServeMux, sys *actors.System, gate *keys.Gate, log *slog.Logger) {
	mux.Handle("GET /api/admin/reports", gate.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		period, ok := reportPeriod(w, r)
		if !ok {
			return
		}
		reports, err := sys.Reports(r.Context(), period)
		if err != nil {
			log.Warn("reports: cannot read", "period", period, "err", err)
			WriteError(w, actors.CodeUnavailable, "The reports are unavailable right now. Please try again in a moment.")
			return
		}
		writeJSON(w, http.StatusOK, map[string][]actors.Report{"reports": reports})
	})))
	mux.Handle("POST /api/admin/reports/run", gate.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		period, ok := reportPeriod(w, r)
		if !ok {
			return
		}
		rep, err := sys.RunReport(r.Context(), period)
		if errors.Is(err, actors.ErrBadReportPeriod) {
			WriteError(w, actors.CodeBadRequest, "period must be hour or day.")
			return
		}
		if err != nil {
			log.Warn("reports: forced run failed", "period", period, "err", err)
			WriteError(w, actors.CodeUnavailable, "The report could not be written just now. Please try again in a moment.")
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})))
}

// reportPeriod reads ?period=, or answers 400 bad_request.
func reportPeriod(w http.ResponseWriter, r *http.Request) (string, bool) {
	p := r.URL.Query().Get("period")
	if !actors.ValidReportPeriod(p) {
		WriteError(w, actors.CodeBadRequest, "period must be hour or day.")
		return "", false
	}
	return p, true
}
