package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// runMainEnv makes the test binary act as the spinmatch binary, so tests
// can start real server processes without a separate build.
const runMainEnv = "SPINMATCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	if os.Getenv(memClientEnv) == "1" {
		os.Exit(memClientMain())
	}
	os.Exit(m.Run())
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a spinmatch server running as its own OS process.
type process struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	base string
}

func startProcess(t *testing.T, env ...string) *process {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runMainEnv+"=1",
		fmt.Sprintf("SPIN_ADDR=127.0.0.1:%d", port),
		"SPIN_CLUSTER_BIND=127.0.0.1:0",
		fmt.Sprintf("SPIN_NODE_NAME=proc-%d", port),
		"SPIN_LOG_LEVEL=warn",
		"SPIN_LIMIT_EXEMPT=127.0.0.1/32") // the test clients: a load generator
	cmd.Env = append(cmd.Env, env...)
	p := &process{cmd: cmd, logs: &bytes.Buffer{}, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start process: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	waitFor(t, 30*time.Second, "process ready", func() bool {
		res, err := http.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("process exited with %v; logs:\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not stop on SIGTERM; logs:\n%s", p.logs)
	}
}

// TestProcessRestartKeepsRecords runs the real binary as an OS process
// against PostgreSQL, stops it with SIGTERM, starts a new process on the
// same database, and checks the history and the profile are served.
func TestProcessRestartKeepsRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL test: not in -short")
	}
	env := []string{"SPIN_ENV=development", "DATABASE_URL=" + pgtest.NewDatabase(t), "JWT_SECRET=" + testSecret, "SPIN_DATE_S=30", "SPIN_VOTE_S=5"}
	p1 := startProcess(t, env...)
	d := matchPair(t, p1.base, "restart", "Rae", "Rex")
	for _, c := range []*client{d.ca, d.cb} {
		c.send("vote", map[string]any{"match_id": d.mid, "choice": "yes"})
		c.expect("vote_recorded")
	}
	d.ca.expect("match_result")
	p1.stop(t)

	p2 := startProcess(t, env...)
	d.a.base = p2.base
	code, hist := rest(t, p2.base, d.a, "GET", "/api/matches", nil)
	list, _ := hist["matches"].([]any)
	if code != 200 || len(list) != 1 || frame(list[0].(map[string]any)).str("match_id") != d.mid {
		t.Fatalf("history from the new process: %d %v", code, hist)
	}
	code, me := rest(t, p2.base, d.a, "GET", "/api/me", nil)
	if code != 200 || me.str("display_name") != "Rae" || me.str("pool") != "restart" {
		t.Fatalf("profile from the new process: %d %v", code, me)
	}
	p2.stop(t)
}

// TestProductionIsTheDefault starts the real binary with a secret but no
// SPIN_ENV: it is in production, so nobody can mint a token through
// /api/dev/token.
func TestProductionIsTheDefault(t *testing.T) {
	p := startProcess(t, "SPIN_ENV=", "JWT_SECRET="+testSecret, "SPIN_CLUSTER_KEY="+devClusterKey)
	body := []byte(`{"user_id":"mallory","display_name":"M","gender":"male","seeking":["female"]}`)
	res, err := http.Post(p.base+"/api/dev/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("/api/dev/token with SPIN_ENV unset: %d, want 404", res.StatusCode)
	}
	p.stop(t)
}
