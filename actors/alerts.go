package actors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/alert"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// KindAlerts evaluates the alert rules once for the cluster (one grain,
// AlertsID).
const KindAlerts = "Alerts"

// AlertsID is the identity of the one Alerts grain of a cluster.
const AlertsID = "cluster"

// AlertConfig configures the alert rules (PROTOCOL.md, Alerts).
type AlertConfig struct {
	// Thresholds are the rules' thresholds (SPIN_ALERT_*). The zero value
	// means alert.DefaultThresholds.
	Thresholds alert.Thresholds
	// Interval is how often the rules are evaluated and every node reports
	// to the grain. Zero means one second.
	Interval time.Duration
}

func (c AlertConfig) withDefaults() AlertConfig {
	if c.Thresholds == (alert.Thresholds{}) {
		c.Thresholds = alert.DefaultThresholds()
	}
	if c.Thresholds.NodeLostHold <= 0 {
		c.Thresholds.NodeLostHold = alert.DefaultNodeLostHold
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	return c
}

// AlertSink is told of every alert change the cluster's Alerts grain
// decides, on the node that hosts the grain (Sentry, the webhook). Announce
// must not block.
type AlertSink interface {
	Announce(a Alert)
}

// Bounds of the grain's state and of its answers.
const (
	alertRecent    = 100  // changes kept for AlertsSince and /api/admin/alerts
	alertMaxFiring = 1000 // firing alerts sent in one answer
	alertMaxLost   = 256  // lost members remembered (dedup by member id)
	firedHours     = 48   // hours of firing counts kept for the reports
	// poolFiguresTTL is how long a pool's last figures stand in when it
	// does not answer (or drops out of the directory).
	poolFiguresTTL = 30 * time.Second
)

// alertsGrain is the Alerts grain. It is soft state: every node reports
// to it each Interval (AlertReport), carrying the firing set and recent
// changes it last heard of, so a fresh activation (its node died, or the
// identity moved) adopts them during its warm-up instead of announcing
// the firing alerts again, and still announces their resolves. All fields
// are owned by Receive.
type alertsGrain struct {
	d    *Deps
	cfg  AlertConfig
	log  *slog.Logger
	self *actor.PID

	ev       *alert.Evaluator
	rate     *alert.ErrorRate
	lost     map[string]lostNote // by member id
	alive    map[string]aliveNote
	pools    map[string]poolFigure
	fetching bool
	stopTick func() bool

	// started is when this activation began; until warm it adopts state
	// from the reports and announces nothing.
	started time.Time
	warm    bool
	seq     int64
	firing  map[alert.Key]Alert
	recent  []Alert // newest first, at most alertRecent
	// fired counts the firings by UTC hour (Unix seconds), the last
	// firedHours hours, for the reports' alerts_fired.
	fired map[int64]int32
}

type lostNote struct {
	addr string
	at   time.Time
}

// aliveNote is a member some node sees, and when it was last reported.
type aliveNote struct {
	id string
	at time.Time
}

type poolFigure struct {
	fig alert.PoolFigures
	at  time.Time
}

// alertTick is the grain's evaluation timer (local only).
type alertTick struct{ from *alertsGrain }

// poolFiguresDone carries a finished pool-stats fetch back to the grain.
type poolFiguresDone struct {
	from  *alertsGrain
	stats []*msg.PoolStats
}

func newAlertsGrain(d *Deps) actor.Actor {
	cfg := d.Config.Alerts.withDefaults()
	return &alertsGrain{d: d, cfg: cfg, ev: alert.NewEvaluator(cfg.Thresholds.For), rate: alert.NewErrorRate(time.Minute),
		lost: map[string]lostNote{}, alive: map[string]aliveNote{}, pools: map[string]poolFigure{}, firing: map[alert.Key]Alert{},
		fired: map[int64]int32{}}
}

// warmUp is how long a fresh activation listens to the reports before it
// evaluates: every node reports at least twice by then.
func (g *alertsGrain) warmUp() time.Duration { return alertsWarmUp(g.d.Config) }

// alertsWarmUp is the Alerts grain's warm-up under cfg (see warmUp).
func alertsWarmUp(cfg Config) time.Duration {
	return 2*cfg.Alerts.withDefaults().Interval + cfg.RequestTimeout/5
}

// Receive handles one message.
func (g *alertsGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.log = g.d.Logger.With("grain", KindAlerts)
		g.self = bareSelf(ctx)
		g.started = g.d.now()
		g.stopTick = after(ctx.ActorSystem(), g.self, g.cfg.Interval, alertTick{from: g})
	case alertTick:
		if m.from != g {
			return
		}
		g.tick(ctx)
	case poolFiguresDone:
		if m.from != g {
			return
		}
		g.fetching = false
		now := g.d.now()
		for _, st := range m.stats {
			g.pools[st.Pool] = poolFigure{fig: poolFiguresOf(st), at: now}
		}
	case *msg.AlertReport:
		g.report(m)
		ctx.Respond(g.state(m.KnownSeq))
	case *msg.AlertQuery:
		ctx.Respond(g.state(m.Since))
	case *msg.AlertsFiredQuery:
		ctx.Respond(g.firedReply(m))
	case *actor.Stopping:
		if g.stopTick != nil {
			g.stopTick()
		}
		g.setGauges(nil)
	case *actor.Stopped, *actor.Restarting, *cluster.ClusterInit:
	default:
		g.log.Warn("alerts: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

func (g *alertsGrain) tick(ctx actor.Context) {
	g.stopTick = after(ctx.ActorSystem(), g.self, g.cfg.Interval, alertTick{from: g})
	if !g.d.Router.Owns(KindAlerts, AlertsID) {
		g.log.Info("alerts: not the owner any more; stopping this activation")
		ctx.Poison(ctx.Self())
		return
	}
	if !g.fetching {
		g.fetching = true
		go g.fetchPools(ctx.ActorSystem())
	}
	now := g.d.now()
	if !g.warm {
		if now.Sub(g.started) < g.warmUp() {
			return
		}
		g.warm = true
		g.log.Info("alerts: warm", "adopted_firing", len(g.firing), "seq", g.seq)
	}
	changes := g.ev.Step(now, alert.Conditions(g.cfg.Thresholds, g.figures(now)))
	if len(changes) == 0 {
		return
	}
	var out []Alert
	for _, c := range changes {
		out = append(out, g.record(c))
	}
	g.setGauges(g.firing)
	// Every node holds the new state before anyone is told, so a node
	// death right after an announcement does not repeat it.
	g.push(ctx)
	for _, a := range out {
		g.tell(a)
	}
}

// push sends the whole state to every member's reporter actor (one-way).
func (g *alertsGrain) push(ctx actor.Context) {
	st := g.state(0)
	for addr := range g.d.Router.memberIDs() {
		ctx.Send(actor.NewPID(addr, alertReporterName), st)
	}
}

// fetchPools asks the directory and every pool for their statistics, off
// the grain's goroutine, and sends the answers back to the grain.
func (g *alertsGrain) fetchPools(sys *actor.ActorSystem) {
	timeout := min(poolStatsTimeout, g.d.Config.RequestTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+g.d.Config.RequestTimeout)
	defer cancel()
	var stats []*msg.PoolStats
	l, err := ask[*msg.PoolList](ctx, g.d, DirectoryID, KindPoolDirectory, &msg.ListPools{}, timeout)
	if err == nil {
		stats = fetchPoolStatsOf(ctx, g.d, l.Pools).Stats
	} else {
		g.log.Warn("alerts: pool directory unavailable", "err", err)
	}
	sendTo(sys, g.self, poolFiguresDone{from: g, stats: stats})
}

func poolFiguresOf(st *msg.PoolStats) alert.PoolFigures {
	f := alert.PoolFigures{Pool: st.Pool, Waiting: map[string]int{}, P90Wait: map[string]time.Duration{}, Ratio: st.ImbalanceRatio, Scarce: st.Scarce}
	for gender, n := range st.Waiting {
		f.Waiting[gender] = int(n)
	}
	for gender, s := range st.AlertP90WaitS {
		f.P90Wait[gender] = time.Duration(s * float64(time.Second))
	}
	return f
}

// figures are the cluster's numbers now.
func (g *alertsGrain) figures(now time.Time) alert.Figures {
	var f alert.Figures
	for name, p := range g.pools {
		if now.Sub(p.at) > poolFiguresTTL {
			delete(g.pools, name)
			continue
		}
		f.Pools = append(f.Pools, p.fig)
	}
	f.StoreErrorsPerMin = g.rate.PerWindow(now)
	hold := g.cfg.Thresholds.NodeLostHold
	for addr, a := range g.alive {
		if now.Sub(a.at) > 5*g.cfg.Interval {
			delete(g.alive, addr)
		}
	}
	for id, l := range g.lost {
		if now.Sub(l.at) > 2*hold {
			delete(g.lost, id)
			continue
		}
		back := false
		if a, ok := g.alive[l.addr]; ok && a.id != id {
			back = true // a new incarnation at the lost node's address
		}
		if !back && now.Sub(l.at) < hold {
			f.Lost = append(f.Lost, alert.LostNode{ID: id, Address: l.addr, At: l.at})
		}
	}
	return f
}

// report takes in one node's report.
func (g *alertsGrain) report(m *msg.AlertReport) {
	now := g.d.now()
	g.rate.Observe(m.Node, m.StoreErrorsTotal, now)
	for _, mem := range m.Members {
		if len(g.alive) < alertMaxLost || g.alive[mem.Address].id != "" {
			g.alive[mem.Address] = aliveNote{id: mem.Id, at: now}
		}
	}
	for _, l := range m.Lost {
		if _, ok := g.lost[l.Id]; ok || len(g.lost) >= alertMaxLost {
			continue
		}
		g.lost[l.Id] = lostNote{addr: l.Address, at: fromMS(l.AtMs)}
	}
	if !g.warm && m.KnownSeq > g.seq {
		g.adopt(m)
	}
}

// adopt takes over the state a node last heard of (warm-up only).
func (g *alertsGrain) adopt(m *msg.AlertReport) {
	g.seq = m.KnownSeq
	g.ev = alert.NewEvaluator(g.cfg.Thresholds.For)
	g.firing = map[alert.Key]Alert{}
	for _, am := range m.Firing {
		a := alertFromMsg(am)
		c := conditionOf(a)
		g.ev.Adopt(c)
		g.firing[c.Key] = a
	}
	g.fired = map[int64]int32{}
	for h, c := range m.FiredHours {
		if len(g.fired) < 2*firedHours {
			g.fired[h] = c
		}
	}
	g.recent = g.recent[:0]
	for _, am := range m.Recent {
		if len(g.recent) < alertRecent {
			g.recent = append(g.recent, alertFromMsg(am))
		}
	}
	g.setGauges(g.firing)
}

// firedReply answers a report's count. Until warm the grain refuses: a
// fresh activation has not yet taken over the nodes' per-hour counts, and
// a report written with its 0 would be final and never rewritten.
func (g *alertsGrain) firedReply(m *msg.AlertsFiredQuery) *msg.AlertsFiredReply {
	if !g.warm {
		return &msg.AlertsFiredReply{NotReady: true}
	}
	return &msg.AlertsFiredReply{Count: g.firedIn(m.StartMs, m.EndMs)}
}

// firedIn counts the firings of the hours starting in [startMS, endMS).
func (g *alertsGrain) firedIn(startMS, endMS int64) int64 {
	var n int64
	for h, c := range g.fired {
		if at := h * 1000; at >= startMS && at < endMS {
			n += int64(c)
		}
	}
	return n
}

// announce records one change and tells the node's sink.
func (g *alertsGrain) announce(c alert.Change) { g.tell(g.record(c)) }

// tell gives one change to the node's sink.
func (g *alertsGrain) tell(a Alert) {
	g.log.Info("alert", "rule", a.Rule, "state", a.State, "pool", a.Pool, "gender", a.Gender, "node", a.Node, "seq", a.Seq)
	if g.d.Alerts != nil {
		g.d.Alerts.Announce(a)
	}
}

// record applies one change to the state and returns its alert.
func (g *alertsGrain) record(c alert.Change) Alert {
	g.seq = max(g.seq+1, c.At.UnixMicro())
	a := Alert{Type: "alert", Rule: string(c.Key.Rule), State: string(c.State), Severity: string(c.Severity), Message: c.Message,
		Pool: c.Key.Pool, Gender: c.Key.Gender, Node: c.Address, Member: c.Key.Node, At: c.At.UTC(), Seq: g.seq}
	if c.State == alert.Resolved {
		a.Message = "Resolved: " + c.Message
		delete(g.firing, c.Key)
	} else {
		g.firing[c.Key] = a
		hour := c.At.UTC().Truncate(time.Hour).Unix()
		g.fired[hour]++
		for h := range g.fired {
			if h <= hour-firedHours*3600 {
				delete(g.fired, h)
			}
		}
	}
	g.recent = append([]Alert{a}, g.recent[:min(len(g.recent), alertRecent-1)]...)
	return a
}

// state is the answer to a report or query from one that knows up to since.
func (g *alertsGrain) state(since int64) *msg.AlertState {
	out := &msg.AlertState{Seq: g.seq, Fresh: !g.warm, FiredHours: maps.Clone(g.fired)} // a copy: a local asker gets the message itself
	for _, a := range sortedFiring(g.firing) {
		if len(out.Firing) >= alertMaxFiring {
			break
		}
		out.Firing = append(out.Firing, alertMsg(a))
	}
	for _, a := range g.recent {
		if a.Seq <= since {
			break
		}
		out.Changes = append(out.Changes, alertMsg(a))
	}
	return out
}

func (g *alertsGrain) setGauges(firing map[alert.Key]Alert) {
	if g.d.AlertMetrics == nil {
		return
	}
	n := map[string]int{}
	for k := range firing {
		n[string(k.Rule)]++
	}
	for _, r := range alert.Rules {
		g.d.AlertMetrics.Firing.WithLabelValues(string(r)).Set(float64(n[string(r)]))
	}
}

func conditionOf(a Alert) alert.Condition {
	r := alert.Rule(a.Rule)
	return alert.Condition{Key: alert.Key{Rule: r, Pool: a.Pool, Gender: a.Gender, Node: a.Member}, Severity: alert.Severity(a.Severity),
		Message: a.Message, Address: a.Node, Immediate: r == alert.NodeLost}
}

func alertMsg(a Alert) *msg.AlertMsg {
	return &msg.AlertMsg{Rule: a.Rule, State: a.State, Severity: a.Severity, Message: a.Message, Pool: a.Pool,
		Gender: a.Gender, Node: a.Node, Member: a.Member, AtMs: ms(a.At), Seq: a.Seq}
}

func alertFromMsg(m *msg.AlertMsg) Alert {
	return Alert{Type: "alert", Rule: m.Rule, State: m.State, Severity: m.Severity, Message: m.Message, Pool: m.Pool,
		Gender: m.Gender, Node: m.Node, Member: m.Member, At: fromMS(m.AtMs).UTC(), Seq: m.Seq}
}

func sortedFiring(f map[alert.Key]Alert) []Alert {
	out := make([]Alert, 0, len(f))
	for _, a := range f {
		out = append(out, a)
	}
	sortAlertsNewestFirst(out)
	return out
}

// sortAlertsNewestFirst sorts by Seq, newest first.
func sortAlertsNewestFirst(as []Alert) {
	slices.SortFunc(as, func(a, b Alert) int { return cmp.Compare(b.Seq, a.Seq) })
}

// ErrAlertsNotReady is returned by AlertsFiredCounter while the Alerts
// grain is a fresh activation still warming up (it cannot count yet).
var ErrAlertsNotReady = errors.New("actors: the alerts grain is warming up")

// AlertsFiredCounter returns the reports' Deps.AlertsFired: it asks the
// cluster's Alerts grain how many alerts fired in [start, end), counted by
// UTC hour for the last 48 hours (older hours count 0). It returns
// ErrAlertsNotReady while the grain warms up.
func AlertsFiredCounter(d *Deps) func(ctx context.Context, start, end time.Time) (int, error) {
	return func(ctx context.Context, start, end time.Time) (int, error) {
		r, err := ask[*msg.AlertsFiredReply](ctx, d, AlertsID, KindAlerts, &msg.AlertsFiredQuery{StartMs: ms(start), EndMs: ms(end)}, min(alertsTimeout, d.Config.RequestTimeout))
		if err != nil {
			return 0, fmt.Errorf("alerts fired: %w", err)
		}
		return alertsFiredOf(r)
	}
}

func alertsFiredOf(r *msg.AlertsFiredReply) (int, error) {
	if r.NotReady {
		return 0, ErrAlertsNotReady
	}
	return int(r.Count), nil
}
