package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"time"
)

// WorkerEnv marks a process started by the coordinator as a worker.
const WorkerEnv = "SPINLOAD_WORKER"

// StopError is a failure found before or while setting up the run (a bad
// flag, an unreachable server, a refused token): one line, exit code 2.
type StopError struct{ Msg string }

func (e *StopError) Error() string { return e.Msg }

// Options are the coordinator's settings beyond the run itself.
type Options struct {
	// ServerPIDs are the server processes whose CPU time is measured.
	// Empty: the processes listening on the targets' ports, when local.
	ServerPIDs []int
	// Progress receives the live progress line.
	Progress io.Writer
	// TTY redraws the progress line in place; otherwise a plain line is
	// written every ProgressEvery.
	TTY bool
	// ProgressEvery is how often the progress line is written. Zero
	// value: every second on a terminal, every 5 s otherwise.
	ProgressEvery time.Duration
	// DBProcess is the command name (/proc/PID/comm) of the database's
	// processes, for example postgres, whose CPU time is counted beside
	// the server's. Empty: none. On a shared database server this counts
	// every client's work.
	DBProcess string
	// Exe is the executable started as the workers. Zero value: this one.
	Exe string
}

// workerProc is one worker process, as the coordinator sees it. Owned
// by Run's goroutine, but for the reader goroutine that feeds events.
type workerProc struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	connected int
	ready     bool
	done      bool
	cpuAtWarm time.Duration
	cpuAtEnd  time.Duration
}

type event struct {
	w   int
	r   Report
	eof error // set when the worker's output ended
}

