package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/cmd/spinload/internal/load"
)

// runMainEnv makes the test binary act as spinload, so the tests run the
// real command (and its workers, which it starts from its own executable)
// as processes.
const runMainEnv = "SPINLOAD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" || os.Getenv(load.WorkerEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

const testSecret = "spinload-test-secret-0123456789"

func TestBadInputStopsWithOneLine(t *testing.T) {
	closed := closedPort(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined: -bogus"},
		{"bad number", []string{"-users", "many"}, "invalid value"},
		{"one user", []string{"-users", "1"}, "-users"},
		{"bad genders", []string{"-genders", "male"}, "-genders"},
		{"bad sources", []string{"-sources", "localhost"}, "-sources"},
		{"bad pid", []string{"-server-pid", "x"}, "-server-pid"},
		{"stray argument", []string{"now"}, "unexpected argument"},
		{"negative idle", []string{"-idle", "-1s"}, "-idle"},
		{"no duration, no idle", []string{"-duration", "0"}, "-duration"},
		{"negative interval", []string{"-interval", "-1m"}, "-interval"},
		{"unreachable", []string{"-target", closed, "-secret", "s", "-users", "4"}, "cannot reach " + closed},
		{"unreachable, batch tokens", []string{"-target", closed, "-users", "4"}, "cannot reach " + closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, func(string) string { return "" }, &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
			}
			if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("stderr %q, want one line with %q", stderr.String(), tc.want)
			}
		})
	}
}

// TestAgainstARealNode runs spinload as a process, with two worker
// processes, against a real spinmatch process for a few seconds.
func TestAgainstARealNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process: not in -short")
	}
	node := startNode(t)
	out := filepath.Join(t.TempDir(), "summary.json")
	res := spinload(t, "-target", node.base, "-secret", testSecret, "-users", "200", "-workers", "2",
		"-rate", "150", "-duration", "4s", "-warmup", "1s", "-yes", "1", "-progress-every", "1s", "-json", out,
		"-sources", "127.0.0.1-127.0.0.3")
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	sum := readSummary(t, out)
	c := sum.Counts
	if c.Spins < 300 || c.Found < 200 || c.Results < 200 || c.Mutual == 0 {
		t.Fatalf("too little happened in 3 s at 150 spins/s: %+v", c)
	}
	if sum.Errors != 0 || c.Timeouts != 0 || c.Missed != 0 {
		t.Fatalf("errors %d, timeouts %d, missed %d: %+v", sum.Errors, c.Timeouts, c.Missed, c)
	}
	if sum.SpinToQueued.Count == 0 || sum.SpinToQueued.P99 <= 0 || sum.SpinToMatch.P50 <= 0 {
		t.Fatalf("latencies: %+v %+v", sum.SpinToQueued, sum.SpinToMatch)
	}
	if len(sum.ServerPIDs) != 1 || sum.ServerPIDs[0] != node.cmd.Process.Pid || sum.ServerCPU <= 0 || sum.LoadCPU <= 0 {
		t.Fatalf("CPU split: pids %v (node %d), server %.2f s, load %.2f s", sum.ServerPIDs, node.cmd.Process.Pid, sum.ServerCPU, sum.LoadCPU)
	}
	if !strings.Contains(res.stdout, "spin → match_found") || !strings.Contains(res.stderr, "connected 200/200") {
		t.Fatalf("no summary table or progress line:\nstdout %s\nstderr %s", res.stdout, res.stderr)
	}
}

