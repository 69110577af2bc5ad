package adminws

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/spinmatch/spinmatch/actors"
)

// Point is one sample of the dashboard's trends: the cluster's matches
// per minute, people waiting and match success rate (the pools' rates
// weighted by their match rates; null while no pool matched in the
// window), as in the history frame (extension).
type Point struct {
	At            time.Time `json:"at"`
	MatchesPerMin float64   `json:"matches_per_min"`
	Waiting       int       `json:"waiting"`
	SuccessRate   *float64  `json:"success_rate"`
}

// PointOf sums a snapshot into a trend point.
func PointOf(s *actors.Snapshot) Point {
	p := Point{At: s.At}
	var rated, weighted float64
	for _, ps := range s.Pools {
		for _, n := range ps.Waiting {
			p.Waiting += n
		}
		p.MatchesPerMin += ps.MatchesPerMin
		if ps.MatchesPerMin > 0 {
			rated += ps.MatchesPerMin
			weighted += ps.MatchSuccessRate * ps.MatchesPerMin
		}
	}
	if rated > 0 {
		r := weighted / rated
		p.SuccessRate = &r
	}
	return p
}

// history is the node's last hour of trend points, a bounded ring filled
// by the hub's sampler; a new admin socket gets it as its first frame.
type history struct {
	max int // static: Config.HistoryLen

	mu     sync.Mutex
	points []Point // guarded by mu: oldest first, at most max
	frame  []byte  // guarded by mu: the encoded history frame; nil when points changed since
}

func (hs *history) add(p Point) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if n := len(hs.points); n > 0 && !p.At.After(hs.points[n-1].At) {
		return // the same snapshot again
	}
	if len(hs.points) >= hs.max {
		copy(hs.points, hs.points[1:])
		hs.points = hs.points[:len(hs.points)-1]
	}
	hs.points = append(hs.points, p)
	hs.frame = nil
}

// encoded returns {"type": "history", "points": [...]}, nil with no point.
func (hs *history) encoded() []byte {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if len(hs.points) == 0 {
		return nil
	}
	if hs.frame == nil {
		b, err := json.Marshal(struct {
			Type   string  `json:"type"`
			Points []Point `json:"points"`
		}{"history", hs.points})
		if err != nil {
			return nil
		}
		hs.frame = b
	}
	return hs.frame
}

// sample adds a point every HistoryStep until stop closes, whether anybody
// watches or not. While the stream's ticker runs the snapshot it asks for
// is the ticker's (at most Interval old): free; otherwise it computes one
// (every pool's statistics, every member's load, the firing alerts), once
// per HistoryStep per node.
func (h *Hub) sample(stop <-chan struct{}) {
	t := time.NewTicker(h.cfg.HistoryStep)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.HistoryStep)
		snap, err := h.src.SnapshotWithin(ctx, h.cfg.Interval)
		cancel()
		if err != nil {
			h.log.Warn("admin stream: no snapshot for the trends", "err", err)
			continue
		}
		h.hist.add(PointOf(snap))
	}
}