// Run runs the load: it checks the targets, starts the workers, shows
// progress and returns the summary of the measured part (after warm-up).
func Run(ctx context.Context, cfg Config, opt Options) (*Summary, error) {
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = 5 * time.Second
		if opt.TTY {
			opt.ProgressEvery = time.Second
		}
	}
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	if err := Check(ctx, cfg); err != nil {
		return nil, &StopError{err.Error()}
	}
	var tokens []string
	if cfg.Secret == "" {
		fmt.Fprintf(opt.Progress, "fetching %d tokens from batch-setup\n", cfg.Users)
		var err error
		if tokens, err = BatchTokens(ctx, cfg); err != nil {
			return nil, &StopError{err.Error()}
		}
	}
	serverPIDs := opt.ServerPIDs
	if len(serverPIDs) == 0 {
		seen := map[int]bool{}
		for _, t := range cfg.Targets {
			if pid := ListenerPID(t); pid > 0 && !seen[pid] {
				seen[pid] = true
				serverPIDs = append(serverPIDs, pid)
			}
		}
	}
	rssBefore, rssKnown := sumRSS(serverPIDs)
	if opt.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("spinload: own executable: %w", err)
		}
		opt.Exe = exe
	}

	events := make(chan event, 256)
	ws := make([]*workerProc, cfg.Workers)
	defer func() {
		for _, w := range ws {
			if w != nil && w.cmd.ProcessState == nil {
				_ = w.stdin.Close()
				_ = w.cmd.Process.Kill()
				_ = w.cmd.Wait()
			}
		}
	}()
	for i := range ws {
		lo, hi := i*cfg.Users/cfg.Workers, (i+1)*cfg.Users/cfg.Workers
		spec := WorkerSpec{Config: cfg, Lo: lo, Hi: hi, Rate: cfg.Rate * float64(hi-lo) / float64(cfg.Users)}
		if tokens != nil {
			spec.Tokens = tokens[lo:hi]
		}
		w, err := startWorker(opt.Exe, i, spec, events)
		if err != nil {
			return nil, err
		}
		ws[i] = w
	}

	// Connect: every worker reports ready, or the first fatal stops all.
	tick := time.NewTicker(opt.ProgressEvery)
	defer tick.Stop()
	p := &progress{out: opt.Progress, tty: opt.TTY, users: cfg.Users}
	for readyN := 0; readyN < len(ws); {
		select {
		case <-ctx.Done():
			return nil, &StopError{"interrupted while connecting"}
		case ev := <-events:
			w := ws[ev.w]
			switch {
			case ev.eof != nil:
				return nil, &StopError{fmt.Sprintf("worker %d ended while connecting: %v", ev.w, ev.eof)}
			case ev.r.Kind == "fatal":
				p.clear()
				return nil, &StopError{ev.r.Message}
			case ev.r.Kind == "connecting" || ev.r.Kind == "ready":
				w.connected = ev.r.Connected
				if ev.r.Kind == "ready" {
					w.ready = true
					readyN++
				}
			}
		case <-tick.C:
			p.connecting(sumConnected(ws))
		}
	}
	p.connecting(sumConnected(ws))

	sum := &Summary{Targets: cfg.Targets, Users: cfg.Users, Workers: cfg.Workers, TargetRate: cfg.Rate, Warmup: cfg.Warmup.Seconds()}
	if cfg.Idle > 0 {
		if err := holdIdle(ctx, cfg, p, ws, events); err != nil {
			return nil, err
		}
		if rss, ok := sumRSS(serverPIDs); ok && rssKnown {
			n := sumConnected(ws)
			sum.Memory = &Memory{Users: cfg.Users, Connected: n, IdleFor: cfg.Idle.Seconds(), RSSBeforeMiB: mib(rssBefore), RSSIdleMiB: mib(rss)}
			if n > 0 {
				sum.Memory.PerUserKiB = (float64(rss) - float64(rssBefore)) / 1024 / float64(n)
			}
		}
		sum.ServerPIDs = serverPIDs
		if cfg.Duration == 0 {
			p.clear()
			waitWorkers(ws, 15*time.Second)
			return sum, nil
		}
	}

	start := time.Now()
	tick.Reset(opt.ProgressEvery)
	for _, w := range ws {
		if _, err := io.WriteString(w.stdin, "start\n"); err != nil {
			return nil, fmt.Errorf("spinload: start worker: %w", err)
		}
	}
	warmEnd := start.Add(cfg.Warmup)
	var warmCPU cpuMark
	warmTaken := false
	// The intervals start with the measured part.
	var ivTicker *time.Ticker
	defer func() {
		if ivTicker != nil {
			ivTicker.Stop()
		}
	}()
	var ivTick <-chan time.Time
	var ivStart time.Time
	var ivCounts Counts
	var ivF Histogram
	var ivSeconds float64
	takeWarm := func() {
		if !warmTaken {
			warmTaken = true
			warmCPU = markCPU(serverPIDs, opt.DBProcess, ws)
			if cfg.Interval > 0 {
				ivTicker = time.NewTicker(cfg.Interval)
				ivTick, ivStart = ivTicker.C, time.Now()
			}
		}
	}
	if cfg.Warmup == 0 {
		takeWarm()
	}
	warmTimer := time.NewTimer(cfg.Warmup)
	defer warmTimer.Stop()

	var total Counts
	var totalQ, totalF, totalP Histogram
	var win Counts
	var winQ, winF Histogram
	winSeconds := 0.0 // the time the window's reports cover, summed over the workers
	deadline := time.NewTimer(cfg.Duration + 60*time.Second)
	defer deadline.Stop()
	var endCPU cpuMark
	var firstErr error
	for doneN := 0; doneN < len(ws); {
		select {
		case <-ctx.Done():
			// Interrupted: summarize what was measured so far.
			doneN = len(ws)
			sum.Interrupted = true
		case <-deadline.C:
			return nil, errors.New("spinload: the workers did not finish within a minute of the run's end")
		case <-warmTimer.C:
			takeWarm()
		case ev := <-events:
			w := ws[ev.w]
			if ev.eof != nil {
				if !w.done && firstErr == nil {
					firstErr = fmt.Errorf("worker %d ended early: %v", ev.w, ev.eof)
					doneN = len(ws)
				}
				continue
			}
			switch ev.r.Kind {
			case "stats":
				winSeconds += ev.r.Seconds
				w.connected = ev.r.Connected
				if sumConnected(ws) == 0 && firstErr == nil {
					firstErr = fmt.Errorf("every socket was closed under load (%d dropped): is the server still up?", total.Drops+ev.r.Drops)
					doneN = len(ws)
				}
				win.Add(ev.r.Counts)
				winQ.AddSparse(ev.r.QueuedH)
				winF.AddSparse(ev.r.FoundH)
				if !ev.r.Warm {
					ivCounts.Add(ev.r.Counts)
					ivF.AddSparse(ev.r.FoundH)
					ivSeconds += ev.r.Seconds
					total.Add(ev.r.Counts)
					totalQ.AddSparse(ev.r.QueuedH)
					totalF.AddSparse(ev.r.FoundH)
					totalP.AddSparse(ev.r.PairH)
				}
			case "done":
				w.done = true
				w.cpuAtEnd, _ = CPUTime(w.cmd.Process.Pid)
				doneN++
			case "fatal":
				firstErr = errors.New(ev.r.Message)
				doneN = len(ws)
			}
		case now := <-ivTick:
			rss, _ := sumRSS(serverPIDs)
			// Rates over the time the workers' reports cover.
			secs := ivSeconds / float64(len(ws))
			if secs <= 0 {
				secs = cfg.Interval.Seconds()
			}
			sum.Intervals = append(sum.Intervals, Interval{
				From: ivStart.Sub(start).Seconds(), To: now.Sub(start).Seconds(),
				SpinsPerS: float64(ivCounts.Spins) / secs, MatchesPerS: float64(ivCounts.Found) / 2 / secs,
				P50: msf(ivF.Quantile(0.5)), P99: msf(ivF.Quantile(0.99)),
				Errors: ivCounts.ErrorCount(), Timeouts: ivCounts.Timeouts, RSSMiB: mib(rss),
			})
			ivStart, ivCounts, ivSeconds = now, Counts{}, 0
			ivF.Reset()
		case now := <-tick.C:
			if warmTaken {
				if rss, ok := sumRSS(serverPIDs); ok {
					sum.ServerRSSPeakMiB = max(sum.ServerRSSPeakMiB, mib(rss))
				}
			}
			if winSeconds == 0 {
				continue // no worker has reported yet: nothing to show
			}
			// The rates are over the time the reports cover, per worker.
			p.running(now.Sub(start), sumConnected(ws), &win, &winQ, &winF, time.Duration(winSeconds/float64(len(ws))*float64(time.Second)))
			win, winSeconds = Counts{}, 0
			winQ.Reset()
			winF.Reset()
		}
	}
	takeWarm()
	endCPU = markCPU(serverPIDs, opt.DBProcess, ws)
	p.clear()
	waitWorkers(ws, 15*time.Second)
	measured := time.Since(warmEnd)
	if !sum.Interrupted && firstErr == nil {
		measured = cfg.Duration - cfg.Warmup
	}
	if firstErr != nil {
		return nil, firstErr
	}
	sum.fill(measured, total, &totalQ, &totalF, &totalP, warmCPU, endCPU, serverPIDs)
	sum.DBProcess = opt.DBProcess
	sum.Drift = drift(sum.Intervals)
	if rss, ok := sumRSS(serverPIDs); ok {
		sum.ServerRSSPeakMiB = max(sum.ServerRSSPeakMiB, mib(rss))
	}
	return sum, nil
}

