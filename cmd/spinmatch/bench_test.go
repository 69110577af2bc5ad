package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// benchNode starts a node for benchmarks: no rematch cooldown (the same
// pairs meet again and again) and no rate limit; dbURL "" means the
// in-memory store.
func benchNode(b *testing.B, dbURL ...string) string {
	b.Helper()
	cfg := testConfig(b)
	if len(dbURL) > 0 {
		cfg.DatabaseURL = dbURL[0]
	}
	cfg.Actors.RematchCooldown = 0
	cfg.Actors.Limits.Budgets = limit.Off()
	cfg.Actors.DateLength, cfg.Actors.VoteWindow = time.Minute, time.Minute
	n := startNode(b, cfg)
	return "http://" + n.Addr()
}

// round runs one full date over real sockets: a spins, b spins, both get
// match_found, both vote no, both get match_result. It returns the time
// from b's spin to both match_found frames.
func round(b *testing.B, ca, cb *client) time.Duration {
	ca.spin()
	start := time.Now()
	cb.spin()
	mid := ca.expect("match_found").str("match_id")
	cb.expect("match_found")
	d := time.Since(start)
	ca.send("vote", map[string]any{"match_id": mid, "choice": "no"})
	cb.send("vote", map[string]any{"match_id": mid, "choice": "no"})
	ca.expect("vote_recorded")
	cb.expect("vote_recorded")
	ca.expect("match_result")
	cb.expect("match_result")
	return d
}

// benchDates runs b.N whole dates between one pair on the node at base,
// reporting the spin-to-match latency percentiles.
func benchDates(b *testing.B, base, pool string) {
	ca, _ := newUser(b, base, "A", "female", pool, "male").dial(b)
	cb, _ := newUser(b, base, "B", "male", pool, "female").dial(b)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lat = append(lat, round(b, ca, cb))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkDateRoundTrip measures one whole date (spin, spin, match_found
// to both, two votes, match_result to both: 10 frames over real WebSockets)
// through the grains, with the in-memory store.
func BenchmarkDateRoundTrip(b *testing.B) {
	benchDates(b, benchNode(b), fmt.Sprintf("bench%d", userSeq.Add(1)))
}

// BenchmarkDateRoundTripPostgres is BenchmarkDateRoundTrip with the
// PostgreSQL store: the match, both votes (write-through, before
// vote_recorded) and the result are committed on the way.
func BenchmarkDateRoundTripPostgres(b *testing.B) {
	benchDates(b, benchNode(b, pgtest.NewDatabase(b)), fmt.Sprintf("benchpg%d", userSeq.Add(1)))
}

// BenchmarkDateRoundTripParallel runs dates on many pairs at once (each
// pair in its own pool), measuring throughput of the whole node.
func BenchmarkDateRoundTripParallel(b *testing.B) {
	base := benchNode(b)
	var mu sync.Mutex
	var lat []time.Duration
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := fmt.Sprintf("benchp%d", userSeq.Add(1))
		ca, _ := newUser(b, base, "A", "female", p, "male").dial(b)
		cb, _ := newUser(b, base, "B", "male", p, "female").dial(b)
		var mine []time.Duration
		for pb.Next() {
			mine = append(mine, round(b, ca, cb))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "match-p50-µs")
	b.ReportMetric(q(0.99), "match-p99-µs")
}

// BenchmarkIdleSocketMemory opens b.N idle user sockets (one user per 50
// sockets, as tabs) and reports the heap and stack they hold. Client and
// server share the process, so the figure covers both ends of each socket:
// the server's share is below it.
func BenchmarkIdleSocketMemory(b *testing.B) {
	base := benchNode(b)
	p := fmt.Sprintf("mem%d", userSeq.Add(1))
	var users []*user
	mem := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	for i := 0; i <= b.N/50; i++ {
		users = append(users, newUser(b, base, "M", "male", p, "female"))
	}
	before := mem()
	b.ResetTimer()
	clients := make([]*client, 0, b.N)
	for i := 0; i < b.N; i++ {
		c, _ := users[i/50].dial(b)
		clients = append(clients, c)
	}
	b.StopTimer()
	after := mem()
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/socket")
	runtime.KeepAlive(clients)
}
