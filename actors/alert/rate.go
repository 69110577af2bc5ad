package alert

import "time"

// ErrorRate turns the nodes' cumulative store-error counts into the
// cluster's errors in the last Window: per node, the growth of its count
// since the newest report at least Window old (or its first report), summed
// over the nodes. A node's count that goes down (a restart) counts from its
// new value. Nodes that stop reporting for 2×Window are forgotten. The zero
// value is not usable; call NewErrorRate.
type ErrorRate struct {
	window time.Duration
	nodes  map[string][]countSample // by node, oldest first, at most maxSamples
}

type countSample struct {
	at    time.Time
	total int64
}

// maxNodes bounds the nodes an ErrorRate tracks; maxSamples its reports per node.
const (
	maxNodes   = 1024
	maxSamples = 256
)

// NewErrorRate returns an ErrorRate over window (one minute for the rule).
func NewErrorRate(window time.Duration) *ErrorRate {
	return &ErrorRate{window: window, nodes: map[string][]countSample{}}
}

// Observe records node's cumulative count at now.
func (r *ErrorRate) Observe(node string, total int64, now time.Time) {
	s := r.nodes[node]
	if s == nil && len(r.nodes) >= maxNodes {
		r.prune(now)
		if len(r.nodes) >= maxNodes {
			return
		}
	}
	if n := len(s); n > 0 && total < s[n-1].total {
		s = s[:0] // restarted counter
	}
	s = append(s, countSample{now, total})
	// Keep one sample at least window old as the baseline.
	for len(s) > 1 && (len(s) > maxSamples || now.Sub(s[1].at) >= r.window) {
		s = s[1:]
	}
	r.nodes[node] = s
}

// PerWindow returns the errors counted in the last window over all nodes
// (errors per minute with a one-minute window).
func (r *ErrorRate) PerWindow(now time.Time) float64 {
	r.prune(now)
	var sum int64
	for _, s := range r.nodes {
		sum += s[len(s)-1].total - s[0].total
	}
	return float64(sum)
}

func (r *ErrorRate) prune(now time.Time) {
	for n, s := range r.nodes {
		if now.Sub(s[len(s)-1].at) > 2*r.window {
			delete(r.nodes, n)
		}
	}
}
