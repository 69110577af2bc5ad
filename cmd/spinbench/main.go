// Command spinbench holds the measured figures of a `make bench` run
// against the performance budgets (docs/budgets.json): it reads the output
// of `go test -bench` and the JSON summaries of spinload runs, prints one
// row a budget (limit, measured, verdict) and exits 1 when a budget is
// missed, or was not measured and is not optional.
//
//	spinbench -budgets docs/budgets.json -bench bench.txt -load embedded=load.json -load idle=idle.json
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// loads is the repeatable -load name=path flag.
type loads map[string]string

func (l loads) String() string { return fmt.Sprint(map[string]string(l)) }

func (l loads) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("%q is not name=path", v)
	}
	l[name] = path
	return nil
}

// run is main with its outputs passed in: 0 when every budget is met, 1
// when one is missed, 2 on bad input (one line on stderr).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("spinbench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	budgetsPath := fs.String("budgets", "docs/budgets.json", "the budgets file")
	benchPath := fs.String("bench", "", "output of go test -bench (empty: no benchmark figures)")
	ls := loads{}
	fs.Var(ls, "load", "name=path of a spinload -json summary, for the budgets of that run (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: spinbench -budgets FILE [-bench FILE] [-load name=FILE]...")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "spinbench: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "spinbench: unexpected argument %q (flags only)\n", fs.Arg(0))
		return 2
	}
	file, err := readBudgets(*budgetsPath)
	if err != nil {
		fmt.Fprintf(stderr, "spinbench: %v\n", err)
		return 2
	}
	in := inputs{loads: map[string]map[string]any{}}
	if *benchPath != "" {
		if in.bench, err = readBench(*benchPath); err != nil {
			fmt.Fprintf(stderr, "spinbench: -bench: %v\n", err)
			return 2
		}
	}
	for name, path := range ls {
		if in.loads[name], err = readLoad(path); err != nil {
			fmt.Fprintf(stderr, "spinbench: -load %s: %v\n", name, err)
			return 2
		}
	}
	rows := judge(file, in)
	printRows(stdout, file, rows)
	for _, r := range rows {
		if r.verdict == missed || (r.verdict == notMeasured && !r.b.Optional) {
			return 1
		}
	}
	return 0
}
