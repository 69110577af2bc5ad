package actors

import (
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMatchIDsOwnedByThePoolsNode: on three nodes, the match ids a pool
// draws are mostly owned by its own node, so the Match grain runs beside
// the pool. A random id would be a third of the time (33 of 100); eight
// tries give one of ours with probability 1-(2/3)^8, about 96%.
func TestMatchIDsOwnedByThePoolsNode(t *testing.T) {
	r := NewRouter(TestConfig(), slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry()))
	kinds := []string{KindMatch, KindMatchPool, KindUserSession}
	r.setMembers([]*cluster.Member{
		{Id: "one", Host: "127.0.0.1", Port: 7001, Kinds: kinds},
		{Id: "two", Host: "127.0.0.2", Port: 7001, Kinds: kinds},
		{Id: "three", Host: "127.0.0.3", Port: 7001, Kinds: kinds},
	}, true)
	r.self = "127.0.0.2:7001"
	close(r.attached)
	p := &matchPool{d: &Deps{Router: r}}
	ours, seen := 0, map[string]bool{}
	for range 100 {
		id := p.newID()
		if seen[id] {
			t.Fatalf("match id %s drawn twice", id)
		}
		seen[id] = true
		if r.Owner(KindMatch, id) == r.self {
			ours++
		}
	}
	if ours < 85 {
		t.Fatalf("%d of 100 match ids are owned by the pool's node, want at least 85", ours)
	}
}
