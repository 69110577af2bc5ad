package actors

import (
	"context"
	"time"
)

// The operators' view (PROTOCOL.md, Admin). These are the JSON shapes of
// GET /api/admin/queue-stats, the /admin/ws stats frames, the test
// endpoints' queue-status, and the alerts; the fields PROTOCOL.md names are
// there with its names, extensions are marked.

// Snapshot is the whole cluster, whichever node computed it.
type Snapshot struct {
	At     time.Time      `json:"at"`
	Nodes  []NodeStats    `json:"nodes"`
	Pools  []PoolSnapshot `json:"pools"`
	Alerts []Alert        `json:"alerts"` // firing now
	// Unavailable names the pools that did not answer in time (extension).
	Unavailable []string `json:"unavailable,omitempty"`
}

// NodeStats is one cluster member's load.
type NodeStats struct {
	ID          string `json:"id"`
	Address     string `json:"address"`
	Sessions    int    `json:"sessions"`
	Connections int    `json:"connections"`
}

// PoolSnapshot is one pool's statistics over the sliding window
// (SPIN_STATS_WINDOW_S).
type PoolSnapshot struct {
	Pool             string             `json:"pool"`
	Waiting          map[string]int     `json:"waiting"`
	AvgWaitS         map[string]float64 `json:"avg_wait_s"`
	P90WaitS         map[string]float64 `json:"p90_wait_s"`
	EtaS             map[string]float64 `json:"eta_s"`
	MatchesPerMin    float64            `json:"matches_per_min"`
	MatchSuccessRate float64            `json:"match_success_rate"`
	Imbalance        Imbalance          `json:"imbalance"`
	// Abandoned counts, by gender, the waiters who left unmatched (cancel,
	// or the reconnect grace ran out) in the window (extension).
	Abandoned       map[string]int `json:"abandoned"`
	Recommendations []string       `json:"recommendations"`
	WhatIf          []WhatIf       `json:"what_if"` // filled in by the ETA issue; [] until then
}

// Imbalance is how many of the plentiful side wait per person of the scarce side.
type Imbalance struct {
	Ratio  float64 `json:"ratio"`
	Scarce string  `json:"scarce"`
}

// WhatIf is what the median waits would become if MorePerHour more
// people of Gender joined each hour.
type WhatIf struct {
	Gender      string             `json:"gender"`
	MorePerHour float64            `json:"more_per_hour"`
	P50WaitS    map[string]NowThen `json:"p50_wait_s"`
}

// NowThen is a median wait now and after a what-if.
type NowThen struct {
	Now  float64 `json:"now"`
	Then float64 `json:"then"`
}

// Alert is one alert state change (PROTOCOL.md, Alerts).
type Alert struct {
	Type     string    `json:"type"` // always "alert"
	Rule     string    `json:"rule"`
	State    string    `json:"state"`    // firing, resolved
	Severity string    `json:"severity"` // warning, critical
	Message  string    `json:"message"`
	Pool     string    `json:"pool,omitempty"`
	At       time.Time `json:"at"`
	// Seq orders the cluster's alert changes (extension): the /admin/ws
	// stream announces each change once by asking for those after the last
	// Seq it sent.
	Seq int64 `json:"seq"`

	// Gender is wait_p90's gender; Node and Member are node_lost's lost
	// member's address and id (extensions).
	Gender string `json:"gender,omitempty"`
	Node   string `json:"node,omitempty"`
	Member string `json:"member,omitempty"`
}

// Snapshot computes the cluster's snapshot: the pools (as
// PoolStatsAnswers), every member's load, and the alerts firing.
func (s *System) Snapshot(ctx context.Context) (*Snapshot, error) {
	a := s.PoolStatsAnswers(ctx)
	out := &Snapshot{At: s.d.now().UTC(), Nodes: []NodeStats{}, Pools: make([]PoolSnapshot, 0, len(a.Stats)), Alerts: []Alert{}, Unavailable: a.Unavailable}
	for _, st := range a.Stats {
		p := PoolSnapshot{
			Pool: st.Pool, Waiting: map[string]int{}, AvgWaitS: st.AvgWaitS, P90WaitS: st.P90WaitS, EtaS: st.EtaS,
			MatchesPerMin: st.MatchesPerMin, MatchSuccessRate: st.MatchSuccessRate,
			Imbalance: Imbalance{Ratio: st.ImbalanceRatio, Scarce: st.Scarce},
			Abandoned: map[string]int{}, Recommendations: st.Recommendations, WhatIf: []WhatIf{},
		}
		for g, n := range st.Waiting {
			p.Waiting[g] = int(n)
		}
		if p.Recommendations == nil {
			p.Recommendations = []string{}
		}
		out.Pools = append(out.Pools, p)
	}
	return out, nil
}
