package actors

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// TestSendNeverWaitsForLookup: a Send to a grain not looked up yet returns
// at once (the pool sends to each new match from its Receive), even when
// the lookup cannot finish: here the router is never attached, so every
// lookup waits out the delivery timeout. Every send is still accounted
// for: each one's done reports it undelivered.
func TestSendNeverWaitsForLookup(t *testing.T) {
	cfg := TestConfig()
	cfg.DeliveryTimeout = time.Second
	r := NewRouter(cfg, slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry()))
	var fired atomic.Bool
	done := make(chan bool, 4)
	for _, id := range []string{"m1", "m1", "m2", "m1"} {
		r.SendThen(KindMatch, id, &msg.StartMatch{}, func(ok bool) {
			fired.Store(true)
			done <- ok
		})
	}
	if fired.Load() {
		t.Fatal("a send was given up before the four Sends returned: a Send waited for its lookup")
	}
	for i := range 4 {
		select {
		case ok := <-done:
			if ok {
				t.Fatal("a send to a router never attached was delivered")
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of 4 sends never reported", 4-i)
		}
	}
	clustertest.Eventually(t, 10*time.Second, "no target pending", func() bool {
		r.pendMu.Lock()
		defer r.pendMu.Unlock()
		return len(r.pending) == 0
	})
}
