package actors

import (
	"context"
	"sync"
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
	// MemberID is the member's actor system id (extension).
	MemberID string `json:"member_id,omitempty"`
	// Unavailable marks a member that did not answer in time: its
	// sessions and connections are unknown (0) (extension).
	Unavailable bool `json:"unavailable,omitempty"`
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
	WhatIf          []WhatIf       `json:"what_if"` // for the scarce gender; [] when none is scarce
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

// snapshotTTL is how old a shared snapshot may be (PROTOCOL: stats at
// least once a second).
const snapshotTTL = time.Second

// Snapshot returns the cluster's snapshot, at most snapshotTTL old: one
// cache per node whatever the number of callers (REST, the admin stream,
// the test endpoints). The snapshot is shared: read it, never modify it.
// The error is always nil today (a pool or node that does not answer is
// named in the snapshot instead); callers keep checking it.
func (s *System) Snapshot(ctx context.Context) (*Snapshot, error) {
	return s.SnapshotWithin(ctx, snapshotTTL)
}

// SnapshotWithin is Snapshot with the cached one reused only when it is
// younger than maxAge (the admin stream asks for a fresh one each tick).
// Callers that come while one is computed wait for it and share it, each
// only as long as its own ctx allows (ctx.Err() then). The computation
// runs on a context of its own: a caller hanging up must not spoil the
// answer the others share.
func (s *System) SnapshotWithin(ctx context.Context, maxAge time.Duration) (*Snapshot, error) {
	s.snapMu.Lock()
	if s.snap != nil && s.d.now().Sub(s.snap.At) < maxAge {
		snap := s.snap
		s.snapMu.Unlock()
		return snap, nil
	}
	f := s.snapFlight
	if f == nil {
		f = &snapFlight{done: make(chan struct{})}
		s.snapFlight = f
		go func() {
			c, cancel := context.WithTimeout(context.Background(), s.d.Config.RequestTimeout+poolStatsTimeout)
			res := s.computeSnapshot(c)
			cancel()
			s.snapMu.Lock()
			s.snap, s.snapFlight = res, nil
			s.snapMu.Unlock()
			f.res = res
			close(f.done)
		}()
	}
	s.snapMu.Unlock()
	select {
	case <-f.done:
		return f.res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// snapFlight is one snapshot computation under way; res is set before
// done closes.
type snapFlight struct {
	done chan struct{}
	res  *Snapshot
}

// computeSnapshot asks every pool and every member at once (pools through
// the shared pool-stats cache, which it refreshes).
func (s *System) computeSnapshot(ctx context.Context) *Snapshot {
	at := s.d.now()
	var nodes []NodeStats
	var alerts []Alert
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		nodes = s.nodeStats(ctx)
	}()
	go func() {
		defer wg.Done()
		alerts = s.firingAlerts(ctx)
	}()
	s.statsMu.Lock()
	a := s.fetchPoolStats(ctx)
	s.stats, s.statsAt = a, s.d.now()
	s.statsMu.Unlock()
	wg.Wait()
	out := buildSnapshot(at, a)
	out.Nodes, out.Alerts = nodes, alerts
	return out
}

// firingAlerts returns the alerts firing now (never nil).
func (s *System) firingAlerts(ctx context.Context) []Alert {
	if a := s.AlertsFiring(ctx); a != nil {
		return a
	}
	return []Alert{}
}

// buildSnapshot turns the pools' answers into a snapshot (no nodes, no alerts).
func buildSnapshot(at time.Time, a PoolStatsAnswer) *Snapshot {
	out := &Snapshot{At: at.UTC(), Nodes: []NodeStats{}, Pools: make([]PoolSnapshot, 0, len(a.Stats)), Alerts: []Alert{}, Unavailable: a.Unavailable}
	for _, st := range a.Stats {
		p := PoolSnapshot{
			Pool: st.Pool, Waiting: make(map[string]int, len(st.Waiting)), AvgWaitS: st.AvgWaitS, P90WaitS: make(map[string]float64, len(st.P90WaitS)), EtaS: st.EtaS,
			MatchesPerMin: st.MatchesPerMin, MatchSuccessRate: st.MatchSuccessRate,
			Imbalance: Imbalance{Ratio: st.ImbalanceRatio, Scarce: st.Scarce},
			Abandoned: make(map[string]int, len(st.Abandoned)), Recommendations: st.Recommendations, WhatIf: []WhatIf{},
		}
		for g, n := range st.Waiting {
			p.Waiting[g] = int(n)
		}
		for g, n := range st.Abandoned {
			p.Abandoned[g] = int(n)
		}
		// The p90 counts the current waits of those still queued (the
		// wait_p90 rule's figure); every gender is a key.
		for g := range st.P90WaitS {
			p.P90WaitS[g] = st.AlertP90WaitS[g]
		}
		if p.Recommendations == nil {
			p.Recommendations = []string{}
		}
		for _, w := range st.WhatIf {
			wi := WhatIf{Gender: w.Gender, MorePerHour: w.MorePerHour, P50WaitS: make(map[string]NowThen, len(w.NowS))}
			for g, now := range w.NowS {
				wi.P50WaitS[g] = NowThen{Now: now, Then: w.ThenS[g]}
			}
			p.WhatIf = append(p.WhatIf, wi)
		}
		out.Pools = append(out.Pools, p)
	}
	return out
}
