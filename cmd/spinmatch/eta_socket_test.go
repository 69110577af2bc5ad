package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/actors/pool/sim"
)

// etaSpin is what one user of the socket scenario saw.
type etaSpin struct {
	gender   pool.Gender
	start    time.Time     // when spin was sent
	patience time.Duration // gives up (cancel) after this
	first    sim.Sample    // the queued estimate (Real filled in at the match)
	updates  []struct {
		at       time.Time
		p50, p90 float64
		pred     float64
	}
	matchedAt time.Time // zero when the user gave up
	gaveUp    bool
}

// etaHistory is the matched waits seen so far, for the predecessor's
// estimator (the mean matched wait of the same gender over the last 5
// minutes).
type etaHistory struct {
	mu    sync.Mutex
	waits []struct {
		at   time.Time
		g    pool.Gender
		wait float64
	}
}

func (h *etaHistory) add(at time.Time, g pool.Gender, wait float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.waits = append(h.waits, struct {
		at   time.Time
		g    pool.Gender
		wait float64
	}{at, g, wait})
}

func (h *etaHistory) predecessor(at time.Time, g pool.Gender) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var sum float64
	n := 0
	for _, w := range h.waits {
		if w.g == g && at.Sub(w.at) < 5*time.Minute && !w.at.After(at) {
			sum += w.wait
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// TestETABarsOverRealSockets runs one scenario of the simulator's kind
// against a real node process over real WebSockets, on the wall clock:
// Poisson arrivals of 3 men to 1 woman, 8 a second for 60 seconds (the
// first 10 not judged), each giving up after an exponential patience of 4 s on average (cancel) or
// voting no when matched. The estimates pushed (queued, then wait_update)
// are scored with the simulator's bars (sim.Judge), beside the
// predecessor's estimator on the same users.
func TestETABarsOverRealSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60-second run against a real process")
	}
	const (
		rate     = 8.0 // arrivals per second
		men      = 0.75
		duration = 60 * time.Second
		warmUp   = 10 * time.Second
		patience = 4 * time.Second
	)
	proc := startProcess(t, "SPIN_ENV=development", "SPIN_DATE_S=1", "SPIN_VOTE_S=1", "SPIN_REMATCH_COOLDOWN_S=0")
	rng := rand.New(rand.NewPCG(9, 9))

	// Profiles and tokens first, so that a spin is sent at its arrival time.
	type planned struct {
		spin  *etaSpin
		token string
		at    time.Duration
	}
	var plan []planned
	for at := time.Duration(0); ; {
		at += time.Duration(rng.ExpFloat64() / rate * float64(time.Second))
		if at >= duration {
			break
		}
		g, seek := "male", "female"
		if rng.Float64() >= men {
			g, seek = "female", "male"
		}
		gg, _ := pool.ParseGender(g)
		pat := time.Duration(rng.ExpFloat64() * float64(patience))
		plan = append(plan, planned{spin: &etaSpin{gender: gg, patience: pat}, token: devToken(t, proc.base, g, seek), at: at})
	}

	hist := &etaHistory{}
	var wg sync.WaitGroup
	begin := time.Now()
	for _, p := range plan {
		time.Sleep(time.Until(begin.Add(p.at)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			runETASpin(t, proc.base, p.token, p.spin, hist)
		}()
	}
	wg.Wait()

	run := &sim.Run{}
	for i, g := range pool.Genders {
		run.ByGender[i].Gender = g
	}
	for _, p := range plan {
		s := p.spin
		if p.at < warmUp || s.start.IsZero() {
			continue
		}
		gr := &run.ByGender[s.gender-1]
		if s.gaveUp {
			gr.GaveUp++
			if s.first.P50 < s.patience.Seconds() {
				gr.GaveUpToldShorter++
			}
			if s.first.Pred < s.patience.Seconds() {
				gr.GaveUpPredShorter++
			}
			continue
		}
		if s.matchedAt.IsZero() {
			continue
		}
		// A wait under 50 ms is a pair formed at once (told 0 s), not one
		// judged late by a socket's few milliseconds.
		first := s.first
		first.Real = wireSeconds(s.matchedAt.Sub(s.start))
		gr.First = append(gr.First, first)
		for _, u := range s.updates {
			gr.Update = append(gr.Update, sim.Sample{P50: u.p50, P90: u.p90, Pred: u.pred, Real: wireSeconds(s.matchedAt.Sub(u.at))})
		}
	}
	rows := sim.Score(run)
	var report strings.Builder
	failed := false
	for _, r := range rows {
		fmt.Fprintf(&report, "%-9s %-6s n=%-4d median wait %5.1fs  <=p50 %3.0f%%  <=p90 %3.0f%%  within 25%% %3.0f%%  error %4.1fs (predecessor %4.1fs)  gave up %d (told shorter %d)  %s %s\n",
			r.GenderName, r.Phase, r.N, r.MedianWait, 100*r.LE50, 100*r.LE90, 100*r.Within25, r.MAE, r.PredMAE, r.GaveUp, r.GaveUpToldShorter, r.Verdict, strings.Join(r.Verdict.Failures, "; "))
		failed = failed || !r.Verdict.Pass
	}
	t.Logf("over real sockets:\n%s", report.String())
	judged := 0
	for _, r := range rows {
		if r.Verdict.Judged {
			judged++
		}
	}
	if judged < 3 {
		t.Errorf("only %d rows judged; the scenario did not produce enough matched users", judged)
	}
	if failed {
		t.Errorf("the estimates miss the bars over real sockets")
	}
}

// wireSeconds is d in seconds, a wait under 50 ms (the sockets' own
// latency) counting as none.
func wireSeconds(d time.Duration) float64 {
	if d < 50*time.Millisecond {
		return 0
	}
	return d.Seconds()
}

// devToken creates a development profile and returns its token.
func devToken(t *testing.T, base, gender, seeking string) string {
	t.Helper()
	id := fmt.Sprintf("eta%d", userSeq.Add(1))
	body, _ := json.Marshal(map[string]any{"user_id": id, "display_name": id, "gender": gender, "seeking": []string{seeking}, "pool": "eta"})
	res, err := http.Post(base+"/api/dev/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("dev token: %v", err)
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("dev token: %d %v", res.StatusCode, err)
	}
	return out.Token
}

// runETASpin connects, spins, records what it is told, and either is
// matched (votes no) or cancels when its patience runs out.
func runETASpin(t *testing.T, base, token string, s *etaSpin, hist *etaHistory) {
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(base), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Errorf("dial: %v", err)
		return
	}
	defer ws.Close()
	frames := make(chan frame, 64)
	go func() {
		defer close(frames)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var f frame
			if json.Unmarshal(data, &f) == nil {
				frames <- f
			}
		}
	}()
	if f := <-frames; f.str("type") != "state" {
		t.Errorf("first frame %v, want state", f)
		return
	}
	s.start = time.Now()
	if err := ws.WriteJSON(map[string]any{"type": "spin", "id": 1}); err != nil {
		t.Errorf("spin: %v", err)
		return
	}
	giveUp := time.NewTimer(s.patience)
	defer giveUp.Stop()
	deadline := time.After(s.patience + 30*time.Second)
	queued := false
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Errorf("socket closed while waiting")
				return
			}
			now := time.Now()
			switch f.str("type") {
			case "queued":
				eta := f.obj("eta")
				s.first = sim.Sample{P50: eta.num("p50_s"), P90: eta.num("p90_s"), Pred: hist.predecessor(s.start, s.gender)}
				queued = true
			case "wait_update":
				eta := f.obj("eta")
				elapsed := now.Sub(s.start).Seconds()
				s.updates = append(s.updates, struct {
					at       time.Time
					p50, p90 float64
					pred     float64
				}{now, eta.num("p50_s"), eta.num("p90_s"), math.Max(hist.predecessor(now, s.gender)-elapsed, 0)})
			case "match_found":
				if !queued {
					t.Errorf("match_found before queued")
				}
				s.matchedAt = now
				hist.add(now, s.gender, now.Sub(s.start).Seconds())
				_ = ws.WriteJSON(map[string]any{"type": "vote", "id": 2, "match_id": f.str("match_id"), "choice": "no"})
				return
			case "error":
				t.Errorf("error frame: %v", f)
				return
			}
		case <-giveUp.C:
			if s.matchedAt.IsZero() {
				s.gaveUp = true
				_ = ws.WriteJSON(map[string]any{"type": "cancel", "id": 3})
				// A match may have been made as the cancel left: it counts
				// as a match (the server paired them first).
				until := time.After(5 * time.Second)
				for {
					select {
					case f, ok := <-frames:
						if !ok {
							return
						}
						switch f.str("type") {
						case "cancelled":
							return
						case "match_found":
							s.gaveUp, s.matchedAt = false, time.Now()
							hist.add(s.matchedAt, s.gender, s.matchedAt.Sub(s.start).Seconds())
							return
						}
					case <-until:
						t.Errorf("no answer to cancel")
						return
					}
				}
			}
		case <-deadline:
			t.Errorf("no match and no cancel within the patience")
			return
		}
	}
}
