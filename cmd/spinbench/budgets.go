package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// File is the budgets file: the machine its figures hold for, and the
// budgets.
type File struct {
	Machine string   `json:"machine"`
	Budgets []Budget `json:"budgets"`
}

// Budget is one figure with its limit. From says where the figure comes
// from:
//   - "load": Path (dotted, e.g. spin_to_match_found.p99_ms) in the
//     summary of the spinload run named Run; with Over, divided by the
//     same Path in the run named Over (a ratio of two runs);
//   - "bench": Benchmark's Unit (ns/op, B/op or a reported metric), the
//     median over its runs;
//   - "flat": for every benchmark under Benchmark (a prefix) whose name
//     holds Large, its figure over the one with Small in its place (the
//     first of ns/event, ns/waiter and ns/op it reports); the worst ratio.
//
// The figure is multiplied by Scale (when set) and must be at most Max, or
// at least Min.
type Budget struct {
	Name      string   `json:"name"`
	From      string   `json:"from"`
	Run       string   `json:"run,omitempty"`
	Over      string   `json:"over,omitempty"`
	Path      string   `json:"path,omitempty"`
	Benchmark string   `json:"benchmark,omitempty"`
	Unit      string   `json:"unit,omitempty"`
	Small     string   `json:"small,omitempty"`
	Large     string   `json:"large,omitempty"`
	Scale     float64  `json:"scale,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	Min       *float64 `json:"min,omitempty"`
	Shown     string   `json:"shown"`              // the unit the figure is shown in
	Optional  bool     `json:"optional,omitempty"` // measured by a longer target; not measured is not a miss
	Note      string   `json:"note,omitempty"`
}

func readBudgets(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Budgets) == 0 {
		return nil, fmt.Errorf("%s: no budgets", path)
	}
	for i, b := range f.Budgets {
		where := fmt.Sprintf("%s: budget %d (%q)", path, i+1, b.Name)
		switch {
		case b.Name == "":
			return nil, fmt.Errorf("%s: no name", where)
		case (b.Max == nil) == (b.Min == nil):
			return nil, fmt.Errorf("%s: give max or min, not both or neither", where)
		case b.From == "load" && (b.Run == "" || b.Path == ""):
			return nil, fmt.Errorf("%s: a load budget needs run and path", where)
		case b.From == "bench" && (b.Benchmark == "" || b.Unit == ""):
			return nil, fmt.Errorf("%s: a bench budget needs benchmark and unit", where)
		case b.From == "flat" && (b.Benchmark == "" || b.Small == "" || b.Large == ""):
			return nil, fmt.Errorf("%s: a flat budget needs benchmark, small and large", where)
		case b.From != "load" && b.From != "bench" && b.From != "flat":
			return nil, fmt.Errorf("%s: from %q is not load, bench or flat", where, b.From)
		}
	}
	return &f, nil
}

// Results are one benchmark's figures by unit, one value a run.
type results map[string][]float64

// readBench parses go test -bench output: "BenchmarkX/sub-2  100  12 ns/op  3 B/op ...".
// The -N GOMAXPROCS suffix is dropped from the names.
func readBench(path string) (map[string]results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseBench(f)
}

func parseBench(r io.Reader) (map[string]results, error) {
	out := map[string]results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || !strings.HasPrefix(fs[0], "Benchmark") || len(fs)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseUint(fs[1], 10, 64); err != nil {
			continue
		}
		name := fs[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		res := out[name]
		if res == nil {
			res = results{}
			out[name] = res
		}
		for i := 2; i+1 < len(fs); i += 2 {
			v, err := strconv.ParseFloat(fs[i], 64)
			if err != nil {
				continue
			}
			res[fs[i+1]] = append(res[fs[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no benchmark results in it")
	}
	return out, nil
}

func readLoad(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

type inputs struct {
	bench map[string]results
	loads map[string]map[string]any
}

type verdict int

const (
	met verdict = iota
	missed
	notMeasured
)

type row struct {
	b       Budget
	value   float64
	detail  string // which benchmark, for a flat budget
	verdict verdict
}

func judge(f *File, in inputs) []row {
	rows := make([]row, 0, len(f.Budgets))
	for _, b := range f.Budgets {
		r := row{b: b, verdict: notMeasured}
		v, detail, ok := figure(b, in)
		if ok {
			if b.Scale != 0 {
				v *= b.Scale
			}
			r.value, r.detail, r.verdict = v, detail, met
			if (b.Max != nil && v > *b.Max) || (b.Min != nil && v < *b.Min) {
				r.verdict = missed
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func figure(b Budget, in inputs) (float64, string, bool) {
	switch b.From {
	case "load":
		m := in.loads[b.Run]
		if m == nil {
			return 0, "", false
		}
		v, ok := lookup(m, b.Path)
		if !ok || b.Over == "" {
			return v, "", ok
		}
		d, ok := lookup(in.loads[b.Over], b.Path)
		if !ok || d == 0 {
			return 0, "", false
		}
		return v / d, "", true
	case "bench":
		res := in.bench[b.Benchmark]
		if res == nil || len(res[b.Unit]) == 0 {
			return 0, "", false
		}
		return median(res[b.Unit]), "", true
	default: // flat
		worst, which, any := 0.0, "", false
		names := make([]string, 0, len(in.bench))
		for name := range in.bench {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !strings.HasPrefix(name, b.Benchmark) || !strings.HasSuffix(name, b.Large) {
				continue
			}
			small := in.bench[strings.TrimSuffix(name, b.Large)+b.Small]
			large := in.bench[name]
			if small == nil {
				continue
			}
			for _, unit := range []string{"ns/event", "ns/waiter", "ns/op"} {
				if len(large[unit]) == 0 || len(small[unit]) == 0 {
					continue
				}
				if s := median(small[unit]); s > 0 {
					ratio := median(large[unit]) / s
					if !any || ratio > worst {
						worst, which, any = ratio, strings.TrimPrefix(strings.TrimSuffix(name, b.Large), b.Benchmark), true
					}
				}
				break
			}
		}
		return worst, which, any
	}
}

// lookup finds a dotted path's number in a decoded JSON object.
func lookup(m map[string]any, path string) (float64, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0, false
		}
		if cur, ok = obj[k]; !ok {
			return 0, false
		}
	}
	v, ok := cur.(float64)
	return v, ok
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func printRows(w io.Writer, f *File, rows []row) {
	fmt.Fprintf(w, "performance budgets (%s)\n\n", f.Machine)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "budget\tlimit\tmeasured\tverdict")
	var missedNames, unmeasured []string
	for _, r := range rows {
		limit := ""
		if r.b.Max != nil {
			limit = "≤ " + exact(*r.b.Max) + " " + r.b.Shown
		} else {
			limit = "≥ " + exact(*r.b.Min) + " " + r.b.Shown
		}
		measured, v := "-", ""
		switch r.verdict {
		case met:
			measured, v = num(r.value)+" "+r.b.Shown, "ok"
		case missed:
			measured, v = num(r.value)+" "+r.b.Shown, "MISSED"
			missedNames = append(missedNames, r.b.Name)
		case notMeasured:
			v = "NOT MEASURED"
			if r.b.Optional {
				v = "not run (optional)"
			} else {
				unmeasured = append(unmeasured, r.b.Name)
			}
		}
		if r.detail != "" {
			measured += " (" + r.detail + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.b.Name, limit, measured, v)
	}
	tw.Flush()
	fmt.Fprintln(w)
	switch {
	case len(missedNames) == 0 && len(unmeasured) == 0:
		fmt.Fprintf(w, "every budget met (%d)\n", len(rows))
	default:
		if len(missedNames) > 0 {
			fmt.Fprintf(w, "MISSED %d of %d: %s\n", len(missedNames), len(rows), strings.Join(missedNames, "; "))
		}
		if len(unmeasured) > 0 {
			fmt.Fprintf(w, "NOT MEASURED %d of %d: %s\n", len(unmeasured), len(rows), strings.Join(unmeasured, "; "))
		}
	}
}

// exact formats a limit as written, thousands grouped.
func exact(v float64) string {
	if math.Abs(v) >= 1000 {
		return grouped(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// grouped formats a whole number with thousands separators.
func grouped(v float64) string {
	s := strconv.FormatFloat(math.Round(math.Abs(v)), 'f', 0, 64)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// num formats a figure with about three significant digits, thousands grouped.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return grouped(v)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
