package transport

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/transport/api"
)

// Metrics are the edge's HTTP instruments. Safe for concurrent use.
type Metrics struct {
	// Latency is spinmatch_http_request_seconds by route class: the
	// address budget the route spends (api.Class), or "probe" (/healthz,
	// /readyz, /metrics) or "page" (pages, static files, 404s). Socket
	// upgrades are not measured (a socket lives for hours).
	Latency *prometheus.HistogramVec

	// obs are Latency's observers by class, resolved once; static after NewMetrics.
	obs   [limit.NumActions]prometheus.Observer
	probe prometheus.Observer
	page  prometheus.Observer
}

// NewMetrics creates the instruments and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "spinmatch_http_request_seconds",
			Help:    "Latency of HTTP requests (socket upgrades excluded), by route class.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"class"}),
	}
	for a := limit.Action(0); a < limit.NumActions; a++ {
		m.obs[a] = m.Latency.WithLabelValues(a.String())
	}
	m.probe = m.Latency.WithLabelValues("probe")
	m.page = m.Latency.WithLabelValues("page")
	if reg != nil {
		reg.MustRegister(m.Latency)
	}
	return m
}

// observer returns the latency observer of r's route class.
func (m *Metrics) observer(r *http.Request) prometheus.Observer {
	if a, ok := api.Class(r); ok && a < limit.NumActions {
		return m.obs[a]
	}
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return m.probe
	}
	return m.page
}

// measure observes the latency of every request next serves, except
// socket upgrades.
func (m *Metrics) measure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			next.ServeHTTP(w, r)
			return
		}
		o, t0 := m.observer(r), time.Now()
		defer func() { o.Observe(time.Since(t0).Seconds()) }()
		next.ServeHTTP(w, r)
	})
}
