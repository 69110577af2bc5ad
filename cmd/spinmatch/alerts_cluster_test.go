//go:build !race

package main

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
)

// TestNodeLostOnceAcrossTheCluster kills -9 the node hosting the cluster's
// Alerts grain while an imbalance alert is firing: the survivors announce
// exactly one node_lost (each of them saw the loss; the grain, now on a
// survivor, dedups by member id), and the imbalance alert, adopted by the
// fresh activation from the survivors' reports, is not announced again.
func TestNodeLostOnceAcrossTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test: not in -short")
	}
	hook := &alertHook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	// The imbalance must hold 3 s: longer than the pool's queue takes to
	// answer again if anything of it moved.
	c := startProcCluster(t, "SPIN_ALERT_FOR_S=3", "SPIN_ALERT_IMBALANCE=1", "SPIN_ALERT_MIN_WAITING=2", "ALERT_WEBHOOK_URL="+srv.URL)
	victim := c.owner(actors.KindAlerts, actors.AlertsID, 0, 1, 2)
	var survivors []int
	for i := range 3 {
		if i != victim {
			survivors = append(survivors, i)
		}
	}
	keep := survivors[0]
	// The pool, the men's sessions and their sockets all on a survivor.
	p := c.name("lost", actors.KindMatchPool, keep, survivors, keep)
	c.queueMen(t, p, fmt.Sprintf("lm%d-", time.Now().UnixNano()%1000), 3, func(int) int { return keep }, keep)
	waitFor(t, 20*time.Second, "imbalance firing", func() bool { return len(hook.about("imbalance", p)) == 1 })

	c.kill(victim)
	lost := func() []actors.Alert { return hook.about("node_lost", "") }
	waitFor(t, 60*time.Second, "node_lost at the webhook", func() bool { return len(lost()) >= 1 })
	// Both survivors report the loss each second: over the next 5 s (the
	// imbalance's For plus a report period) nothing is announced again.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(lost()); n != 1 {
			t.Fatalf("node_lost announced %d times: %+v", n, lost())
		}
		if n := len(hook.about("imbalance", p)); n != 1 {
			t.Fatalf("imbalance announced %d times after the move: %+v", n, hook.about("imbalance", p))
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := lost()[0]
	if a.State != "firing" || a.Severity != "critical" || a.Node != c.nodes[victim].actorAddr() || a.Member == "" {
		t.Fatalf("node_lost = %+v, want firing, critical, node %s", a, c.nodes[victim].actorAddr())
	}
	// The firing set, from either survivor: the imbalance and the loss.
	for _, i := range survivors {
		_, body := rest(t, c.nodes[i].base(), nil, "GET", "/api/admin/alerts", nil)
		firing, _ := body["firing"].([]any)
		rules := map[string]int{}
		for _, f := range firing {
			rules[frame(f.(map[string]any)).str("rule")]++
		}
		if rules["node_lost"] != 1 || rules["imbalance"] != 1 {
			t.Fatalf("firing on node %d: %v", i, body["firing"])
		}
	}
}
