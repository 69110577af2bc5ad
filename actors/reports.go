package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// reportsGrain is the Reports grain: after each UTC hour and day (once the
// votes of its last matches are in, reportSettle), it computes the
// finished period's report from the store and upserts it; on activation
// it writes the finished periods of the last ReportLookback that have no
// final report. It holds no state that matters: the store has the
// reports, so a grain that moved (its node died) carries on where the
// stored reports end, and two activations racing write one row per
// period (the store keeps the later computation). All fields are owned
// by Receive.
type reportsGrain struct {
	d    *Deps
	log  *slog.Logger
	stop func() bool // the pending timer; nil when none
	// done is, by period, the start of the newest period known to have a
	// final report, so a tick with nothing due costs no store call.
	done map[string]time.Time
}

func newReportsGrain(d *Deps) actor.Actor {
	return &reportsGrain{d: d, done: map[string]time.Time{}}
}

// Receive handles one message.
func (g *reportsGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.log = g.d.Logger.With("grain", KindReports)
		g.tick(ctx)
	case reportTick:
		g.stop = nil
		g.tick(ctx)
	case *msg.RunReport:
		ctx.Respond(g.run(m.Period))
	case *msg.Wake:
		// Activation only (see System.wakeReports).
	case *actor.Stopping, *actor.Restarting:
		if g.stop != nil {
			g.stop()
			g.stop = nil
		}
	case *actor.Stopped, *cluster.ClusterInit:
	default:
		g.log.Warn("reports: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

// tick writes the due periods and sets the timer for the next one.
func (g *reportsGrain) tick(ctx actor.Context) {
	settle := reportSettle(g.d.Config)
	now := g.d.now()
	next := now.Add(reportTickMax)
	for _, kind := range reportPeriods {
		g.catchUp(kind, now, settle)
		if due := nextDue(kind, now, settle); due.Before(next) {
			next = due
		}
	}
	g.stop = after(ctx.ActorSystem(), ctx.Self(), max(next.Sub(g.d.now()), time.Second), reportTick{})
}

// catchUp writes the final report of every due period of kind that has none.
func (g *reportsGrain) catchUp(kind string, now time.Time, settle time.Duration) {
	due := duePeriods(kind, now, settle, ReportLookback)
	if len(due) == 0 || !due[len(due)-1].After(g.done[kind]) {
		return
	}
	c, cancel := context.WithTimeout(context.Background(), reportCallTimeout)
	stored, err := g.d.Store.Reports(c, kind, due[0], len(due)+1)
	cancel()
	if err != nil {
		g.d.Metrics.StoreErrors.WithLabelValues("reports").Inc()
		g.log.Warn("reports: cannot read the stored reports; retrying at the next tick", "period", kind, "err", err)
		return
	}
	final := make(map[int64]bool, len(stored))
	for _, r := range stored {
		if r.Final {
			final[r.Start.UnixMicro()] = true
		}
	}
	for _, start := range due {
		if !final[start.UnixMicro()] {
			if _, err := g.write(kind, start, true); err != nil {
				g.log.Warn("reports: period not written; retrying at the next tick", "period", kind, "start", start, "err", err)
				return
			}
			g.log.Info("reports: period written", "period", kind, "start", start)
		}
		g.done[kind] = start
	}
}

// run writes the report of the current period of kind so far.
func (g *reportsGrain) run(kind string) *msg.ReportReply {
	if !ValidReportPeriod(kind) {
		return &msg.ReportReply{ErrorCode: CodeBadRequest}
	}
	r, err := g.write(kind, periodStart(kind, g.d.now()), false)
	if err != nil {
		g.log.Warn("reports: forced run failed", "period", kind, "err", err)
		return &msg.ReportReply{ErrorCode: CodeUnavailable}
	}
	return &msg.ReportReply{Report: reportMsg(r)}
}

// write computes and stores the report of the period of kind starting at
// start, and returns the stored one.
func (g *reportsGrain) write(kind string, start time.Time, final bool) (persistence.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), reportCallTimeout)
	defer cancel()
	end := periodEnd(kind, start)
	now := g.d.now()
	sum, err := g.d.Store.SummarizePeriod(ctx, start, end, now)
	if err != nil {
		g.d.Metrics.StoreErrors.WithLabelValues("summarize_period").Inc()
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
	if g.d.AlertsFired != nil {
		n, err := g.d.AlertsFired(ctx, start, end)
		if err != nil {
			return persistence.Report{}, fmt.Errorf("alerts fired: %w", err)
		}
		r.AlertsFired = n
	}
	stored, err := g.d.Store.PutReport(ctx, r)
	if err != nil {
		g.d.Metrics.StoreErrors.WithLabelValues("put_report").Inc()
	}
	return stored, err
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

// reportRunTimeout bounds a forced run (the grain may be writing late
// periods first).
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
	s.d.Router.Send(KindReports, ReportsID, &msg.Wake{})
}
