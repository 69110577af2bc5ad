//go:build !race

// Excluded under -race like cluster_test.go: several nodes in one process
// race inside the pinned protoactor-go.

package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// TestReportsOncePerClusterAndMove runs two nodes on one database: forced
// runs through both nodes at once leave one row for the hour; then the
// node that holds the Reports grain stops, and the grain's new activation
// on the survivor writes a finished hour that was missing.
func TestReportsOncePerClusterAndMove(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL test: not in -short")
	}
	dbURL := pgtest.NewDatabase(t)
	waitFor(t, 3*time.Minute, "not the end of an hour", func() bool { return time.Now().UTC().Minute() < 58 })
	hour := time.Now().UTC().Truncate(time.Hour)
	nodeConfig := func(host string, join ...string) Config {
		c := testConfig(t)
		c.DatabaseURL = dbURL
		c.Addr = host + ":0"
		c.Cluster.Bind, c.Cluster.RemoteAddr, c.Cluster.Join = host+":0", host+":0", join
		return c
	}
	n1 := startNode(t, nodeConfig("127.0.0.1"))
	n2 := startNode(t, nodeConfig("127.0.0.2", n1.member.MemberlistAddr()))
	waitFor(t, 15*time.Second, "both nodes see two members", func() bool {
		return len(n1.member.Members()) == 2 && len(n2.member.Members()) == 2
	})
	// The first activation writes the finished hours of the last 48.
	waitFor(t, 20*time.Second, "the finished hours written", func() bool {
		return count(t, dbURL, `select count(*) from reports where period = 'hour' and final`) >= 47
	})

	// Forced runs through both nodes at once: one row for the hour.
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		base := "http://" + []*Node{n1, n2}[i%2].Addr()
		wg.Go(func() { codes[i], _ = adminCall(t, base, "", "POST", "/api/admin/reports/run?period=hour") })
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("run %d: %d", i, c)
		}
	}
	if got := count(t, dbURL, `select count(*) from reports where period = 'hour' and start_at = $1`, hour); got != 1 {
		t.Fatalf("%d rows for the hour after racing runs on two nodes, want 1", got)
	}

	// A finished hour goes missing; the running activation does not look
	// again (it knows it wrote it), a new one does.
	missing := hour.Add(-3 * time.Hour)
	if got := count(t, dbURL, `with d as (delete from reports where period = 'hour' and start_at = $1 returning 1) select count(*) from d`, missing); got != 1 {
		t.Fatalf("deleted %d rows of %s, want 1", got, missing)
	}
	owner, survivor := n1, n2
	if ownerAddr(t, n1, actors.ReportsID, actors.KindReports) == n2.member.Address() {
		owner, survivor = n2, n1
	}
	if got := count(t, dbURL, `select count(*) from reports where period = 'hour' and start_at = $1`, missing); got != 0 {
		t.Fatalf("the hour came back before the grain moved")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := owner.Shutdown(ctx); err != nil {
		t.Logf("shutdown: %v", err)
	}
	waitFor(t, 20*time.Second, "the missing hour written by the moved grain", func() bool {
		return count(t, dbURL, `select count(*) from reports where period = 'hour' and start_at = $1 and final`, missing) == 1
	})
	if got := ownerAddr(t, survivor, actors.ReportsID, actors.KindReports); got != survivor.member.Address() {
		t.Fatalf("the grain's owner is %s, want the survivor %s", got, survivor.member.Address())
	}
	if code, rep := adminCall(t, "http://"+survivor.Addr(), "", "POST", "/api/admin/reports/run?period=day"); code != 200 || rep.str("period") != "day" {
		t.Fatalf("run on the survivor: %d %v", code, rep)
	}
}