// waitWorkers lets the workers close their sockets and exit, killing
// those still running after d.
func waitWorkers(ws []*workerProc, d time.Duration) {
	deadline := time.Now().Add(d)
	for _, w := range ws {
		_ = w.stdin.Close()
		exited := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(time.Until(deadline)):
			_ = w.cmd.Process.Kill()
			<-exited
		}
	}
}

func sumConnected(ws []*workerProc) int {
	n := 0
	for _, w := range ws {
		n += w.connected
	}
	return n
}

// startWorker starts worker i with its spec and a goroutine that feeds
// its reports into events.
func startWorker(exe string, i int, spec WorkerSpec, events chan<- event) (*workerProc, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), WorkerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("spinload: start worker: %w", err)
	}
	b, _ := json.Marshal(spec)
	if _, err := stdin.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("spinload: worker spec: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var r Report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				continue
			}
			events <- event{w: i, r: r}
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		events <- event{w: i, eof: err}
	}()
	return &workerProc{cmd: cmd, stdin: stdin}, nil
}

// cpuMark is the CPU time of the server and load processes at a moment.
type cpuMark struct {
	server, load, db time.Duration
}

func markCPU(serverPIDs []int, db string, ws []*workerProc) cpuMark {
	var m cpuMark
	if db != "" {
		for _, pid := range ProcessesNamed(db) {
			t, _ := CPUTime(pid)
			m.db += t
		}
	}
	for _, pid := range serverPIDs {
		t, _ := CPUTime(pid)
		m.server += t
	}
	self, _ := CPUTime(os.Getpid())
	m.load = self
	for _, w := range ws {
		if w.done {
			m.load += w.cpuAtEnd
			continue
		}
		t, _ := CPUTime(w.cmd.Process.Pid)
		m.load += t
	}
	return m
}

func sortedKeys(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// holdIdle keeps every user connected and idle for cfg.Idle, showing it
// on the progress line; a worker that ends or fails stops the run.
func holdIdle(ctx context.Context, cfg Config, p *progress, ws []*workerProc, events <-chan event) error {
	end := time.NewTimer(cfg.Idle)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return &StopError{"interrupted while idle"}
		case <-end.C:
			return nil
		case ev := <-events:
			switch {
			case ev.eof != nil:
				return fmt.Errorf("worker %d ended while idle: %v", ev.w, ev.eof)
			case ev.r.Kind == "fatal":
				return errors.New(ev.r.Message)
			}
		case now := <-tick.C:
			p.line(fmt.Sprintf("idle %d/%d connected, %.0f of %.0f s", sumConnected(ws), p.users, now.Sub(started).Seconds(), cfg.Idle.Seconds()))
		}
	}
}

// msf is a duration in milliseconds.
func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
