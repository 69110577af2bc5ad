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
// SPIN_LOAD_S the measured seconds (20, after 5 s of warm-up) and
// SPIN_LOAD_DB_PARAMS settings added to the database URL,
// SPIN_LOAD_PPROF a file for the server's CPU profile over the window, and
// SPIN_LOAD_RATE the offered spins/s (0, default: each user spins again as
// soon as their date ended, a closed loop that finds the ceiling). With
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
		dbURL := pgtest.NewDatabase(t)
		if extra := os.Getenv("SPIN_LOAD_DB_PARAMS"); extra != "" {
			dbURL += "&" + extra // e.g. pool_max_conns=8&commit_flushers=2
		}
		env = append(env, "DATABASE_URL="+dbURL)
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
	// With a rate, each user spins every users/rate seconds (the users
	// spread evenly over one interval): an open loop, as real users are.
	var every time.Duration
	if rate := envInt(t, "SPIN_LOAD_RATE", 0); rate > 0 {
		every = time.Duration(float64(users) / float64(rate) * float64(time.Second))
	}
	t0 := time.Now()
	for i, ws := range conns {
		wg.Add(1)
		first := t0
		if every > 0 {
			first = t0.Add(every * time.Duration(i) / time.Duration(users))
		}
		go func() {
			defer wg.Done()
			defer ws.Close()
			loadLoop(ws, stop, first, every, func(d time.Duration) {
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
	pgBefore, srvBefore, genBefore, allBefore := postgresCPU(t), procCPU(t, p.cmd.Process.Pid), selfCPU(), machineCPU()
	storeBefore, connsBefore := storeSeconds(t, p.base), dbConns(t, p.base)
	start := time.Now()
	measuring.Store(true)
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		if out := os.Getenv("SPIN_LOAD_PPROF"); out != "" {
			res, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", p.base, max(secs-2, 1)))
			if err != nil {
				t.Errorf("pprof: %v", err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if err := os.WriteFile(out, b, 0o644); err != nil {
				t.Errorf("pprof: %v", err)
			}
		}
	}()
	time.Sleep(time.Duration(secs) * time.Second)
	measuring.Store(false)
	wall := time.Since(start)
	pgCPU, srvCPU, genCPU := postgresCPU(t)-pgBefore, procCPU(t, p.cmd.Process.Pid)-srvBefore, selfCPU()-genBefore
	allCPU := machineCPU() - allBefore
	storeAfter, connsAfter := storeSeconds(t, p.base), dbConns(t, p.base)
	<-profiled
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
	t.Logf("CPU over the window: server %.1f s, generator %.1f s, postgres %.1f s, anything else %.1f s (of %.1f s wall × 2 cores)",
		srvCPU.Seconds(), genCPU.Seconds(), pgCPU.Seconds(), (allCPU - srvCPU - genCPU - pgCPU).Seconds(), wall.Seconds())
	var ops []string
	for op, after := range storeAfter {
		if d := after - storeBefore[op]; d > 0.001 {
			ops = append(ops, fmt.Sprintf("%s %.1fs", op, d))
		}
	}
	slices.Sort(ops)
	t.Logf("server time in store calls (summed over concurrent calls): %s", strings.Join(ops, ", "))
	if b := connsAfter["commit_batches"] - connsBefore["commit_batches"]; b > 0 {
		w := connsAfter["commit_writes"] - connsBefore["commit_writes"]
		us := func(k string) float64 { return float64(connsAfter[k]-connsBefore[k]) / 1000 / float64(b) }
		t.Logf("group commit: %d writes in %d batches (%.1f a batch, %.0f batches/s, %.1f ms a batch of which the commit %.1f ms), %d split, queue full %d",
			w, b, float64(w)/float64(b), float64(b)/wall.Seconds(), us("commit_batch_us"), us("commit_commit_us"),
			connsAfter["commit_splits"]-connsBefore["commit_splits"], connsAfter["commit_queue_full"]-connsBefore["commit_queue_full"])
	}
	if minRate := envInt(t, "SPIN_LOAD_MIN_SPINS", 0); rate < float64(minRate) {
		t.Errorf("spins/s = %.0f, want at least %d", rate, minRate)
	}
}

// loadLoop runs one user's spin, match, vote, result loop until stop.
// With every > 0 a spin starts at first and then every that long (at once
// when the previous date ran late).
func loadLoop(ws *websocket.Conn, stop chan struct{}, first time.Time, every time.Duration, matched func(time.Duration), failed func()) {
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
	next := first
	for id := 1; ; id += 2 {
		if every > 0 {
			timer := time.NewTimer(time.Until(next))
			select {
			case <-stop:
				timer.Stop()
				return
			case <-timer.C:
			}
			next = next.Add(every)
			if behind := time.Until(next); behind < -every {
				next = time.Now() // do not burst to catch up
			}
		}
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

// machineCPU returns the CPU time all processes spent, from /proc/stat
// (user, nice, system, irq, softirq, steal).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	var ticks int64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest
			continue
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick
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

// dbConns reads the connections part of /api/test/db-stats (empty for a
// store without one).
func dbConns(t *testing.T, base string) map[string]int64 {
	t.Helper()
	res, err := http.Get(base + "/api/test/db-stats")
	if err != nil {
		t.Fatalf("db-stats: %v", err)
	}
	defer res.Body.Close()
	var out struct {
		Connections map[string]int64 `json:"connections"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return out.Connections
}
