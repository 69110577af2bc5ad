package main

import (
	"github.com/getsentry/sentry-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/webhook"
)

// alertSink announces the alert changes the cluster's Alerts grain decides
// on this node: to Sentry as a message (when Sentry is on) and to the
// webhook (when ALERT_WEBHOOK_URL is set). Neither blocks: the Sentry SDK
// queues its events, the webhook Sender its POSTs. Static after
// construction.
type alertSink struct {
	sentry  bool
	webhook *webhook.Sender // nil: none
}

// Announce sends a to Sentry and the webhook.
func (s *alertSink) Announce(a actors.Alert) {
	if s.sentry {
		hub := sentry.CurrentHub().Clone()
		hub.WithScope(func(scope *sentry.Scope) {
			scope.SetLevel(sentryLevel(a))
			scope.SetTag("alert.rule", a.Rule)
			scope.SetTag("alert.state", a.State)
			if a.Pool != "" {
				scope.SetTag("alert.pool", a.Pool)
			}
			if a.Node != "" {
				scope.SetTag("alert.node", a.Node)
			}
			scope.SetFingerprint([]string{"alert", a.Rule, a.Pool, a.Gender, a.Member, a.State})
			hub.CaptureMessage("alert " + a.State + ": " + a.Message)
		})
	}
	if s.webhook != nil {
		s.webhook.Send(a)
	}
}

// sentryLevel maps an alert's severity (a resolve is informational).
func sentryLevel(a actors.Alert) sentry.Level {
	switch {
	case a.State == "resolved":
		return sentry.LevelInfo
	case a.Severity == "critical":
		return sentry.LevelError
	default:
		return sentry.LevelWarning
	}
}

// wireAlerts gives the grains their alert sink and metrics, and starts the
// webhook sender when ALERT_WEBHOOK_URL is set.
func (n *Node) wireAlerts(cfg Config, deps *actors.Deps, reg prometheus.Registerer) {
	sink := &alertSink{sentry: cfg.SentryDSN != ""}
	hooks := webhook.NewMetrics(reg)
	if cfg.Alerts.WebhookURL != "" {
		n.webhook = webhook.New(webhook.Config{URL: cfg.Alerts.WebhookURL, FirstRetry: cfg.Alerts.WebhookRetry,
			Logger: n.log.With("component", "webhook"), Metrics: hooks})
		sink.webhook = n.webhook
	}
	deps.Alerts = sink
	deps.AlertsFired = actors.AlertsFiredCounter(deps)
	deps.AlertMetrics = actors.NewAlertMetrics(reg)
}
