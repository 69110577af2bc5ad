// Command spinload is a load tool for a Spinmatch deployment: it drives a
// running server or cluster over real WebSockets at a paced spin rate and
// reports throughput, spin → match latency and the CPU split between the
// server and itself. Run it with -h for the flags; package load does the
// work. Started with SPINLOAD_WORKER=1 it is one of its own workers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"github.com/spinmatch/spinmatch/cmd/spinload/internal/load"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main with its inputs passed in; it returns the exit code: 0 when
// the run finished, 1 when it failed under way (or saw errors, with
// -fail-on-errors), 2 when it stopped before it began (a bad flag, an
// unreachable server, a refused token).
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if getenv(load.WorkerEnv) == "1" {
		// SPINLOAD_WORKER_CPUPROFILE: a directory where each worker
		// writes its CPU profile, for tuning the tool itself.
		if dir := getenv("SPINLOAD_WORKER_CPUPROFILE"); dir != "" {
			if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.pprof", os.Getpid()))); err == nil {
				_ = pprof.StartCPUProfile(f)
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
		if err := load.RunWorker(ctx, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(stderr, "spinload worker:", err)
			return 1
		}
		return 0
	}
	o, err := parseFlags(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "spinload: %v (spinload -h lists the flags)\n", err)
		return 2
	}
	if !o.quiet {
		o.opt.Progress = stderr
		o.opt.TTY = isTerminal(stderr)
	}
	sum, err := load.Run(ctx, o.cfg, o.opt)
	var stopErr *load.StopError
	if errors.As(err, &stopErr) {
		fmt.Fprintln(stderr, "spinload:", stopErr.Msg)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "spinload:", err)
		return 1
	}
	sum.Print(stdout)
	if o.jsonPath != "" {
		if err := sum.WriteJSON(o.jsonPath); err != nil {
			fmt.Fprintln(stderr, "spinload:", err)
			return 1
		}
	}
	if o.failErrs && (sum.Errors > 0 || sum.Counts.Timeouts > 0 || sum.Counts.Missed > 0) {
		fmt.Fprintf(stderr, "spinload: %d errors, %d timeouts, %d missed spins\n", sum.Errors, sum.Counts.Timeouts, sum.Counts.Missed)
		return 1
	}
	return 0
}

// isTerminal reports whether w is a character device (a terminal), where
// the progress line is redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
