package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/actors/pool/sim"
)

// options are the parsed flags.
type options struct {
	scenario string
	file     string
	quick    bool
	seed     uint64
	warmup   time.Duration
	check    bool
	jsonOut  string
	svgDir   string
	samples  string
	whatIf   bool
	list     bool
}

// usageError is bad input: printed as one line, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badFlag(name, format string, a ...any) error {
	return &usageError{"-" + name + ": " + fmt.Sprintf(format, a...)}
}

// parseFlags parses args; a bad flag is a *usageError naming it.
func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("spinsim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.scenario, "scenario", "all", "the scenario to run, or all (see -list)")
	fs.StringVar(&o.file, "scenario-file", "", "a JSON scenario file to run instead of the built-in matrix")
	fs.BoolVar(&o.quick, "quick", false, "run only the quick subset, shortened (what the test runs)")
	fs.Uint64Var(&o.seed, "seed", 1, "the random seed (same seed, same figures)")
	fs.DurationVar(&o.warmup, "warmup", 0, "judge only spins started after this long (0: each scenario's own)")
	fs.BoolVar(&o.check, "check", false, "exit 1 when any gender of any scenario misses a bar")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.svgDir, "svg", "", "write a calibration plot per scenario (NAME.svg) into this directory")
	fs.StringVar(&o.samples, "samples", "", "write every judged estimate (CSV, NAME.csv) into this directory, to study the errors")
	fs.BoolVar(&o.whatIf, "whatif", true, "check the pool's what-if model (one more run per eligible scenario)")
	fs.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, &usageError{fmt.Sprintf("unexpected argument %q (flags only)", fs.Arg(0))}
	}
	if o.warmup < 0 {
		return o, badFlag("warmup", "must be >= 0, not %v", o.warmup)
	}
	return o, nil
}

// scenarios returns the scenarios o selects, with the server's timings.
func scenarios(o options, ac actors.Config) ([]sim.Scenario, error) {
	var all []sim.Scenario
	if o.file != "" {
		f, err := os.Open(o.file)
		if err != nil {
			return nil, badFlag("scenario-file", "%v", err)
		}
		defer f.Close()
		if all, err = sim.ParseScenarios(f); err != nil {
			return nil, &usageError{fmt.Sprintf("-scenario-file %s: %v", o.file, err)}
		}
	} else {
		for _, s := range sim.Matrix() {
			s.Votes.DateLength, s.Votes.VoteWindow = ac.DateLength, ac.VoteWindow
			all = append(all, s)
		}
	}
	if o.quick {
		if all = sim.Quick(all); len(all) == 0 {
			return nil, badFlag("quick", "no scenario is marked quick")
		}
	}
	if o.scenario != "all" {
		s, ok := sim.Find(all, o.scenario)
		if !ok {
			return nil, badFlag("scenario", "no scenario named %q here (see -list)", o.scenario)
		}
		all = []sim.Scenario{s}
	}
	if o.warmup > 0 {
		for i := range all {
			if o.warmup >= all[i].Duration {
				return nil, badFlag("warmup", "%v is not shorter than scenario %s (%v)", o.warmup, all[i].Name, all[i].Duration)
			}
			all[i].Warmup = o.warmup
		}
	}
	return all, nil
}

// simConfig is the pool and grain configuration the server runs with.
func simConfig(ac actors.Config, seed uint64) sim.Config {
	return sim.Config{
		Pool:     pool.PoolConfig{Estimator: ac.Estimator, WaitUpdateMax: ac.WaitUpdateMax},
		Tick:     ac.WaitTick,
		Cooldown: ac.RematchCooldown,
		Seed:     seed,
	}
}

// evaluate runs s (and its what-if check when asked) and scores it.
func evaluate(s sim.Scenario, cfg sim.Config, whatIf bool, samples string) (*sim.Result, error) {
	var plan *sim.WhatIfPlan
	if whatIf {
		plan = sim.PlanWhatIf(s, sim.PoolWhatIf)
		cfg.Probe = plan.Probe
	}
	run := sim.Simulate(s, cfg)
	res := sim.NewResult(run)
	if samples != "" {
		if err := writeSamples(filepath.Join(samples, s.Name+".csv"), run); err != nil {
			return nil, err
		}
	}
	if plan != nil {
		var raised *sim.Run
		if plan.NeedsRaised() {
			cfg.Probe = nil
			raised = sim.Simulate(plan.Raised(), cfg)
		}
		res.SetWhatIf(plan.Finish(run, raised))
	}
	return res, nil
}

