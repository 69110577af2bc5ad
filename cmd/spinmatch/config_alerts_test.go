package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/alert"
)

func TestLoadAlerts(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(c Config) bool
		err  string
	}{
		{name: "defaults", env: nil, want: func(c Config) bool {
			return c.Actors.Alerts.Thresholds == alert.DefaultThresholds() && c.Alerts.WebhookURL == ""
		}},
		{name: "all set", env: map[string]string{
			"SPIN_ALERT_FOR_S": "0.5", "SPIN_ALERT_WAIT_P90_S": "120", "SPIN_ALERT_IMBALANCE": "1.5",
			"SPIN_ALERT_MIN_WAITING": "2", "SPIN_ALERT_STORE_ERRORS_PER_MIN": "0", "ALERT_WEBHOOK_URL": "https://hooks.example/alerts",
		}, want: func(c Config) bool {
			th := c.Actors.Alerts.Thresholds
			return th.For == 500*time.Millisecond && th.WaitP90 == 2*time.Minute && th.Imbalance == 1.5 && th.MinWaiting == 2 &&
				th.StoreErrorsPerMin == 0 && th.NodeLostHold == alert.DefaultNodeLostHold && c.Alerts.WebhookURL == "https://hooks.example/alerts"
		}},
		{name: "negative for", env: map[string]string{"SPIN_ALERT_FOR_S": "-1"}, err: "SPIN_ALERT_FOR_S"},
		{name: "not a number", env: map[string]string{"SPIN_ALERT_WAIT_P90_S": "ten"}, err: "SPIN_ALERT_WAIT_P90_S"},
		{name: "ratio below 1", env: map[string]string{"SPIN_ALERT_IMBALANCE": "0.5"}, err: "SPIN_ALERT_IMBALANCE"},
		{name: "fractional count", env: map[string]string{"SPIN_ALERT_MIN_WAITING": "2.5"}, err: "SPIN_ALERT_MIN_WAITING"},
		{name: "NaN rate", env: map[string]string{"SPIN_ALERT_STORE_ERRORS_PER_MIN": "NaN"}, err: "SPIN_ALERT_STORE_ERRORS_PER_MIN"},
		{name: "webhook not http", env: map[string]string{"ALERT_WEBHOOK_URL": "ftp://x/y"}, err: "ALERT_WEBHOOK_URL must be an http:// or https:// URL"},
		{name: "webhook without host", env: map[string]string{"ALERT_WEBHOOK_URL": "http:///path"}, err: "ALERT_WEBHOOK_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := loadAlerts(func(k string) string { return tc.env[k] }, &c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !tc.want(c) {
				t.Fatalf("config %+v %+v err %v", c.Actors.Alerts, c.Alerts, err)
			}
		})
	}
}
