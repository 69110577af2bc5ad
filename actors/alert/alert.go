// Package alert is the pure logic of the alert rules (PROTOCOL.md, Admin >
// Alerts): which conditions hold for the cluster's numbers (Conditions), and
// when a condition that holds becomes a firing alert and when it resolves
// (Evaluator), with the clock passed in. It does no I/O and keeps no
// goroutines; the Alerts grain (actors/alerts.go) owns one Evaluator and
// calls it from its Receive only, so nothing here is safe for concurrent use.
package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rule names an alert rule.
type Rule string

// The rules of PROTOCOL.md, Alerts.
const (
	WaitP90     Rule = "wait_p90"
	Imbalance   Rule = "imbalance"
	StoreErrors Rule = "store_errors"
	NodeLost    Rule = "node_lost"
)

// Rules lists every rule (the fixed label set of spinmatch_alerts_firing).
var Rules = []Rule{WaitP90, Imbalance, StoreErrors, NodeLost}

// Severity is how urgent an alert is.
type Severity string

// Severities.
const (
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// State is an alert change's direction.
type State string

// States.
const (
	Firing   State = "firing"
	Resolved State = "resolved"
)

// Thresholds configure the rules. Start from DefaultThresholds.
type Thresholds struct {
	// For is how long a condition must hold before it fires, and not hold
	// before it resolves (SPIN_ALERT_FOR_S). Zero means at once.
	For time.Duration
	// WaitP90 is the wait_p90 threshold (SPIN_ALERT_WAIT_P90_S).
	WaitP90 time.Duration
	// Imbalance is the imbalance ratio threshold (SPIN_ALERT_IMBALANCE),
	// with at least MinWaiting people waiting in the pool
	// (SPIN_ALERT_MIN_WAITING).
	Imbalance  float64
	MinWaiting int
	// StoreErrorsPerMin is the store_errors threshold, summed over the
	// cluster's nodes (SPIN_ALERT_STORE_ERRORS_PER_MIN).
	StoreErrorsPerMin float64
	// NodeLostHold is how long a node_lost condition holds when the lost
	// node does not come back; a node back at the same address ends it
	// sooner. Zero means DefaultNodeLostHold.
	NodeLostHold time.Duration
}

// DefaultNodeLostHold is Thresholds.NodeLostHold's default.
const DefaultNodeLostHold = 10 * time.Minute

// DefaultThresholds returns PROTOCOL.md's defaults.
func DefaultThresholds() Thresholds {
	return Thresholds{For: 60 * time.Second, WaitP90: 600 * time.Second, Imbalance: 4, MinWaiting: 10, StoreErrorsPerMin: 10, NodeLostHold: DefaultNodeLostHold}
}

// Key identifies one alert: a rule about one subject.
type Key struct {
	Rule   Rule
	Pool   string // wait_p90, imbalance
	Gender string // wait_p90
	Node   string // node_lost: the lost member's id
}

func (k Key) String() string {
	return strings.Join([]string{string(k.Rule), k.Pool, k.Gender, k.Node}, "/")
}

// Condition is a rule's condition that holds now.
type Condition struct {
	Key      Key
	Severity Severity
	Message  string // for operators
	// Address is node_lost's lost member address (for the message and the
	// alert's node field).
	Address string
	// Immediate conditions fire at the first evaluation that sees them
	// (node_lost); the others after holding for Thresholds.For.
	Immediate bool
}

// Change is a firing or a resolve the Evaluator decided.
type Change struct {
	Condition
	State State
	At    time.Time
}

// tracked is what the Evaluator remembers of one key.
type tracked struct {
	cond   Condition
	firing bool
	// since is when the condition started holding (pending) or, while
	// firing, when it stopped holding (zero: it holds).
	since time.Time
}

// Evaluator decides the changes from the conditions that hold at each
// evaluation: a condition fires once it has held for For, and a firing
// alert resolves once its condition has not held for For. Each change is
// returned exactly once. The zero value is not usable; call NewEvaluator.
type Evaluator struct {
	forD  time.Duration
	state map[Key]*tracked
}

// NewEvaluator returns an Evaluator with nothing pending or firing.
func NewEvaluator(forD time.Duration) *Evaluator {
	return &Evaluator{forD: forD, state: map[Key]*tracked{}}
}

// Step evaluates at now, given every condition that holds now, and returns
// the changes, sorted by key.
func (e *Evaluator) Step(now time.Time, holding []Condition) []Change {
	held := make(map[Key]struct{}, len(holding))
	var out []Change
	for _, c := range holding {
		held[c.Key] = struct{}{}
		t, ok := e.state[c.Key]
		if !ok {
			t = &tracked{cond: c, since: now}
			e.state[c.Key] = t
		}
		if t.firing {
			t.since = time.Time{} // holds again: the resolve countdown stops
			continue
		}
		t.cond = c // pending: the latest message wins
		if c.Immediate || now.Sub(t.since) >= e.forD {
			t.firing, t.since = true, time.Time{}
			out = append(out, Change{Condition: c, State: Firing, At: now})
		}
	}
	for k, t := range e.state {
		if _, ok := held[k]; ok {
			continue
		}
		if !t.firing {
			delete(e.state, k) // pending, and stopped holding: forgotten
			continue
		}
		if t.since.IsZero() {
			t.since = now
		}
		if now.Sub(t.since) >= e.forD {
			delete(e.state, k)
			out = append(out, Change{Condition: t.cond, State: Resolved, At: now})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// Adopt marks c as firing without a change (a fresh activation taking over
// the firing set it was told of): it resolves, announced, once its
// condition has not held for For.
func (e *Evaluator) Adopt(c Condition) {
	e.state[c.Key] = &tracked{cond: c, firing: true}
}

// Firing returns the conditions firing now, sorted by key.
func (e *Evaluator) Firing() []Condition {
	var out []Condition
	for _, t := range e.state {
		if t.firing {
			out = append(out, t.cond)
		}
	}
	slices.SortFunc(out, func(a, b Condition) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// PoolFigures is what the rules read of one pool.
type PoolFigures struct {
	Pool    string
	Waiting map[string]int
	// P90Wait is, by gender, the 90th percentile of the finished waits in
	// the window and the current waits of those still queued.
	P90Wait map[string]time.Duration
	Ratio   float64
	Scarce  string
}

// LostNode is a member that left without a graceful leave.
type LostNode struct {
	ID      string
	Address string
	At      time.Time
}

// Figures are the cluster's numbers at one evaluation.
type Figures struct {
	Pools []PoolFigures
	// StoreErrorsPerMin is the cluster's store errors per minute (sum over
	// nodes), or negative when not known yet.
	StoreErrorsPerMin float64
	// Lost are the lost members not back, within NodeLostHold (the caller
	// drops the others).
	Lost []LostNode
}

// Conditions returns the conditions that hold for f under th.
func Conditions(th Thresholds, f Figures) []Condition {
	var out []Condition
	for _, p := range f.Pools {
		total := 0
		for _, n := range p.Waiting {
			total += n
		}
		for _, g := range sortedKeys(p.P90Wait) {
			if w := p.P90Wait[g]; w > th.WaitP90 {
				out = append(out, Condition{Key: Key{Rule: WaitP90, Pool: p.Pool, Gender: g}, Severity: Warning,
					Message: fmt.Sprintf("In pool %s, the 90th percentile wait of %s users is %.0f s (threshold %.0f s).", p.Pool, g, w.Seconds(), th.WaitP90.Seconds())})
			}
		}
		if p.Ratio > th.Imbalance && total >= th.MinWaiting {
			scarce := p.Scarce
			if scarce == "" {
				scarce = "one side"
			}
			out = append(out, Condition{Key: Key{Rule: Imbalance, Pool: p.Pool}, Severity: Warning,
				Message: fmt.Sprintf("Pool %s is imbalanced: %.1f waiting per %s user (threshold %.1f), %d waiting.", p.Pool, p.Ratio, scarce, th.Imbalance, total)})
		}
	}
	if f.StoreErrorsPerMin > th.StoreErrorsPerMin {
		out = append(out, Condition{Key: Key{Rule: StoreErrors}, Severity: Critical,
			Message: fmt.Sprintf("The store is failing: %.1f errors per minute across the cluster (threshold %.1f).", f.StoreErrorsPerMin, th.StoreErrorsPerMin)})
	}
	for _, n := range f.Lost {
		out = append(out, Condition{Key: Key{Rule: NodeLost, Node: n.ID}, Severity: Critical, Address: n.Address, Immediate: true,
			Message: fmt.Sprintf("Node %s (member %s) left the cluster without a graceful leave.", n.Address, n.ID)})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
