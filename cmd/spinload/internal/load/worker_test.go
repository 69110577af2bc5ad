package load

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeServer speaks the user socket's protocol, scripted: the first spin
// of each socket fails with unavailable although the server "made" the
// match anyway (status then says matched), later spins are matched at once.
type fakeServer struct {
	mu    sync.Mutex
	votes map[string]string // match id → choice, guarded by mu
}

func (s *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/readyz", "/api/me":
		w.WriteHeader(http.StatusOK)
		return
	case "/ws":
	default:
		http.NotFound(w, r)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
		return
	}
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	send := func(v map[string]any) { _ = c.WriteJSON(v) }
	send(map[string]any{"type": "state", "state": "idle"})
	id := fmt.Sprintf("%p", c)
	spins := 0
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			return
		}
		switch m["type"] {
		case "spin":
			spins++
			if spins == 1 {
				send(map[string]any{"type": "error", "code": "unavailable"})
				continue
			}
			mid := fmt.Sprintf("%s-%d", id, spins)
			send(map[string]any{"type": "queued", "queue": map[string]any{"position": 1}})
			send(map[string]any{"type": "match_found", "match_id": mid})
		case "status":
			send(map[string]any{"type": "state", "state": "matched", "match": map[string]any{"match_id": id + "-1"}})
		case "vote":
			mid, _ := m["match_id"].(string)
			s.mu.Lock()
			s.votes[mid], _ = m["choice"].(string)
			s.mu.Unlock()
			send(map[string]any{"type": "vote_recorded", "match_id": mid})
			send(map[string]any{"type": "match_result", "match_id": mid, "result": "mutual"})
		}
	}
}

func TestWorkerFollowsTheStateAfterAFailedSpin(t *testing.T) {
	t.Run("raw sockets", func(t *testing.T) { // gorilla ones too where rawSupported is false
		t.Setenv(RawEnv, "1")
		testWorkerFollowsTheStateAfterAFailedSpin(t)
	})
	t.Run("gorilla sockets", func(t *testing.T) {
		t.Setenv(RawEnv, "0")
		testWorkerFollowsTheStateAfterAFailedSpin(t)
	})
}

func testWorkerFollowsTheStateAfterAFailedSpin(t *testing.T) {
	fs := &fakeServer{votes: map[string]string{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	cfg := Config{Targets: []string{srv.URL}, Users: 2, Rate: 20, Duration: 1500 * time.Millisecond, Yes: 1, Secret: "s", RunID: "t"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(WorkerSpec{Config: cfg, Lo: 0, Hi: 2, Rate: 20})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- RunWorker(context.Background(), inR, outW); outW.Close() }()
	go func() { _, _ = io.WriteString(inW, string(spec)+"\n") }()

	var total Counts
	lines := bufio.NewScanner(outR)
	for lines.Scan() {
		var r Report
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("report %q: %v", lines.Text(), err)
		}
		switch r.Kind {
		case "fatal":
			t.Fatalf("fatal: %s", r.Message)
		case "ready":
			_, _ = io.WriteString(inW, "start\n")
		case "stats":
			total.Add(r.Counts)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	resynced := 0
	for mid, choice := range fs.votes {
		if strings.HasSuffix(mid, "-1") {
			resynced++
		}
		if choice != "yes" {
			t.Errorf("vote on %s: %q with -yes 1", mid, choice)
		}
	}
	if resynced != 2 {
		t.Fatalf("the matches made behind a failed spin were voted on %d times, want 2 (votes %v)", resynced, fs.votes)
	}
	if total.Errors["unavailable"] != 2 || total.Drops != 0 || total.Found < 2 || total.Results < 4 {
		t.Fatalf("counts %+v", total)
	}
}
