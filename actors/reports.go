package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/persistence"
)

// KindReports writes the cluster's hourly and daily reports (one grain,
// ReportsID).
const KindReports = "Reports"

// ReportsID is the identity of the one Reports grain of a cluster.
const ReportsID = "reports"

// reportTickMax caps the wait between two checks for a due period, so a
// wall clock that jumps, or a write that failed, costs at most this.
const reportTickMax = time.Minute

// reportCallTimeout bounds one period's summary and write.
const reportCallTimeout = 20 * time.Second

// Report is one period's report, as GET /api/admin/reports and POST
// /api/admin/reports/run answer it (PROTOCOL.md, Admin).
type Report struct {
	Period      string             `json:"period"`
	Start       time.Time          `json:"start"`
	End         time.Time          `json:"end"`
	Matches     int                `json:"matches"`
	Mutual      int                `json:"mutual"`
	NoMatch     int                `json:"no_match"`
	SuccessRate float64            `json:"success_rate"`
	AvgWaitS    map[string]float64 `json:"avg_wait_s"`
	P90WaitS    map[string]float64 `json:"p90_wait_s"`
	Abandoned   map[string]int     `json:"abandoned"`
	PeakWaiting int                `json:"peak_waiting"`
	AlertsFired int                `json:"alerts_fired"`
	// ComputedAt and Final are extensions: when the report was computed,
	// and whether its period had settled then (a forced run of the current
	// period is not final; the grain rewrites it once the period settles).
	ComputedAt time.Time `json:"computed_at"`
	Final      bool      `json:"final"`
}

// reportTick is the Reports grain's timer (local only).
type reportTick struct{}

// catchUpDone carries a finished catch-up job back to the grain (local
// only): by period, the newest start known to have a final report, and
// whether every due period was written.
type catchUpDone struct {
	from *reportsGrain
	done map[string]time.Time
	ok   bool
}

// runDone carries a finished forced run back to the grain (local only).
type runDone struct {
	from   *reportsGrain
	period string
	reply  *msg.ReportReply
}

// reportRunWaiters bounds the forced runs of one period that wait for the
// one in flight; more are answered busy at once.
const reportRunWaiters = 16

// reportsGrain is the Reports grain: after each UTC hour and day (once the
// votes of its last matches are in, reportSettle), it computes the
// finished period's report from the store and upserts it; on activation
// it writes the finished periods of the last ReportLookback that have no
// final report. It holds no state that matters: the store has the
// reports, so a grain that moved (its node died) carries on where the
// stored reports end, and two activations racing write one row per
// period (the store keeps the later computation).
//
// Receive never waits on the store or another grain: the store work runs
// in jobs (a goroutine with a reportWriter, which holds no grain state)
// that send their result back as a message. At most one catch-up job is
// in flight, and at most one forced run per period, beside it: a forced
// run never waits behind the catch-up. All fields are owned by Receive.
type reportsGrain struct {
	d    *Deps
	log  *slog.Logger
	self *actor.PID
	stop func() bool // the pending timer; nil when none
	// done is, by period, the start of the newest period known to have a
	// final report, so a tick with nothing due costs no store call.
	done map[string]time.Time
	// jobs is the context of this activation's jobs, cancelled when it
	// stops.
	jobs     context.Context
	cancel   context.CancelFunc
	catching bool // a catch-up job is in flight
	// runs is, by period, the askers waiting for the forced run in flight
	// (a period is present while one is).
	runs map[string][]*actor.PID
}

func newReportsGrain(d *Deps) actor.Actor {
	return &reportsGrain{d: d, done: map[string]time.Time{}, runs: map[string][]*actor.PID{}}
}

