package load

import (
	"sync"
	"time"
)

// Counts are the events of one interval (or of a whole run, summed).
type Counts struct {
	Spins    uint64            `json:"spins"`    // spin frames sent
	Queued   uint64            `json:"queued"`   // queued replies
	Found    uint64            `json:"found"`    // match_found frames (two per match when both users are ours)
	Votes    uint64            `json:"votes"`    // vote frames sent
	Results  uint64            `json:"results"`  // match_result frames
	Mutual   uint64            `json:"mutual"`   // match_result frames with result mutual
	Missed   uint64            `json:"missed"`   // due spins with no idle user to send them
	Timeouts uint64            `json:"timeouts"` // queued longer than the match timeout, cancelled
	Drops    uint64            `json:"drops"`    // sockets closed under us
	Errors   map[string]uint64 `json:"errors,omitempty"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Spins += o.Spins
	c.Queued += o.Queued
	c.Found += o.Found
	c.Votes += o.Votes
	c.Results += o.Results
	c.Mutual += o.Mutual
	c.Missed += o.Missed
	c.Timeouts += o.Timeouts
	c.Drops += o.Drops
	for k, v := range o.Errors {
		if c.Errors == nil {
			c.Errors = map[string]uint64{}
		}
		c.Errors[k] += v
	}
}

// ErrorCount is every error frame and dropped socket.
func (c *Counts) ErrorCount() uint64 {
	n := c.Drops
	for _, v := range c.Errors {
		n += v
	}
	return n
}

// maxErrorCodes bounds the error codes kept apart; more are counted as
// "other", so a misbehaving server cannot grow the tool's memory.
const maxErrorCodes = 32

// Stats is one worker's running interval: its users' goroutines record
// into it, the report loop takes it. Guarded by mu.
type Stats struct {
	mu     sync.Mutex
	counts Counts
	queued Histogram // spin sent → queued received
	found  Histogram // spin sent → match_found received
	pair   Histogram // the pair's later spin → match_found (both users here)
	// halves are the matches of which one user's match_found was seen
	// and the other's, if it is ours, not yet: at most one per user.
	halves map[string]half
}

// half is one user's match_found, waiting for its partner's.
type half struct {
	lat time.Duration
	at  time.Time
}

func (s *Stats) add(f func(c *Counts)) {
	s.mu.Lock()
	f(&s.counts)
	s.mu.Unlock()
}

// recordResult counts one match_result.
func (s *Stats) recordResult(mutual bool) {
	s.mu.Lock()
	s.counts.Results++
	if mutual {
		s.counts.Mutual++
	}
	s.mu.Unlock()
}

func (s *Stats) error(code string) {
	s.mu.Lock()
	if s.counts.Errors == nil {
		s.counts.Errors = map[string]uint64{}
	}
	if _, ok := s.counts.Errors[code]; !ok && len(s.counts.Errors) >= maxErrorCodes {
		code = "other"
	}
	s.counts.Errors[code]++
	s.mu.Unlock()
}

func (s *Stats) recordQueued(d time.Duration) {
	s.mu.Lock()
	s.counts.Queued++
	s.queued.Record(d)
	s.mu.Unlock()
}

// recordFound records one match_found; when the partner's was recorded
// here too, the smaller of the two latencies (the later spinner's) is the
// pairing latency, free of the wait for a partner.
func (s *Stats) recordFound(matchID string, d time.Duration, now time.Time) {
	s.mu.Lock()
	s.counts.Found++
	s.found.Record(d)
	if h, ok := s.halves[matchID]; ok {
		delete(s.halves, matchID)
		s.pair.Record(min(h.lat, d))
	} else {
		if s.halves == nil {
			s.halves = map[string]half{}
		}
		s.halves[matchID] = half{d, now}
	}
	s.mu.Unlock()
}

// take returns the interval so far and starts a new one.
func (s *Stats) take() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{Counts: s.counts, QueuedH: s.queued.Sparse(), FoundH: s.found.Sparse(), PairH: s.pair.Sparse()}
	s.counts = Counts{}
	s.queued.Reset()
	s.found.Reset()
	s.pair.Reset()
	// A partner in another worker never shows up here.
	for id, h := range s.halves {
		if time.Since(h.at) > 5*time.Second {
			delete(s.halves, id)
		}
	}
	return r
}

// Report is one message from a worker to the coordinator, one JSON line
// on the worker's standard output.
type Report struct {
	// Kind is what the line is: "connecting", "ready", "stats", "fatal" or "done".
	Kind string `json:"kind"`
	// Connected is how many of the worker's sockets are open.
	Connected int `json:"connected"`
	// Warm marks stats of the warm-up, left out of the summary.
	Warm bool `json:"warm,omitempty"`
	// Seconds is how long the stats cover (the worker's interval).
	Seconds float64 `json:"seconds,omitempty"`
	// Message is the fatal error, one line.
	Message string `json:"message,omitempty"`
	Counts
	QueuedH Sparse `json:"queued_h"`
	FoundH  Sparse `json:"found_h"`
	PairH   Sparse `json:"pair_h"`
}
