package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchOut = `goos: linux
BenchmarkSnapshot-2                  	     500	   2100000 ns/op	  862000 B/op	    7302 allocs/op
BenchmarkSnapshot-2                  	     500	   1900000 ns/op	  862000 B/op	    7302 allocs/op
BenchmarkSnapshot-2                  	     500	   9000000 ns/op	  862000 B/op	    7302 allocs/op
BenchmarkPoolEvents/status/waiters=1000-2   	 1000000	      1000 ns/op
BenchmarkPoolEvents/status/waiters=100000-2 	 1000000	      1500 ns/op
BenchmarkPoolEvents/tick/waiters=1000-2     	    1000	   100000 ns/op	  10.0 ns/waiter
BenchmarkPoolEvents/tick/waiters=100000-2   	      10	 10000000 ns/op	  30.0 ns/waiter
PASS
`

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseBench(t *testing.T) {
	res, err := parseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if got := median(res["BenchmarkSnapshot"]["ns/op"]); got != 2100000 {
		t.Fatalf("median of three runs %v, want 2100000", got)
	}
	if got := res["BenchmarkPoolEvents/tick/waiters=100000"]["ns/waiter"]; len(got) != 1 || got[0] != 30 {
		t.Fatalf("reported metric %v", got)
	}
	if _, err := parseBench(strings.NewReader("PASS\n")); err == nil {
		t.Fatal("no results is an error")
	}
}

// TestVerdicts: met, missed, not measured and optional, a ratio of two
// runs, and the worst event of a flat budget by its per-waiter figure.
func TestVerdicts(t *testing.T) {
	budgets := write(t, "budgets.json", `{"machine": "test box", "budgets": [
		{"name": "rate", "from": "load", "run": "a", "path": "spins_per_s", "min": 10000, "shown": "spins/s"},
		{"name": "p99", "from": "load", "run": "a", "path": "spin_to_match_found.p99_ms", "max": 50, "shown": "ms"},
		{"name": "snapshot", "from": "bench", "benchmark": "BenchmarkSnapshot", "unit": "ns/op", "scale": 1e-6, "max": 5, "shown": "ms"},
		{"name": "flat", "from": "flat", "benchmark": "BenchmarkPoolEvents/", "small": "waiters=1000", "large": "waiters=100000", "max": 2, "shown": "x"},
		{"name": "ratio", "from": "load", "run": "a", "over": "b", "path": "server_cpu_ms_per_spin", "max": 1.5, "shown": "x"},
		{"name": "long", "from": "load", "run": "long", "path": "drift.p99_ratio", "max": 1.5, "shown": "x", "optional": true}
	]}`)
	a := write(t, "a.json", `{"spins_per_s": 9000, "spin_to_match_found": {"p99_ms": 12.5}, "server_cpu_ms_per_spin": 0.3}`)
	b := write(t, "b.json", `{"server_cpu_ms_per_spin": 0.25}`)
	bench := write(t, "bench.txt", benchOut)
	var out, errb bytes.Buffer
	code := run([]string{"-budgets", budgets, "-bench", bench, "-load", "a=" + a, "-load", "b=" + b}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (rate and flat missed)\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"rate  ", "9,000 spins/s", "MISSED",
		"12.5 ms", "2.10 ms", // the snapshot's median, scaled
		"3.00 x (tick/)", // ns/waiter beats ns/op; the worst event is named
		"1.20 x",         // 0.3 over 0.25
		"not run (optional)",
		"MISSED 2 of 6: rate; flat",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "NOT MEASURED") {
		t.Fatalf("every required budget was measured:\n%s", out.String())
	}

	// Without the load runs, the required budgets are not measured: exit 1.
	out.Reset()
	if code := run([]string{"-budgets", budgets, "-bench", bench}, &out, &errb); code != 1 || !strings.Contains(out.String(), "NOT MEASURED 3 of 6") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

func TestBadInputOneLine(t *testing.T) {
	good := write(t, "good.json", `{"machine": "m", "budgets": [{"name": "x", "from": "bench", "benchmark": "B", "unit": "ns/op", "max": 1, "shown": "ns"}]}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "-nope"},
		{"missing file", []string{"-budgets", "/nonexistent.json"}, "nonexistent"},
		{"unknown field", []string{"-budgets", write(t, "u.json", `{"machine": "m", "budgets": [{"name": "x", "limit": 3}]}`)}, `unknown field "limit"`},
		{"both limits", []string{"-budgets", write(t, "b.json", `{"machine": "m", "budgets": [{"name": "x", "from": "bench", "benchmark": "B", "unit": "u", "max": 1, "min": 0}]}`)}, "max or min"},
		{"bad source", []string{"-budgets", write(t, "s.json", `{"machine": "m", "budgets": [{"name": "x", "from": "guess", "max": 1}]}`)}, `from "guess"`},
		{"bad load flag", []string{"-budgets", good, "-load", "nopath"}, "name=path"},
		{"empty bench", []string{"-budgets", good, "-bench", write(t, "e.txt", "PASS\n")}, "no benchmark results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("stderr %q, want one line with %q", errb.String(), tc.want)
			}
		})
	}
}
