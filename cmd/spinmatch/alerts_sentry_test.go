package main

import (
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/alert"
)

// TestStoreErrorsAlertReachesSentry: store failures (a user's queue place
// cannot be written) trip the store_errors rule, which reaches Sentry (a
// local stand-in) as one message at level error, tagged with the rule.
// Not parallel: the Sentry client is process-wide.
func TestStoreErrorsAlertReachesSentry(t *testing.T) {
	rec := newSentryStandIn(t)
	faults := &faultStore{}
	cfg := testConfig(t)
	cfg.SentryDSN, cfg.SentryEnv, cfg.SentrySample = rec.dsn(), "test", 1
	cfg.wrapStore = func(st actors.Store) actors.Store { faults.Store = st; return faults }
	cfg.Actors.Alerts = actors.AlertConfig{Interval: 200 * time.Millisecond, Thresholds: alert.Thresholds{
		For: 500 * time.Millisecond, WaitP90: time.Hour, Imbalance: 1e6, MinWaiting: 1e6, StoreErrorsPerMin: 2,
	}}
	flush, err := setupSentry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		flush()
		sentry.CurrentHub().BindClient(nil)
	})
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	u := newUser(t, base, "Fay", "female", "storeerr", "male")
	faults.set(u.id, "")
	c, _ := u.dial(t)
	isAlert := func(m map[string]any) bool {
		msg := str(m, "message")
		if msg == "" {
			msg = str(m, "logentry", "message")
		}
		return strings.HasPrefix(msg, "alert firing: The store is failing")
	}
	// Failing spins, until the alert arrives (the rule counts the errors
	// the grain hears of after its first report from the node).
	var ev map[string]any
	waitFor(t, 15*time.Second, "the store_errors alert in Sentry", func() bool {
		c.send("spin", nil)
		c.expect("error")
		sentry.Flush(100 * time.Millisecond)
		if got := rec.find("event", isAlert); len(got) > 0 {
			ev = got[0]
		}
		return ev != nil
	})
	if lvl := str(ev, "level"); lvl != "error" {
		t.Errorf("level %q, want error (critical)", lvl)
	}
	if rule := str(ev, "tags", "alert.rule"); rule != "store_errors" {
		t.Errorf("tags %v", ev["tags"])
	}
	// Once: later evaluations while it holds announce nothing more.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		sentry.Flush(time.Second)
		if got := rec.find("event", isAlert); len(got) != 1 {
			t.Fatalf("%d store_errors messages, want 1", len(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if f := n.sys.AlertsFiring(t.Context()); len(f) != 1 || f[0].Rule != "store_errors" || f[0].Severity != "critical" {
		t.Fatalf("firing = %+v", f)
	}
}