// TestIdleMemoryAndIntervals: -idle reads the server's RSS with every
// user connected and idle, -interval splits the run into rows with the
// server's RSS, and -duration 0 only measures the memory.
func TestIdleMemoryAndIntervals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process: not in -short")
	}
	node := startNode(t)
	out := filepath.Join(t.TempDir(), "summary.json")
	res := spinload(t, "-target", node.base, "-secret", testSecret, "-users", "300", "-idle", "2s",
		"-rate", "100", "-duration", "4500ms", "-warmup", "500ms", "-interval", "1s", "-quiet", "-json", out)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	sum := readSummary(t, out)
	m := sum.Memory
	if m == nil || m.Connected != 300 || m.RSSBeforeMiB <= 0 || m.RSSIdleMiB <= m.RSSBeforeMiB || m.PerUserKiB <= 0 || m.PerUserKiB > 1024 {
		t.Fatalf("memory %+v: want 300 connected and a server RSS that grew by (0, 1 MiB] per user", m)
	}
	if len(sum.Intervals) < 3 || sum.Drift == nil || sum.Drift.P99Ratio <= 0 || sum.Drift.RSSRatio <= 0 {
		t.Fatalf("intervals %+v drift %+v: want at least 3 one-second rows over 4 s", sum.Intervals, sum.Drift)
	}
	for _, iv := range sum.Intervals {
		if iv.SpinsPerS <= 0 || iv.RSSMiB <= 0 || iv.To-iv.From < 0.5 {
			t.Fatalf("interval %+v: no spins or no server RSS", iv)
		}
	}
	if sum.ServerRSSPeakMiB < m.RSSIdleMiB*0.5 || !strings.Contains(res.stdout, "KiB of server RSS per idle user") || !strings.Contains(res.stdout, "drift") {
		t.Fatalf("peak %.1f MiB; stdout:\n%s", sum.ServerRSSPeakMiB, res.stdout)
	}

	res = spinload(t, "-target", node.base, "-secret", testSecret, "-users", "100", "-idle", "1s", "-duration", "0", "-quiet", "-json", out)
	if res.code != 0 {
		t.Fatalf("memory only: exit %d; stderr:\n%s", res.code, res.stderr)
	}
	if sum = readSummary(t, out); sum.Memory == nil || sum.Memory.Connected != 100 || sum.Counts.Spins != 0 {
		t.Fatalf("memory only: memory %+v, spins %d", sum.Memory, sum.Counts.Spins)
	}
}

func readSummary(t *testing.T, path string) load.Summary {
	t.Helper()
	var sum load.Summary
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary JSON: %v %s", err, b)
	}
	return sum
}

func TestBatchTokensFromARealNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process: not in -short")
	}
	node := startNode(t)
	res := spinload(t, "-target", node.base, "-users", "40", "-rate", "40", "-duration", "2s", "-warmup", "0s", "-quiet", "-fail-on-errors")
	if res.code != 0 || !strings.Contains(res.stdout, "spin → match_found") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
}

func TestRefusedTokenStopsEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process: not in -short")
	}
	node := startNode(t)
	start := time.Now()
	res := spinload(t, "-target", node.base, "-secret", "not-the-secret", "-users", "50", "-duration", "30s")
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if res.code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "refused a minted token (401") {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %v to stop", time.Since(start))
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// spinload runs the command as its own process (this test binary).
func spinload(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "JWT_SECRET=", "TEST_API_KEY=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

var (
	buildOnce sync.Once
	serverBin string
	buildErr  error
	buildDir  string
)

// spinmatchBinary builds cmd/spinmatch once per test binary.
func spinmatchBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "spinload-test-")
		if buildErr != nil {
			return
		}
		serverBin = filepath.Join(buildDir, "spinmatch")
		out, err := exec.Command("go", "build", "-o", serverBin, "github.com/spinmatch/spinmatch/cmd/spinmatch").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return serverBin
}

type node struct {
	cmd  *exec.Cmd
	base string
	logs *bytes.Buffer
}

// startNode starts a development node with the embedded store and waits
// until it is ready.
func startNode(t *testing.T) *node {
	t.Helper()
	bin := spinmatchBinary(t)
	port := freePort(t)
	n := &node{base: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &bytes.Buffer{}}
	n.cmd = exec.Command(bin)
	n.cmd.Env = append(os.Environ(), "SPIN_ENV=development", "JWT_SECRET="+testSecret,
		fmt.Sprintf("SPIN_ADDR=127.0.0.1:%d", port), "SPIN_CLUSTER_BIND=127.0.0.1:0",
		fmt.Sprintf("SPIN_NODE_NAME=spinload-%d", port), "SPIN_LOG_LEVEL=warn",
		"SPIN_LIMIT_EXEMPT=127.0.0.0/8", "DATABASE_URL=")
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
		if t.Failed() {
			t.Logf("node logs:\n%s", n.logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(n.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not ready after 30 s; logs:\n%s", n.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort is a base URL where nothing listens.
func closedPort(t *testing.T) string {
	return fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
}

func TestServerGoneStopsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process: not in -short")
	}
	node := startNode(t)
	cmd := exec.Command(os.Args[0], "-target", node.base, "-secret", testSecret, "-users", "60", "-rate", "30", "-duration", "60s", "-warmup", "0s", "-progress-every", "200ms")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	// Kill the node once the run is under way.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "connected 60/60") {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not start; stderr %q", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = node.cmd.Process.Kill()
	killed := time.Now()
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; stderr %q", err, stderr.String())
	}
	if time.Since(killed) > 15*time.Second {
		t.Fatalf("took %v after the server died", time.Since(killed))
	}
	last := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if !strings.Contains(last[len(last)-1], "every socket was closed") {
		t.Fatalf("last line %q", last[len(last)-1])
	}
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
