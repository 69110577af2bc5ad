package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// TestStoreLoad drives a spinmatch server process with a loop of users
// over real WebSockets (this test process is the load generator): each
// user spins, waits for match_found, votes no, waits for the result and
// spins again. It reports spins/s, spin → match_found p50/p99, and the
// CPU seconds of the server, of this generator and of PostgreSQL's
// processes over the measured window, with the server's time in store
// calls by operation.
//
// It runs only with SPIN_LOAD=1 (a heavy run: under flock). SPIN_LOAD_STORE
// is pg (default) or memory, SPIN_LOAD_USERS the users (2000) and
// SPIN_LOAD_S the measured seconds (20, after 5 s of warm-up). With
// SPIN_LOAD_MIN_SPINS set, a lower rate fails the test.
func TestStoreLoad(t *testing.T) {
	if os.Getenv("SPIN_LOAD") != "1" {
		t.Skip("load run: set SPIN_LOAD=1 (and run it under flock)")
	}
	users := envInt(t, "SPIN_LOAD_USERS", 2000)
	secs := envInt(t, "SPIN_LOAD_S", 20)
	env := []string{"SPIN_ENV=development", "JWT_SECRET=" + testSecret, "SPIN_REMATCH_COOLDOWN_S=0",
		"SPIN_DATE_S=60", "SPIN_VOTE_S=60", "SPIN_LOG_LEVEL=error",
		"SPIN_LIMIT_SPIN_USER=off", "SPIN_LIMIT_VOTE_USER=off", "SPIN_LIMIT_COMMAND_USER=off", "SPIN_LIMIT_UPGRADE_USER=off"}
	store := os.Getenv("SPIN_LOAD_STORE")
	if store == "" || store == "pg" {
		store = "pg"
		env = append(env, "DATABASE_URL="+pgtest.NewDatabase(t))
	}
	p := startProcess(t, env...)

	var (
		spins, errs atomic.Int64
		measuring   atomic.Bool
		mu          sync.Mutex
		lat         []time.Duration
		stop        = make(chan struct{})
		wg          sync.WaitGroup
	)
	conns := make([]*websocket.Conn, users)
	for i := range users {
		g, seek := "female", "male"
		if i%2 == 1 {
			g, seek = "male", "female"
		}
		u := newUser(t, p.base, fmt.Sprint("L", i), g, "load", seek)
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(p.base), http.Header{"Authorization": {"Bearer " + u.token}})
		if err != nil {
			t.Fatalf("dial user %d: %v", i, err)
		}
		conns[i] = ws
	}
	for _, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ws.Close()
			loadLoop(ws, stop, func(d time.Duration) {
				if !measuring.Load() {
					return
				}
				spins.Add(1)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}, func() { errs.Add(1) })
		}()
	}
	time.Sleep(5 * time.Second) // warm-up, then a measured window of fixed length
	pgBefore, srvBefore, genBefore := postgresCPU(t), procCPU(t, p.cmd.Process.Pid), selfCPU()
	storeBefore := storeSeconds(t, p.base)
	start := time.Now()
	measuring.Store(true)
	time.Sleep(time.Duration(secs) * time.Second)
	measuring.Store(false)
	wall := time.Since(start)
	pgCPU, srvCPU, genCPU := postgresCPU(t)-pgBefore, procCPU(t, p.cmd.Process.Pid)-srvBefore, selfCPU()-genBefore
	storeAfter := storeSeconds(t, p.base)
	close(stop)
	for _, ws := range conns {
		_ = ws.SetReadDeadline(time.Now())
	}
	wg.Wait()

	mu.Lock()
	slices.Sort(lat)
	q := func(f float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(f*float64(len(lat)-1))]
	}
	rate := float64(spins.Load()) / wall.Seconds()
	t.Logf("store=%s users=%d window=%v spins=%d spins/s=%.0f p50=%v p99=%v max=%v errors=%d",
		store, users, wall.Round(time.Millisecond), spins.Load(), rate, q(0.5), q(0.99), q(1), errs.Load())
	mu.Unlock()
	t.Logf("CPU over the window: server %.1f s, generator %.1f s, postgres %.1f s (of %.1f s wall × 2 cores)",
		srvCPU.Seconds(), genCPU.Seconds(), pgCPU.Seconds(), wall.Seconds())
	var ops []string
	for op, after := range storeAfter {
		if d := after - storeBefore[op]; d > 0.001 {
			ops = append(ops, fmt.Sprintf("%s %.1fs", op, d))
		}
	}
	slices.Sort(ops)
	t.Logf("server time in store calls (summed over concurrent calls): %s", strings.Join(ops, ", "))
	if minRate := envInt(t, "SPIN_LOAD_MIN_SPINS", 0); rate < float64(minRate) {
		t.Errorf("spins/s = %.0f, want at least %d", rate, minRate)
	}
}

// loadLoop runs one user's spin, match, vote, result loop until stop.
func loadLoop(ws *websocket.Conn, stop chan struct{}, matched func(time.Duration), failed func()) {
	var f struct {
		Type    string `json:"type"`
		MatchID string `json:"match_id"`
	}
	read := func(want ...string) bool {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return false
			}
			f.Type, f.MatchID = "", ""
			if json.Unmarshal(data, &f) != nil {
				continue
			}
			if f.Type == "error" {
				failed()
			}
			if slices.Contains(want, f.Type) {
				return true
			}
		}
	}
	if !read("state") {
		return
	}
	for id := 1; ; id += 2 {
		select {
		case <-stop:
			return
		default:
		}
		t0 := time.Now()
		if ws.WriteJSON(map[string]any{"type": "spin", "id": id}) != nil || !read("match_found") {
			return
		}
		matched(time.Since(t0))
		if ws.WriteJSON(map[string]any{"type": "vote", "id": id + 1, "match_id": f.MatchID, "choice": "no"}) != nil ||
			!read("match_result") {
			return
		}
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// clockTick is the kernel's clock tick (USER_HZ) of /proc/*/stat.
const clockTick = 100

// procCPU returns the user+system CPU time of process pid.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick
}

// postgresCPU sums procCPU over the processes named postgres.
func postgresCPU(t *testing.T) time.Duration {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var sum time.Duration
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		sum += procCPU(t, pid)
	}
	return sum
}

// selfCPU returns this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// storeSeconds reads spinmatch_store_call_seconds_sum by op from /metrics.
func storeSeconds(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, `spinmatch_store_call_seconds_sum{op="`)
		if !ok {
			continue
		}
		op, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		f, _ := strconv.ParseFloat(val, 64)
		out[op] = f
	}
	return out
}
