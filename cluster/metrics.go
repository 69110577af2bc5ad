package cluster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the node's cluster instruments, to register once:
// spinmatch_cluster_members (the topology as this node sees it),
// spinmatch_cluster_members_lost_total (members that left without a
// graceful leave: declared dead) and
// spinmatch_cluster_false_suspicions_total, and what the actor remote
// sent to other nodes (spinmatch_remote_*, remotestats.go). They read the
// node's state at scrape time.
func (n *Node) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "spinmatch_cluster_members",
			Help: "Members of the cluster topology as this node sees it (itself included).",
		}, func() float64 { return float64(n.prov.memberCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "spinmatch_cluster_members_lost_total",
			Help: "Members that left the cluster without a graceful leave (declared dead), as this node saw it.",
		}, func() float64 { return float64(n.prov.events.lost.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "spinmatch_cluster_false_suspicions_total",
			Help: "Times another member suspected this live node (it refuted); see README, failure detection.",
		}, func() float64 { return float64(n.FalseSuspicions()) }),
		n.remoteStats,
	}
}

// memberCount returns the number of members of the last topology.
func (p *provider) memberCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.topology)
}
