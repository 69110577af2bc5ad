package actors

import (
	"context"
	"slices"
	"time"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// alertsTimeout bounds one question to the Alerts grain.
const alertsTimeout = 2 * time.Second

// AlertsFiring returns the cluster's firing alerts, newest first. When the
// Alerts grain does not answer, what this node last heard from it.
func (s *System) AlertsFiring(ctx context.Context) []Alert {
	firing, _ := s.alertState(ctx, 0)
	return firing
}

// AlertsSince returns the cluster's alert changes after seq, oldest first
// (at most the last 100): the /admin/ws stream sends each once by asking
// for those after the last Seq it sent. seq 0 means all those kept.
func (s *System) AlertsSince(ctx context.Context, seq int64) []Alert {
	_, changes := s.alertState(ctx, seq)
	slices.Reverse(changes)
	return changes
}

// AlertsRecent returns the firing alerts and the recent changes (at most
// 100), both newest first (GET /api/admin/alerts).
func (s *System) AlertsRecent(ctx context.Context) (firing, recent []Alert) {
	return s.alertState(ctx, 0)
}

// alertState asks the grain, falling back on the node's cache.
func (s *System) alertState(ctx context.Context, since int64) (firing, changes []Alert) {
	timeout := min(alertsTimeout, s.d.Config.RequestTimeout)
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := ask[*msg.AlertState](c, s.d, AlertsID, KindAlerts, &msg.AlertQuery{Since: since}, timeout)
	if err != nil || (st.Fresh && st.Seq == 0) {
		if err != nil {
			s.d.Logger.Warn("alerts grain unavailable; answering from this node's copy", "err", err)
		}
		firing, changes = []Alert{}, []Alert{}
		if r := s.alerts.Load(); r != nil {
			f, recent := r.cached()
			firing = append(firing, f...)
			for _, a := range recent {
				if a.Seq > since {
					changes = append(changes, a)
				}
			}
		}
		return firing, changes
	}
	firing, changes = make([]Alert, 0, len(st.Firing)), make([]Alert, 0, len(st.Changes))
	for _, m := range st.Firing {
		firing = append(firing, alertFromMsg(m))
	}
	for _, m := range st.Changes {
		changes = append(changes, alertFromMsg(m))
	}
	return firing, changes
}
