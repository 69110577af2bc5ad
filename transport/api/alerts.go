package api

import (
	"net/http"

	"github.com/spinmatch/spinmatch/actors"
)

// alertsBody is GET /api/admin/alerts (PROTOCOL.md, Admin).
type alertsBody struct {
	Firing []actors.Alert `json:"firing"` // newest first
	Recent []actors.Alert `json:"recent"` // the last changes, newest first, at most 100
}

// Alerts returns GET /api/admin/alerts: the cluster's firing alerts and
// recent changes. Mount it behind the admin key gate.
func Alerts(sys *actors.System) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		firing, recent := sys.AlertsRecent(r.Context())
		if firing == nil {
			firing = []actors.Alert{}
		}
		if recent == nil {
			recent = []actors.Alert{}
		}
		writeJSON(w, http.StatusOK, alertsBody{Firing: firing, Recent: recent})
	})
}
