package main

import (
	"net/url"
	"strconv"
	"time"

	"github.com/spinmatch/spinmatch/actors/alert"
)

// alertsConfig is the node side of the alerts; the thresholds are in
// Config.Actors.Alerts.
type alertsConfig struct {
	// WebhookURL is where each alert change is POSTed (ALERT_WEBHOOK_URL);
	// "" for none.
	WebhookURL string
	// WebhookRetry is the webhook's first retry wait (tests shorten it).
	// Zero: 1 s.
	WebhookRetry time.Duration
}

// loadAlerts reads SPIN_ALERT_FOR_S, SPIN_ALERT_WAIT_P90_S,
// SPIN_ALERT_IMBALANCE, SPIN_ALERT_MIN_WAITING,
// SPIN_ALERT_STORE_ERRORS_PER_MIN and ALERT_WEBHOOK_URL (PROTOCOL.md,
// Alerts).
func loadAlerts(getenv func(string) string, c *Config) error {
	th := alert.DefaultThresholds()
	for _, d := range []struct {
		name string
		dst  *time.Duration
		zero bool
	}{
		{"SPIN_ALERT_FOR_S", &th.For, true},
		{"SPIN_ALERT_WAIT_P90_S", &th.WaitP90, true},
	} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || (f == 0 && !d.zero) || f > 7*24*3600 {
			return &configError{d.name, "must be a number of seconds from 0 to 604800, not " + strconv.Quote(v)}
		}
		*d.dst = time.Duration(f * float64(time.Second))
	}
	for _, r := range []struct {
		name string
		dst  *float64
		min  float64
	}{
		{"SPIN_ALERT_IMBALANCE", &th.Imbalance, 1},
		{"SPIN_ALERT_STORE_ERRORS_PER_MIN", &th.StoreErrorsPerMin, 0},
	} {
		v := getenv(r.name)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= r.min && f <= 1e9) {
			return &configError{r.name, "must be a number from " + strconv.FormatFloat(r.min, 'f', -1, 64) + " up, not " + strconv.Quote(v)}
		}
		*r.dst = f
	}
	if v := getenv("SPIN_ALERT_MIN_WAITING"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			return &configError{"SPIN_ALERT_MIN_WAITING", "must be a whole number from 0 up, not " + strconv.Quote(v)}
		}
		th.MinWaiting = n
	}
	c.Actors.Alerts.Thresholds = th
	if v := getenv("ALERT_WEBHOOK_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &configError{"ALERT_WEBHOOK_URL", "must be an http:// or https:// URL"}
		}
		c.Alerts.WebhookURL = v
	}
	return nil
}
