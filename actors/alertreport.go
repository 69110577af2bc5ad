package actors

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// alertReporter is a node's side of the alert rules: each Interval it
// reports to the Alerts grain (its store-error count, the members it saw
// lost and the members it sees) and keeps the grain's answer (the firing
// set and recent changes), which it sends back in its next report so a
// fresh activation of the grain adopts them. It also watches the
// topology for members that leave without a graceful leave.
type alertReporter struct {
	d    *Deps  // static
	id   string // this node's member id; static
	addr string // static
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	members map[string]string // guarded by mu: address -> id, as last seen
	lost    []*msg.MemberRef  // guarded by mu: lost members, oldest first, at most alertMaxLost
	seq     int64             // guarded by mu: the newest change heard of
	firing  []*msg.AlertMsg   // guarded by mu: the firing set as of seq
	recent  []*msg.AlertMsg   // guarded by mu: newest first, at most alertRecent
	fired   map[int64]int32   // guarded by mu: firings by UTC hour, as of seq
}

// StartAlerts starts this node's reports to the cluster's Alerts grain
// (which activates on the first one); the returned func stops them.
func (s *System) StartAlerts() (stop func()) {
	r := &alertReporter{d: s.d, id: s.cl.ActorSystem.ID, addr: s.cl.ActorSystem.Address(),
		stop: make(chan struct{}), done: make(chan struct{}), members: s.d.Router.memberIDs()}
	s.alerts.Store(r)
	s.d.Router.OnChange(r.topology)
	// The grain pushes every change here at once (see alertsGrain.push).
	pid, err := s.cl.ActorSystem.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
		if st, ok := c.Message().(*msg.AlertState); ok {
			r.take(st)
		}
	}), alertReporterName)
	if err != nil {
		s.d.Logger.Error("alerts: cannot spawn the reporter actor; changes arrive with the reports only", "err", err)
	}
	go r.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(r.stop)
			<-r.done
			if pid != nil {
				s.cl.ActorSystem.Root.Stop(pid)
			}
		})
	}
}

// alertReporterName is the name of every node's actor that takes the
// Alerts grain's pushed state.
const alertReporterName = "alerts-reporter"

func (r *alertReporter) run() {
	defer close(r.done)
	interval := r.d.Config.Alerts.withDefaults().Interval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.d.Config.RequestTimeout)
		st, err := ask[*msg.AlertState](ctx, r.d, AlertsID, KindAlerts, r.report(), r.d.Config.RequestTimeout)
		cancel()
		if err != nil {
			r.d.Logger.Debug("alerts: report not taken", "err", err)
			continue
		}
		r.take(st)
	}
}

func (r *alertReporter) report() *msg.AlertReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &msg.AlertReport{Node: r.id, Address: r.addr, StoreErrorsTotal: counterVecTotal(r.d.Metrics.StoreErrors),
		Lost: slices.Clone(r.lost), KnownSeq: r.seq, Firing: r.firing, Recent: r.recent, FiredHours: r.fired}
	for addr, id := range r.members {
		rep.Members = append(rep.Members, &msg.MemberRef{Id: id, Address: addr})
	}
	// Lost members are reported for twice the hold: the grain dedups
	// them by id, and a fresh activation still hears of them.
	hold := 2 * r.d.Config.Alerts.withDefaults().Thresholds.NodeLostHold
	now := r.d.now()
	r.lost = slices.DeleteFunc(r.lost, func(l *msg.MemberRef) bool { return now.Sub(fromMS(l.AtMs)) > hold })
	return rep
}

// take merges the grain's answer.
func (r *alertReporter) take(st *msg.AlertState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.Seq < r.seq {
		// Older than what this node holds: a fresh activation that has not
		// adopted yet (keep ours for it), or a push overtaken by a reply.
		// (A grain that lost everything starts at the current time in µs,
		// above any older seq.)
		return
	}
	r.firing, r.fired = st.Firing, st.FiredHours
	var news []*msg.AlertMsg
	for _, c := range st.Changes { // newest first
		if c.Seq > r.seq {
			news = append(news, c)
		}
	}
	r.recent = append(news, r.recent...)
	r.recent = r.recent[:min(len(r.recent), alertRecent)]
	r.seq = st.Seq
}

// topology notes the members that left without a graceful leave (a
// Router.OnChange hook).
func (r *alertReporter) topology() {
	now := r.d.memberIDsNow()
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, id := range r.members {
		if now[addr] == id {
			continue
		}
		if addr != r.addr && r.d.Router.graceful != nil && !r.d.Router.graceful(addr) {
			r.d.Logger.Warn("alerts: member lost", "address", addr, "member", id)
			r.lost = append(r.lost, &msg.MemberRef{Id: id, Address: addr, AtMs: ms(r.d.now())})
			if len(r.lost) > alertMaxLost {
				r.lost = r.lost[1:]
			}
		}
	}
	r.members = now
}

// cached returns what the node last heard from the grain.
func (r *alertReporter) cached() (firing, recent []Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.firing {
		firing = append(firing, alertFromMsg(m))
	}
	for _, m := range r.recent {
		recent = append(recent, alertFromMsg(m))
	}
	return firing, recent
}

func (d *Deps) memberIDsNow() map[string]string { return d.Router.memberIDs() }

// memberIDs returns a copy of the topology: member address -> member id.
func (r *Router) memberIDs() map[string]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]string, len(r.members))
	for a, id := range r.members {
		out[a] = id
	}
	return out
}

// counterVecTotal sums a counter vector over its series.
func counterVecTotal(c *prometheus.CounterVec) int64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) == nil && pb.Counter != nil {
			sum += pb.Counter.GetValue()
		}
	}
	return int64(sum)
}