// writeSamples writes every judged sample of run as CSV: gender, phase,
// when told (s), place in line, p50, p90, the predecessor's, the oracle's
// (-1: none), confidence, the real remaining wait, the partner rates told
// and met, what the user sought ("female+male") and how long they had
// waited when told.
func writeSamples(path string, run *sim.Run) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "gender,phase,at,pos,p50,p90,pred,oracle,confidence,real,lambda,real_lambda,seeking,age")
	for _, gr := range run.ByGender {
		for _, ph := range []struct {
			name string
			ss   []sim.Sample
		}{{"first", gr.First}, {"update", gr.Update}} {
			for _, x := range ph.ss {
				fmt.Fprintf(w, "%s,%s,%.3f,%d,%.3f,%.3f,%.3f,%.3f,%s,%.3f,%.5f,%.5f,%s,%.3f\n", gr.Gender, ph.name, x.At, x.Pos, x.P50, x.P90, x.Pred, x.Oracle, x.Confidence, x.Real, x.Lambda, x.RealLambda, x.Seeking, x.Age)
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("samples %s: %w", path, err)
	}
	return f.Close()
}

// run is the command: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: spinsim [-scenario NAME|all] [-scenario-file FILE] [-quick] [-seed N] [-warmup D] [-check] [-json FILE] [-svg DIR] [-samples DIR] [-whatif=false] [-list]")
		return 0
	}
	ac := actors.DefaultConfig()
	var ss []sim.Scenario
	if err == nil {
		ss, err = scenarios(o, ac)
	}
	if err == nil && o.svgDir != "" {
		if mkErr := os.MkdirAll(o.svgDir, 0o755); mkErr != nil {
			err = badFlag("svg", "%v", mkErr)
		}
	}
	if err == nil && o.samples != "" {
		if mkErr := os.MkdirAll(o.samples, 0o755); mkErr != nil {
			err = badFlag("samples", "%v", mkErr)
		}
	}
	var jsonFile *os.File
	if err == nil && o.jsonOut != "" && !o.list {
		if jsonFile, err = os.Create(o.jsonOut); err != nil {
			err = badFlag("json", "%v", err)
		} else {
			defer jsonFile.Close()
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "spinsim: "+oneLine(err.Error()))
		return 2
	}
	if o.list {
		for _, s := range ss {
			fmt.Fprintf(stdout, "%s\t%s\n", s.Name, sim.Describe(s))
		}
		return 0
	}
	cfg := simConfig(ac, o.seed)
	var results []*sim.Result
	var failed []string
	for _, s := range ss {
		res, err := evaluate(s, cfg, o.whatIf, o.samples)
		if err != nil {
			fmt.Fprintln(stderr, "spinsim: "+oneLine(err.Error()))
			return 1
		}
		results = append(results, res)
		if err := sim.WriteTable(stdout, res); err != nil {
			fmt.Fprintln(stderr, "spinsim: "+oneLine(err.Error()))
			return 1
		}
		if o.svgDir != "" {
			if err := writeSVG(filepath.Join(o.svgDir, s.Name+".svg"), res); err != nil {
				fmt.Fprintln(stderr, "spinsim: "+oneLine(err.Error()))
				return 1
			}
		}
		if !res.Pass {
			failed = append(failed, res.Scenario)
		}
	}
	if jsonFile != nil {
		if err := writeJSON(jsonFile, results); err != nil {
			fmt.Fprintln(stderr, "spinsim: "+oneLine(err.Error()))
			return 1
		}
	}
	fmt.Fprintf(stdout, "spinsim: %d scenarios, %d pass every bar, %d miss one", len(results), len(results)-len(failed), len(failed))
	if len(failed) > 0 {
		fmt.Fprintf(stdout, ": %s", strings.Join(failed, ", "))
	}
	fmt.Fprintln(stdout)
	if o.check && len(failed) > 0 {
		return 1
	}
	return 0
}

func writeSVG(path string, res *sim.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("svg: %w", err)
	}
	if err := sim.WriteSVG(f, res); err != nil {
		f.Close()
		return fmt.Errorf("svg %s: %w", path, err)
	}
	return f.Close()
}

func writeJSON(f *os.File, results []*sim.Result) error {
	data, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("json %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("json %s: %w", f.Name(), err)
	}
	return nil
}

// oneLine keeps a message on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
