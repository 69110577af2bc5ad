package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/pool/sim"
)

// TestQuickBars runs the quick scenarios against the real pool with the
// server's configuration and holds every gender to the bars of issue 9.
func TestQuickBars(t *testing.T) {
	ac := actors.DefaultConfig()
	ss, err := scenarios(options{scenario: "all", quick: true}, ac)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) < 3 {
		t.Fatalf("%d quick scenarios", len(ss))
	}
	for _, s := range ss {
		t.Run(s.Name, func(t *testing.T) {
			res, err := evaluate(s, simConfig(ac, 1), true, "")
			if err != nil {
				t.Fatal(err)
			}
			var table bytes.Buffer
			if err := sim.WriteTable(&table, res); err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Rows {
				if r.Phase == sim.PhaseFirst && r.Verdict.Judged == false && r.N > 0 {
					t.Errorf("%s first: %d matched users, not judged", r.GenderName, r.N)
				}
			}
			if !res.Pass {
				t.Errorf("bars missed:\n%s", table.String())
			}
			for _, c := range res.Confidence {
				if c.Confidence == "high" && c.MedianRelError >= 0.25 {
					t.Errorf("high confidence, yet the median error is %.0f%% of the wait (must be under 25%%)", 100*c.MedianRelError)
				}
			}
		})
	}
}

// TestServerConfig checks the simulator drives the pool as the server does.
func TestServerConfig(t *testing.T) {
	ac := actors.DefaultConfig()
	cfg := simConfig(ac, 1)
	if cfg.Tick != ac.WaitTick || cfg.Tick != time.Second || cfg.Pool.WaitUpdateMax != 5*time.Second ||
		cfg.Cooldown != ac.RematchCooldown || cfg.Pool.Estimator != ac.Estimator {
		t.Fatalf("config %+v, server %+v", cfg, ac)
	}
	ss, err := scenarios(options{scenario: "all"}, ac)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Votes.DateLength != ac.DateLength || s.Votes.VoteWindow != ac.VoteWindow {
			t.Fatalf("%s: votes %+v, server date %v, vote window %v", s.Name, s.Votes, ac.DateLength, ac.VoteWindow)
		}
	}
}

// TestBadInput checks that each bad flag or scenario file stops the
// command with status 2 and exactly one line naming the flag or field.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badMean := write("bad-mean.json", `{"scenarios": [{"name": "x", "rate_per_s": 1, "classes": [{"gender": "male", "weight": 1}], "patience": {"dist": "exponential", "mean_s": -5}}]}`)
	unknown := write("unknown.json", `{"scenarios": [{"name": "x", "rate": 1}]}`)
	broken := write("broken.json", `{"scenarios": [`)
	aFile := write("file", "")
	for _, c := range []struct {
		name string
		args []string
		want string // in the line
	}{
		{"unknown flag", []string{"-colour", "red"}, "-colour"},
		{"bad seed", []string{"-seed", "minus-one"}, "-seed"},
		{"bad warmup", []string{"-warmup", "ten"}, "-warmup"},
		{"negative warmup", []string{"-warmup", "-5s"}, "-warmup"},
		{"warmup too long", []string{"-warmup", "10h", "-scenario", "3to1-exp-45s"}, "-warmup"},
		{"bad bool", []string{"-check=maybe"}, "-check"},
		{"no such scenario", []string{"-scenario", "2to1"}, "-scenario"},
		{"stray argument", []string{"-check", "now"}, `"now"`},
		{"missing file", []string{"-scenario-file", filepath.Join(dir, "none.json")}, "-scenario-file"},
		{"bad field", []string{"-scenario-file", badMean}, "scenarios[0].patience.mean_s"},
		{"unknown field", []string{"-scenario-file", unknown}, `scenarios[0].rate`},
		{"broken file", []string{"-scenario-file", broken}, "scenarios"},
		{"svg dir is a file", []string{"-svg", aFile, "-scenario", "3to1-exp-45s"}, "-svg"},
		{"json in no dir", []string{"-json", filepath.Join(dir, "no", "such", "x.json"), "-scenario", "3to1-exp-45s"}, "-json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			line := strings.TrimSuffix(errb.String(), "\n")
			if code != 2 || strings.Contains(line, "\n") || !strings.HasPrefix(line, "spinsim: ") || !strings.Contains(line, c.want) || out.Len() != 0 {
				t.Fatalf("status %d, stderr %q, stdout %q; want 2 and one line naming %s", code, errb.String(), out.String(), c.want)
			}
		})
	}
}

// TestProcess runs the command as a process (this test binary re-run as
// spinsim): a bad flag gives one line and status 2, and a good run of a
// scenario file writes the table, the JSON and the plot.
func TestProcess(t *testing.T) {
	self := func(args ...string) (string, string, int) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "SPINSIM_AS_MAIN=1")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if _, errs, code := self("-seed", "x"); code != 2 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "-seed") {
		t.Fatalf("bad seed: status %d, stderr %q", code, errs)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "s.json")
	body := `{"scenarios": [{"name": "tiny", "rate_per_s": 2, "classes": [{"gender": "male", "weight": 2}, {"gender": "female", "weight": 1}],
	  "patience": {"dist": "exponential", "mean_s": 30}, "warmup_s": 120, "duration_s": 600}]}`
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonOut, svgDir := filepath.Join(dir, "out.json"), filepath.Join(dir, "svg")
	out, errs, code := self("-scenario-file", file, "-json", jsonOut, "-svg", svgDir)
	if code != 0 || errs != "" || !strings.Contains(out, "== tiny:") || !strings.Contains(out, "men") {
		t.Fatalf("status %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	var results []sim.Result
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &results); err != nil || len(results) != 1 || results[0].Scenario != "tiny" || len(results[0].Rows) == 0 {
		t.Fatalf("json: %v, %s", err, data)
	}
	if svg, err := os.ReadFile(filepath.Join(svgDir, "tiny.svg")); err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Fatalf("svg: %v", err)
	}
	// -samples writes every judged estimate, one CSV line each.
	samples := filepath.Join(dir, "samples")
	if _, errs, code := self("-scenario-file", file, "-whatif=false", "-samples", samples); code != 0 || errs != "" {
		t.Fatalf("-samples: status %d, stderr %q", code, errs)
	}
	csv, err := os.ReadFile(filepath.Join(samples, "tiny.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if lines[0] != "gender,phase,at,pos,p50,p90,pred,oracle,confidence,real,lambda,real_lambda,seeking,age" || len(lines) < 10 || !strings.HasPrefix(lines[1], "male,first,") {
		t.Fatalf("samples CSV: %d lines, starting %q", len(lines), lines[:min(len(lines), 2)])
	}
	// -check turns a missed bar into status 1; with the same seed the
	// figures, and so the status, are the same every time.
	out2, _, code2 := self("-scenario-file", file, "-check")
	if out2 != out {
		t.Fatalf("the same seed printed different tables:\n%s\n%s", out, out2)
	}
	if wantFail := !results[0].Pass; wantFail != (code2 == 1) {
		t.Fatalf("-check status %d, but pass = %v", code2, results[0].Pass)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("SPINSIM_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
