package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/cluster"
)

func TestLoadConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	t.Run("defaults", func(t *testing.T) {
		if _, err := loadConfig(env()); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
			t.Fatalf("no SPIN_ENV and no secret: %v, want production's missing-secret error", err)
		}
		c, err := loadConfig(env("SPIN_ENV", "development"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr != ":8080" || !c.Development || !c.JWTGenerated || len(c.JWTSecret) == 0 ||
			c.Actors.DateLength != 180*time.Second || c.Actors.VoteWindow != 30*time.Second ||
			c.Actors.ReconnectGrace != 15*time.Second || c.Actors.RematchCooldown != 24*time.Hour ||
			c.Cluster.Bind != "" /* cluster.DefaultBind applies */ || len(c.Cluster.Join) != 0 {
			t.Fatalf("defaults %+v", c)
		}
	})
	t.Run("failure detection", func(t *testing.T) {
		c, err := loadConfig(env("SPIN_ENV", "development"))
		if err != nil {
			t.Fatal(err)
		}
		if ml := c.Cluster.Memberlist; ml.ProbeInterval != 300*time.Millisecond || ml.ProbeTimeout != 200*time.Millisecond || ml.SuspicionMult != 3 {
			t.Fatalf("default failure detection %v %v %v, want the FastLAN preset", ml.ProbeInterval, ml.ProbeTimeout, ml.SuspicionMult)
		}
		c, err = loadConfig(env("SPIN_ENV", "development", "SPIN_CLUSTER_PROBE_INTERVAL_S", "1", "SPIN_CLUSTER_PROBE_TIMEOUT_S", "0.5",
			"SPIN_CLUSTER_SUSPICION_MULT", "5", "SPIN_CLUSTER_HEARTBEAT_EXPIRATION_S", "30"))
		if err != nil {
			t.Fatal(err)
		}
		if ml := c.Cluster.Memberlist; ml.ProbeInterval != time.Second || ml.ProbeTimeout != 500*time.Millisecond ||
			ml.SuspicionMult != 5 || c.Cluster.HeartbeatExpiration != 30*time.Second {
			t.Fatalf("failure detection %v %v %v %v", ml.ProbeInterval, ml.ProbeTimeout, ml.SuspicionMult, c.Cluster.HeartbeatExpiration)
		}
		if d := cluster.FastLAN(); d.ProbeInterval != 300*time.Millisecond {
			t.Fatalf("loading the environment changed the shared preset: %v", d.ProbeInterval)
		}
	})
	t.Run("values", func(t *testing.T) {
		c, err := loadConfig(env("SPIN_ENV", "production", "JWT_SECRET", "x", "SPIN_CLUSTER_KEY", devClusterKey, "SPIN_DATE_S", "0.5", "SPIN_REMATCH_COOLDOWN_S", "0",
			"SPIN_STATS_WINDOW_S", "600", "SPIN_ALLOWED_ORIGINS", "https://a.example, https://b.example", "SPIN_CLUSTER_JOIN", "127.0.0.1:7946,127.0.0.2:7946"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Development || string(c.JWTSecret) != "x" || c.Actors.DateLength != 500*time.Millisecond ||
			c.Actors.RematchCooldown != 0 || c.Actors.Estimator.Window != 10*time.Minute ||
			len(c.AllowedOrigins) != 2 || len(c.Cluster.Join) != 2 {
			t.Fatalf("values %+v", c)
		}
	})
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"bad env", []string{"SPIN_ENV", "staging"}, "SPIN_ENV"},
		{"production without secret", []string{"SPIN_ENV", "production"}, "JWT_SECRET"},
		{"bad date", []string{"SPIN_DATE_S", "soon"}, "SPIN_DATE_S"},
		{"zero stats window", []string{"SPIN_STATS_WINDOW_S", "0"}, "SPIN_STATS_WINDOW_S"},
		{"zero vote window", []string{"SPIN_VOTE_S", "0"}, "SPIN_VOTE_S"},
		{"negative grace", []string{"SPIN_RECONNECT_GRACE_S", "-1"}, "SPIN_RECONNECT_GRACE_S"},
		{"bad sample rate", []string{"SENTRY_TRACES_SAMPLE_RATE", "2"}, "SENTRY_TRACES_SAMPLE_RATE"},
		{"bad probe interval", []string{"SPIN_CLUSTER_PROBE_INTERVAL_S", "fast"}, "SPIN_CLUSTER_PROBE_INTERVAL_S"},
		{"probe timeout not below interval", []string{"SPIN_CLUSTER_PROBE_INTERVAL_S", "0.2", "SPIN_CLUSTER_PROBE_TIMEOUT_S", "0.2"}, "SPIN_CLUSTER_PROBE_TIMEOUT_S"},
		{"bad suspicion multiplier", []string{"SPIN_CLUSTER_SUSPICION_MULT", "0"}, "SPIN_CLUSTER_SUSPICION_MULT"},
		{"bad heartbeat expiration", []string{"SPIN_CLUSTER_HEARTBEAT_EXPIRATION_S", "-3"}, "SPIN_CLUSTER_HEARTBEAT_EXPIRATION_S"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(env(append([]string{"SPIN_ENV", "development"}, tc.env...)...))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line naming %s", err, tc.want)
			}
		})
	}
}