// Receive handles one message.
func (g *reportsGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.log = g.d.Logger.With("grain", KindReports)
		g.self = actor.NewPID(ctx.Self().Address, ctx.Self().Id) // bare: a job may outlive the grain
		g.jobs, g.cancel = context.WithCancel(context.Background())
		g.tick(ctx)
	case reportTick:
		g.stop = nil
		g.tick(ctx)
	case catchUpDone:
		if m.from != g {
			return
		}
		g.catching = false
		for kind, start := range m.done {
			if start.After(g.done[kind]) {
				g.done[kind] = start
			}
		}
		if m.ok { // a period may have settled meanwhile; a failure waits for the tick
			g.catchUp(ctx, g.d.now())
		}
	case *msg.RunReport:
		g.runReport(ctx, m.Period)
	case runDone:
		if m.from != g {
			return
		}
		for _, to := range g.runs[m.period] {
			if to != nil {
				ctx.Send(to, m.reply)
			}
		}
		delete(g.runs, m.period)
	case *msg.Wake:
		// Activation only (see System.wakeReports).
	case *actor.Stopping, *actor.Restarting:
		g.halt(ctx)
	case *actor.Stopped, *cluster.ClusterInit:
	default:
		g.log.Warn("reports: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

// halt stops the timer and the jobs, and answers the waiting runs.
func (g *reportsGrain) halt(ctx actor.Context) {
	if g.stop != nil {
		g.stop()
		g.stop = nil
	}
	if g.cancel != nil {
		g.cancel()
	}
	for period, waiting := range g.runs {
		for _, to := range waiting {
			if to != nil {
				ctx.Send(to, &msg.ReportReply{ErrorCode: CodeUnavailable})
			}
		}
		delete(g.runs, period)
	}
}

// writer is what a job may use.
func (g *reportsGrain) writer() reportWriter { return reportWriter{d: g.d, log: g.log} }

// tick starts a catch-up job when one is due and sets the timer for the
// next due period.
func (g *reportsGrain) tick(ctx actor.Context) {
	settle := reportSettle(g.d.Config)
	now := g.d.now()
	g.catchUp(ctx, now)
	next := now.Add(reportTickMax)
	for _, kind := range reportPeriods {
		if due := nextDue(kind, now, settle); due.Before(next) {
			next = due
		}
	}
	if g.stop != nil {
		g.stop()
	}
	g.stop = after(ctx.ActorSystem(), bareSelf(ctx), max(next.Sub(g.d.now()), time.Second), reportTick{})
}

// catchUp starts a catch-up job if a settled period may lack its final
// report and no job is in flight. The job gets copies; its result comes
// back as catchUpDone.
func (g *reportsGrain) catchUp(ctx actor.Context, now time.Time) {
	settle := reportSettle(g.d.Config)
	if g.catching || !g.behind(now, settle) {
		return
	}
	g.catching = true
	w, jobs, done, sys, self, from := g.writer(), g.jobs, maps.Clone(g.done), ctx.ActorSystem(), g.self, g
	go func() {
		done, ok := w.catchUp(jobs, done, now, settle)
		sys.Root.Send(self, catchUpDone{from: from, done: done, ok: ok})
	}()
}

// behind reports whether some settled period of the lookback is newer than
// the newest known to have a final report.
func (g *reportsGrain) behind(now time.Time, settle time.Duration) bool {
	for _, kind := range reportPeriods {
		if due := duePeriods(kind, now, settle, ReportLookback); len(due) > 0 && due[len(due)-1].After(g.done[kind]) {
			return true
		}
	}
	return false
}

// runReport answers a forced run: the asker waits for the run of that
// period in flight, or one is started.
func (g *reportsGrain) runReport(ctx actor.Context, kind string) {
	if !ValidReportPeriod(kind) {
		ctx.Respond(&msg.ReportReply{ErrorCode: CodeBadRequest})
		return
	}
	waiting, inFlight := g.runs[kind]
	if len(waiting) >= reportRunWaiters {
		ctx.Respond(&msg.ReportReply{ErrorCode: CodeBusy})
		return
	}
	// The Router resends an ask whose first attempt timed out (half its
	// budget): the resend joins the run in flight instead of queueing a
	// second one behind it.
	g.runs[kind] = append(waiting, ctx.Sender())
	if inFlight {
		return
	}
	w, jobs, sys, self, from := g.writer(), g.jobs, ctx.ActorSystem(), g.self, g
	go func() {
		sys.Root.Send(self, runDone{from: from, period: kind, reply: w.run(jobs, kind)})
	}()
}

// reportWriter does the Reports grain's store work, on a job's goroutine.
// It holds only what is safe to share (Deps is static after construction,
// the logger is safe for concurrent use), never the grain's state.
type reportWriter struct {
	d   *Deps
	log *slog.Logger
}

// catchUp writes the final report of every due period without one and
// returns done (by period, the newest start known to have a final report)
// updated; ok is false when a period could not be written (the next tick
// retries).
func (w reportWriter) catchUp(ctx context.Context, done map[string]time.Time, now time.Time, settle time.Duration) (map[string]time.Time, bool) {
	ok := true
	for _, kind := range reportPeriods {
		var kindOK bool
		done[kind], kindOK = w.catchUpPeriod(ctx, kind, done[kind], now, settle)
		ok = ok && kindOK
	}
	return done, ok
}

// catchUpPeriod writes the final report of every due period of kind that
// has none, and returns the newest start known to have one.
func (w reportWriter) catchUpPeriod(ctx context.Context, kind string, done, now time.Time, settle time.Duration) (time.Time, bool) {
	due := duePeriods(kind, now, settle, ReportLookback)
	if len(due) == 0 || !due[len(due)-1].After(done) {
		return done, true
	}
	c, cancel := context.WithTimeout(ctx, reportCallTimeout)
	stored, err := w.d.Store.Reports(c, kind, due[0], len(due)+1)
	cancel()
	if err != nil {
		w.d.Metrics.StoreErrors.WithLabelValues("reports").Inc()
		w.log.Warn("reports: cannot read the stored reports; retrying at the next tick", "period", kind, "err", err)
		return done, false
	}
	final := make(map[int64]bool, len(stored))
	for _, r := range stored {
		if r.Final {
			final[r.Start.UnixMicro()] = true
		}
	}
	for _, start := range due {
		if !final[start.UnixMicro()] {
			if _, err := w.write(ctx, kind, start, true); err != nil {
				w.log.Warn("reports: period not written; retrying at the next tick", "period", kind, "start", start, "err", err)
				return done, false
			}
			w.log.Info("reports: period written", "period", kind, "start", start)
		}
		done = start
	}
	return done, true
}

// run writes the report of the current period of kind so far.
func (w reportWriter) run(ctx context.Context, kind string) *msg.ReportReply {
	r, err := w.write(ctx, kind, periodStart(kind, w.d.now()), false)
	if err != nil {
		w.log.Warn("reports: forced run failed", "period", kind, "err", err)
		return &msg.ReportReply{ErrorCode: CodeUnavailable}
	}
	return &msg.ReportReply{Report: reportMsg(r)}
}

// write computes and stores the report of the period of kind starting at
// start, and returns the stored one.
func (w reportWriter) write(ctx context.Context, kind string, start time.Time, final bool) (persistence.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, reportCallTimeout)
	defer cancel()
	end := periodEnd(kind, start)
	now := w.d.now()
	sum, err := w.d.Store.SummarizePeriod(ctx, start, end, now)
	if err != nil {
		w.d.Metrics.StoreErrors.WithLabelValues("summarize_period").Inc()
		return persistence.Report{}, err
	}
	for _, gender := range pool.Genders {
		if _, ok := sum.Abandoned[gender.String()]; !ok {
			sum.Abandoned[gender.String()] = 0
		}
	}
	r := persistence.Report{Period: kind, Start: start, End: end, PeriodSummary: sum, ComputedAt: now.UTC(), Final: final}
	if decided := sum.Mutual + sum.NoMatch; decided > 0 {
		r.SuccessRate = float64(sum.Mutual) / float64(decided)
	}
	if r.AlertsFired, err = w.alertsFired(ctx, start, end); err != nil {
		return persistence.Report{}, fmt.Errorf("alerts fired: %w", err)
	}
	stored, err := w.d.Store.PutReport(ctx, r)
	if err != nil {
		w.d.Metrics.StoreErrors.WithLabelValues("put_report").Inc()
	}
	return stored, err
}

// alertsFiredPoll is how often a report asks again while the Alerts grain
// warms up.
const alertsFiredPoll = 200 * time.Millisecond

// alertsFired asks Deps.AlertsFired (nil: 0). While the Alerts grain
// warms up (a fresh activation, say one that moved with this grain, has
// not yet taken over the nodes' counts) it refuses; the report waits up
// to two of its warm-ups and then fails, so no report records a count
// that is too low (the caller retries at a later tick).
func (w reportWriter) alertsFired(ctx context.Context, start, end time.Time) (int, error) {
	if w.d.AlertsFired == nil {
		return 0, nil
	}
	giveUp := time.Now().Add(2 * alertsWarmUp(w.d.Config))
	for {
		n, err := w.d.AlertsFired(ctx, start, end)
		if !errors.Is(err, ErrAlertsNotReady) || time.Now().After(giveUp) {
			return n, err
		}
		t := time.NewTimer(alertsFiredPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, err
		case <-t.C:
		}
	}
}

func reportMsg(r persistence.Report) *msg.Report {
	out := &msg.Report{
		Period: r.Period, StartUs: r.Start.UnixMicro(), EndUs: r.End.UnixMicro(),
		Matches: int64(r.Matches), Mutual: int64(r.Mutual), NoMatch: int64(r.NoMatch), SuccessRate: r.SuccessRate,
		AvgWaitS: r.AvgWaitS, P90WaitS: r.P90WaitS, Abandoned: make(map[string]int64, len(r.Abandoned)),
		PeakWaiting: int64(r.PeakWaiting), AlertsFired: int64(r.AlertsFired),
		ComputedAtUs: r.ComputedAt.UnixMicro(), Final: r.Final,
	}
	for g, n := range r.Abandoned {
		out.Abandoned[g] = int64(n)
	}
	return out
}

func reportFromMsg(m *msg.Report) Report {
	r := Report{
		Period: m.Period, Start: time.UnixMicro(m.StartUs).UTC(), End: time.UnixMicro(m.EndUs).UTC(),
		Matches: int(m.Matches), Mutual: int(m.Mutual), NoMatch: int(m.NoMatch), SuccessRate: m.SuccessRate,
		AvgWaitS: reportWaits(m.AvgWaitS), P90WaitS: reportWaits(m.P90WaitS), Abandoned: make(map[string]int, len(m.Abandoned)),
		PeakWaiting: int(m.PeakWaiting), AlertsFired: int(m.AlertsFired),
		ComputedAt: time.UnixMicro(m.ComputedAtUs).UTC(), Final: m.Final,
	}
	for g, n := range m.Abandoned {
		r.Abandoned[g] = int(n)
	}
	return r
}

func reportFromRecord(p persistence.Report) Report {
	return reportFromMsg(reportMsg(p))
}

func reportWaits(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

// Report listings are bounded: a week of hours, a quarter of days.
const (
	maxHourReports = 168
	maxDayReports  = 90
)

// Reports returns the stored reports of period (persistence.PeriodHour or
// PeriodDay), newest first: those of the last 168 hours or 90 days.
func (s *System) Reports(ctx context.Context, period string) ([]Report, error) {
	n := maxHourReports
	if period == persistence.PeriodDay {
		n = maxDayReports
	}
	since := periodStart(period, s.d.now())
	for range n - 1 {
		since = previousPeriod(period, since)
	}
	stored, err := s.d.Store.Reports(ctx, period, since, n)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(stored))
	for _, r := range stored {
		out = append(out, reportFromRecord(r))
	}
	return out, nil
}

// reportRunTimeout bounds a forced run (its summary and write, and the
// alerts count: reportCallTimeout; the grain answers it beside any
// catch-up in flight).
const reportRunTimeout = 30 * time.Second

// ErrBadReportPeriod is returned for a period other than hour or day.
var ErrBadReportPeriod = errors.New("actors: report period must be hour or day")

// RunReport has the cluster's Reports grain write (or rewrite) the report
// of the current period so far and returns it. It returns
// ErrBadReportPeriod for a bad period; any other error means the report
// could not be computed or written.
func (s *System) RunReport(ctx context.Context, period string) (Report, error) {
	if !ValidReportPeriod(period) {
		return Report{}, ErrBadReportPeriod
	}
	r, err := ask[*msg.ReportReply](ctx, s.d, ReportsID, KindReports, &msg.RunReport{Period: period}, reportRunTimeout)
	if err != nil {
		return Report{}, fmt.Errorf("run report: %w", err)
	}
	if r.ErrorCode != "" || r.Report == nil {
		return Report{}, fmt.Errorf("run report: the reports grain answered %q", r.ErrorCode)
	}
	return reportFromMsg(r.Report), nil
}

// wakeReports activates the Reports grain (on its owner, wherever that is
// after a topology change), so that a period is written even when the
// grain's node died: its new activation writes what is missing.
func (s *System) wakeReports() {
	done := make(chan struct{})
	s.d.Router.SendThen(KindReports, ReportsID, &msg.Wake{}, func(bool) { close(done) })
	<-done // NewSystem returns with the grain active (wakePools)
}
