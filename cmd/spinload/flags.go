package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spinmatch/spinmatch/cmd/spinload/internal/load"
)

// options is everything the command line says.
type options struct {
	cfg      load.Config
	opt      load.Options
	jsonPath string
	quiet    bool
	failErrs bool
}

const usageHead = `spinload drives a running Spinmatch server or cluster over real WebSockets:
users connect to /ws, spin, get matched, vote and spin again, at a paced rate.
It prints a live progress line and a summary table.

Tokens are minted with -secret (the server's JWT_SECRET, also read from
JWT_SECRET), or fetched from POST /api/test/batch-setup (with -test-key, also
read from TEST_API_KEY) when no secret is given. The server should exempt the
load's addresses from its per-address limits (SPIN_LIMIT_EXEMPT=127.0.0.0/8).

Usage: spinload [flags]
`

// parseFlags parses the command line; getenv supplies the secrets'
// defaults. Errors are one line; flag.ErrHelp asks for the usage.
func parseFlags(args []string, getenv func(string) string, usage io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("spinload", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	targets := fs.String("target", "http://127.0.0.1:8080", "comma-separated base URLs of the server or the cluster's nodes")
	fs.IntVar(&o.cfg.Users, "users", 1000, "users connected, over all workers")
	fs.Float64Var(&o.cfg.Rate, "rate", 500, "spins a second to aim at (open-loop)")
	fs.DurationVar(&o.cfg.Duration, "duration", 30*time.Second, "how long spins are sent, warm-up included")
	fs.DurationVar(&o.cfg.Warmup, "warmup", 5*time.Second, "the first part of -duration left out of the summary")
	genders := fs.String("genders", "male=1,female=1", "gender weights (male, female, nonbinary)")
	pools := fs.String("pools", "global", "comma-separated pools the users are spread over")
	fs.Float64Var(&o.cfg.Yes, "yes", 0.5, "probability a user votes yes")
	fs.DurationVar(&o.cfg.VoteDelay, "vote-delay", 0, "wait after match_found before voting")
	fs.DurationVar(&o.cfg.MatchTimeout, "match-timeout", 30*time.Second, "cancel a spin with no match_found after this long")
	fs.StringVar(&o.cfg.Secret, "secret", getenv("JWT_SECRET"), "HS256 secret to mint tokens with (default $JWT_SECRET); empty: use batch-setup")
	fs.StringVar(&o.cfg.TestKey, "test-key", getenv("TEST_API_KEY"), "x-test-api-key for batch-setup (default $TEST_API_KEY)")
	fs.IntVar(&o.cfg.Workers, "workers", 0, fmt.Sprintf("worker processes (0: one per %d users)", load.MaxPerWorker))
	sources := fs.String("sources", "", "local addresses to connect from, round robin: 127.0.0.1-127.0.0.8 or a comma list (empty: the system's choice)")
	fs.Float64Var(&o.cfg.ConnectRate, "connect-rate", 2000, "new connections a second while connecting")
	fs.DurationVar(&o.cfg.WaitReady, "wait", 0, "wait up to this long for every target's /readyz (0: ask once)")
	fs.StringVar(&o.cfg.RunID, "run-id", "", "names the users load-<run-id>-<n> (default: random, so no rematch cooldown carries over)")
	pids := fs.String("server-pid", "", "comma-separated server PIDs to measure CPU of (default: the local processes listening on the targets)")
	fs.StringVar(&o.opt.DBProcess, "db-process", "", "also measure the CPU of every process of this command name, for example postgres")
	fs.StringVar(&o.jsonPath, "json", "", "also write the summary as JSON to this file")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.DurationVar(&o.opt.ProgressEvery, "progress-every", 0, "how often the progress line is written (0: 1s on a terminal, 5s otherwise)")
	fs.DurationVar(&o.cfg.Idle, "idle", 0, "hold every user connected and idle this long before spinning, then report the server's RSS per user (with -duration 0: only that)")
	fs.DurationVar(&o.cfg.Interval, "interval", 0, "also report the measured part in rows this long (rates, p99, server RSS) and the last row against the first")
	fs.BoolVar(&o.failErrs, "fail-on-errors", false, "exit 1 when the run saw errors, timeouts or missed spins")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(usage, usageHead)
			fs.SetOutput(usage)
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.cfg.Targets = append(o.cfg.Targets, t)
		}
	}
	var err error
	if o.cfg.Genders, err = load.ParseGenders(*genders); err != nil {
		return nil, err
	}
	for _, p := range strings.Split(*pools, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.cfg.Pools = append(o.cfg.Pools, p)
		}
	}
	if o.cfg.Sources, err = load.ParseSources(*sources); err != nil {
		return nil, err
	}
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-server-pid: %q is not a process id", p)
		}
		o.opt.ServerPIDs = append(o.opt.ServerPIDs, n)
	}
	if o.cfg.RunID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.cfg.RunID = hex.EncodeToString(b)
	}
	if err := o.cfg.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}
