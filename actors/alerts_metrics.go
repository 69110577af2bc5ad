package actors

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/alert"
)

// AlertMetrics are the alert rules' instruments. Safe for concurrent use.
type AlertMetrics struct {
	// Firing counts the firing alerts by rule, on the node hosting the
	// Alerts grain (0 on the others): sum over nodes for the cluster.
	Firing *prometheus.GaugeVec
}

// NewAlertMetrics creates the instruments and registers them with reg (nil: not registered).
func NewAlertMetrics(reg prometheus.Registerer) *AlertMetrics {
	m := &AlertMetrics{
		Firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "spinmatch_alerts_firing", Help: "Alerts firing now, by rule, on the node that evaluates the cluster's alert rules (0 elsewhere: sum over nodes)."}, []string{"rule"}),
	}
	for _, r := range alert.Rules {
		m.Firing.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.Firing)
	}
	return m
}
