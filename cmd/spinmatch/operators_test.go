package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The operators' files (docs/grafana, docs/prometheus), from this package.
var (
	dashboardFile = filepath.Join("..", "..", "docs", "grafana", "spinmatch.json")
	rulesFile     = filepath.Join("..", "..", "docs", "prometheus", "spinmatch-rules.yml")
)

// seriesName matches the metric names in a PromQL expression (loosely: any
// identifier with one of our exporters' prefixes).
var seriesName = regexp.MustCompile(`\b(?:spinmatch|go|process)_[A-Za-z0-9_]*[A-Za-z0-9]\b`)

// dashboardSeries returns the metric names the dashboard's queries name
// (panel targets and template variables).
func dashboardSeries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var exprs []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(c, k)
			}
		case []any:
			for _, c := range v {
				walk(c, key)
			}
		case string:
			if key == "expr" || key == "query" || key == "definition" {
				exprs = append(exprs, v)
			}
		}
	}
	walk(d, "")
	return namesIn(exprs)
}

// rulesSeries returns the metric names the rules file names outside its
// comments.
func rulesSeries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	return namesIn(lines)
}

func namesIn(texts []string) []string {
	var out []string
	for _, s := range texts {
		out = append(out, seriesName.FindAllString(s, -1)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// exported returns the sample names of a /metrics page, and the page.
func exported(t *testing.T, base string) (map[string]bool, string) {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	names := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names, string(b)
}

// has reports whether a name the operators' files use is exported: as a
// sample name, or as a histogram or summary whose _bucket, _sum or _count
// it names.
func has(names map[string]bool, name string) bool {
	if names[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && names[base+"_count"] {
			return true
		}
	}
	return false
}

// TestOperatorFilesNameLiveSeries: a real node gets a little traffic (a
// match, two votes, one man left waiting); every series the Grafana
// dashboard and the Prometheus rules name (the other issue-8 parts' too:
// alerts, the admin stream, the webhook) is then in its live /metrics, and
// the new series count what the traffic did.
func TestOperatorFilesNameLiveSeries(t *testing.T) {
	cfg := testConfig(t)
	cfg.Development = true
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	p := fmt.Sprintf("metrics-%d", userSeq.Add(1))

	d := matchPair(t, base, p, "Ada", "Bo")
	d.ca.send("vote", map[string]any{"match_id": d.mid, "choice": "yes"})
	d.ca.expect("vote_recorded")
	d.cb.send("vote", map[string]any{"match_id": d.mid, "choice": "yes"})
	d.cb.expect("vote_recorded")
	if r := d.ca.expect("match_result"); r.str("result") != "mutual" {
		t.Fatalf("match_result %v", r)
	}
	waiter := newUser(t, base, "Cy", "male", p, "female")
	cw, _ := waiter.dial(t)
	cw.spin()
	if code, _ := rest(t, base, waiter, "GET", "/api/me", nil); code != http.StatusOK {
		t.Fatalf("GET /api/me: %d", code)
	}
	waitFor(t, 10*time.Second, "the pool to report its waiter", func() bool {
		v, ok := readMetric(t, base, fmt.Sprintf(`spinmatch_queue_waiting{gender="male",pool=%q}`, p))
		return ok && v == 1
	})

	// The alerts' statistics (about once a second) feed the p90 gauge:
	// Bo's instant match and Cy's current wait.
	waitFor(t, 10*time.Second, "the pool to report Cy's p90 wait", func() bool {
		v, ok := readMetric(t, base, fmt.Sprintf(`spinmatch_queue_wait_p90_seconds{gender="male",pool=%q}`, p))
		return ok && v > 0
	})
	names, page := exported(t, base)
	dash, rules := dashboardSeries(t), rulesSeries(t)
	if len(dash) < 15 || len(rules) < 5 {
		t.Fatalf("the dashboard names %d series and the rules %d: the extraction found too few (%v / %v)", len(dash), len(rules), dash, rules)
	}
	for file, list := range map[string][]string{dashboardFile: dash, rulesFile: rules} {
		for _, name := range list {
			if !has(names, name) {
				t.Errorf("%s names %s, which the live /metrics does not export", file, name)
			}
		}
	}

	// The new series count what was done.
	for _, tc := range []struct {
		sample string
		want   func(float64) bool
		what   string
	}{
		{fmt.Sprintf(`spinmatch_spin_to_match_seconds_count{pool=%q}`, p), func(v float64) bool { return v == 2 }, "2 (both spinners)"},
		{fmt.Sprintf(`spinmatch_queue_oldest_wait_seconds{gender="female",pool=%q}`, p), func(v float64) bool { return v == 0 }, "0 (no woman waits)"},
		{fmt.Sprintf(`spinmatch_queue_imbalance_ratio{pool=%q}`, p), func(v float64) bool { return v == 1 }, "1 (one man waiting, women sought: 1/max(0,1))"},
		{`spinmatch_ws_command_seconds_count{type="vote"}`, func(v float64) bool { return v == 2 }, "2"},
		{`spinmatch_ws_command_seconds_count{type="spin"}`, func(v float64) bool { return v == 3 }, "3"},
		{`spinmatch_store_call_seconds_count{op="record_vote"}`, func(v float64) bool { return v >= 2 }, "at least 2"},
		{`spinmatch_store_call_seconds_count{op="create_match"}`, func(v float64) bool { return v >= 1 }, "at least 1"},
		{`spinmatch_grain_request_seconds_count{kind="MatchPool"}`, func(v float64) bool { return v >= 3 }, "at least 3 (three enqueues)"},
		{`spinmatch_http_request_seconds_count{class="rest_token"}`, func(v float64) bool { return v == 3 }, "3 (three dev tokens)"},
		{`spinmatch_http_request_seconds_count{class="rest_user"}`, func(v float64) bool { return v == 1 }, "1 (GET /api/me)"},
		{`spinmatch_http_request_seconds_count{class="page"}`, func(v float64) bool { return v == 0 }, "0 (the three socket upgrades are not measured)"},
		{`spinmatch_http_request_seconds_count{class="probe"}`, func(v float64) bool { return v >= 1 }, "at least 1 (the scrapes)"},
		{`spinmatch_cluster_members`, func(v float64) bool { return v == 1 }, "1"},
	} {
		v, ok := readMetric(t, base, tc.sample)
		if !ok || !tc.want(v) {
			t.Errorf("%s = %v (exported %v); want %s", tc.sample, v, ok, tc.what)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", page)
	}
}

// TestPromtoolCheckRules: promtool accepts the rules file. Without
// promtool the test skips, except under CI=true (make test installs it:
// make deps-promtool).
func TestPromtoolCheckRules(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is required under CI=true (make deps-promtool installs Debian's prometheus package)")
		}
		t.Skip("promtool not installed (make deps-promtool)")
	}
	out, err := exec.Command(bin, "check", "rules", rulesFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
}
