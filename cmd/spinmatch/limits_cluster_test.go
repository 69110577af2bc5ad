//go:build !race

// Excluded under -race like proccluster_test.go, whose fixture it uses.

package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
)

// TestClusterSharesAddressLimit: calls of one REST class from one address,
// spread over three nodes (real processes), are cut at the configured
// rate, not three times it: the address has one Limiter grain in the
// cluster. Then the node that holds it is killed, and the checks fail
// open on the survivors (answered, counted) until the grain is back.
func TestClusterSharesAddressLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process PostgreSQL test: not in -short")
	}
	const rate, burst = 5, 10
	c := startProcCluster(t, fmt.Sprintf("SPIN_LIMIT_REST_PUBLIC_ADDRESS=%d:%d", rate, burst),
		fmt.Sprintf("SPIN_LIMIT_SPIN_ADDRESS=%d:%d", rate, burst))
	hc, _ := fromAddr("127.0.0.5")
	get := func(i int) int {
		t.Helper()
		res, err := hc.Get(c.nodes[i].base() + "/api/queue/status")
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests && !strings.HasPrefix(res.Header.Get("RateLimit"), `"rest_public";r=0;`) {
			t.Fatalf("429 without RateLimit: %v", res.Header)
		}
		return res.StatusCode
	}

	// 40 calls a second for 3 s, round robin over the nodes.
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	okBy := make([]int, 3)
	ok, limited := 0, 0
	for k := 0; time.Since(start) < 3*time.Second; k++ {
		<-tick.C
		switch code := get(k % 3); code {
		case http.StatusOK:
			ok++
			okBy[k%3]++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("call %d: status %d", k, code)
		}
	}
	elapsed := time.Since(start).Seconds()
	most := burst + rate*elapsed + 2
	t.Logf("%d allowed (by node %v), %d limited in %.1fs; one limit allows %.0f, three would allow %.0f",
		ok, okBy, limited, elapsed, most-2, 3*(most-2))
	if float64(ok) > most || float64(ok) < burst+rate*elapsed*0.5 {
		t.Fatalf("%d calls allowed in %.1fs, want about %.0f (the configured rate across the cluster)", ok, elapsed, most-2)
	}
	for i, n := range okBy {
		if n == 0 {
			t.Fatalf("node %d allowed none: the calls were not spread", i)
		}
	}

	// Spins: 60 users (made from the exempt 127.0.0.1) spin once each from
	// 127.0.0.5, round robin over the nodes, 40 a second: the address's
	// spin budget is cut at the configured rate for the whole cluster.
	users := make([]*user, 60)
	for i := range users {
		users[i] = newUser(t, c.nodes[i%3].base(), fmt.Sprintf("Sam%d", i), "male", "limits", "female")
	}
	spin := func(i int) int {
		t.Helper()
		req, _ := http.NewRequest("POST", c.nodes[i%3].base()+"/api/spin", nil)
		req.Header.Set("Authorization", "Bearer "+users[i].token)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("spin %d: %v", i, err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests && !strings.HasPrefix(res.Header.Get("RateLimit"), `"spin";r=0;`) {
			t.Fatalf("429 without RateLimit: %v", res.Header)
		}
		return res.StatusCode
	}
	spun, spinsBy, refused := 0, make([]int, 3), 0
	start = time.Now()
	for i := range users {
		<-tick.C
		switch code := spin(i); code {
		case http.StatusAccepted, http.StatusOK:
			spun++
			spinsBy[i%3]++
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("spin %d: status %d", i, code)
		}
	}
	elapsed = time.Since(start).Seconds()
	most = burst + rate*elapsed + 2
	t.Logf("spins: %d allowed (by node %v), %d limited in %.1fs; one limit allows %.0f, three would allow %.0f",
		spun, spinsBy, refused, elapsed, most-2, 3*(most-2))
	if float64(spun) > most || float64(spun) < burst {
		t.Fatalf("%d spins allowed in %.1fs, want about %.0f (the configured rate across the cluster)", spun, elapsed, most-2)
	}

	// Kill the node that owns the address's Limiter grain: the survivors
	// fail open (answer, never 5xx) and count it.
	owner := c.owner(actors.KindLimiter, "ip:127.0.0.5", 0, 1, 2)
	var survivors []int
	for i := range c.nodes {
		if i != owner {
			survivors = append(survivors, i)
		}
	}
	c.kill(owner)
	deadline := time.Now().Add(1500 * time.Millisecond)
	for k := 0; time.Now().Before(deadline); k++ {
		i := survivors[k%2]
		if code := get(i); code != http.StatusOK && code != http.StatusTooManyRequests {
			t.Fatalf("survivor %d answered %d while the limiter's node was down", i, code)
		}
	}
	opened := 0.0
	for _, i := range survivors {
		opened += metricOr(t, c.nodes[i].base(), 0, `spinmatch_rate_limiter_unavailable_total{action="rest_public"}`)
	}
	if opened == 0 {
		t.Fatal("no check failed open while the limiter's node was down")
	}
}
