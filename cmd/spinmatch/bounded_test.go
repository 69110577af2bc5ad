package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// call makes one REST call for a load test (safe from any goroutine: it
// returns errors instead of failing the test).
func call(client *http.Client, method, url, token string, body any) (int, frame, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var f frame
	_ = json.NewDecoder(res.Body).Decode(&f)
	return res.StatusCode, f, nil
}

// poolSeries counts the samples of the pool-labelled metric families and
// the distinct pool label values among them.
func poolSeries(t *testing.T, base string) (samples int, labels map[string]bool) {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	labels = map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "spinmatch_matches_formed_total{") && !strings.HasPrefix(line, "spinmatch_queue_wait_seconds") &&
			!strings.HasPrefix(line, "spinmatch_spin_to_match_seconds") {
			continue
		}
		i := strings.Index(line, `pool="`)
		if i < 0 {
			continue
		}
		samples++
		rest := line[i+len(`pool="`):]
		labels[rest[:strings.IndexByte(rest, '"')]] = true
	}
	return samples, labels
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestManyPoolsStayBounded: 2,000 users, each in a pool of their own (100
// of them with a partner, so matches are formed in 100 pools), spin and
// then cancel or leave. The pool-labelled metric series stay within the
// label bound (50 names plus "other"), the queue gauges of the pools are
// gone once the pools passivate, the public queue status and the
// active pool grains fall back once the pools are empty, and the heap
// after GC grows by less than the stated bound.
func TestManyPoolsStayBounded(t *testing.T) {
	const (
		users     = 2000
		paired    = 100 // pools that also get a partner (and form a match)
		workers   = 16
		heapBound = 48 << 20 // 2,100 profiles and live sessions (idle 1 min), audit lines, samples: about 22 MiB measured
	)
	cfg := testConfig(t)
	cfg.Actors.PoolIdle = time.Second
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	before := heapAfterGC()

	work := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := manyPoolsUser(client, base, i, i < paired); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	start := time.Now()
	for i := range users {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	t.Logf("%d users in %d pools: %v", users+paired, users, time.Since(start))

	samples, labels := poolSeries(t, base)
	if len(labels) > 51 || !labels["other"] || samples == 0 {
		t.Fatalf("%d pool-labelled samples with %d pool labels (%v), want at most 50 names plus other", samples, len(labels), labels)
	}
	// Every pool emptied: the queue status stops listing them a few
	// refresh periods later, then their grains passivate.
	waitFor(t, 30*time.Second, "the queue status to list only the default pool", func() bool {
		code, qs := rest(t, base, nil, "GET", "/api/queue/status", nil)
		pools, _ := qs["pools"].([]any)
		return code == 200 && len(pools) <= 1
	})
	waitFor(t, 30*time.Second, "the pool grains to passivate", func() bool {
		return metric(t, base, "spinmatch_pools_active") <= 1
	})
	// The queue gauges are reported by the active pools only: at most the
	// default pool's three (one per gender) remain.
	waitFor(t, 10*time.Second, "the passivated pools' queue gauges to go", func() bool {
		names, page := exported(t, base)
		return !names["spinmatch_queue_waiting"] || strings.Count(page, "\nspinmatch_queue_waiting{") <= 3
	})
	if s2, l2 := poolSeries(t, base); s2 != samples || len(l2) != len(labels) {
		t.Fatalf("pool series changed after the load: %d/%d, want %d/%d", s2, len(l2), samples, len(labels))
	}
	after := heapAfterGC()
	growth := int64(after) - int64(before)
	t.Logf("heap after GC: %d MiB before, %d MiB after (growth %d KiB per user)", before>>20, after>>20, growth/1024/(users+paired))
	if growth > heapBound {
		t.Fatalf("heap grew by %d MiB, want under %d MiB", growth>>20, heapBound>>20)
	}
}

// manyPoolsUser is one user of TestManyPoolsStayBounded: a profile in pool
// p<i>, a spin, and then a cancel (even i) or nothing (odd i: the place
// expires after the reconnect grace, as a user who leaves). With partner,
// a man joins the pool first, so the spin forms a match.
func manyPoolsUser(client *http.Client, base string, i int, partner bool) error {
	pool := fmt.Sprintf("p%d", i)
	token := func(id, gender string, seeking ...string) (string, error) {
		code, out, err := call(client, "POST", base+"/api/dev/token", "", map[string]any{
			"user_id": id, "display_name": id, "gender": gender, "seeking": seeking, "pool": pool})
		if err != nil || code != 200 {
			return "", fmt.Errorf("dev token %s: %d %v %v", id, code, out, err)
		}
		return out.str("token"), nil
	}
	tok, err := token(fmt.Sprintf("many-%d", i), "female", "male")
	if err != nil {
		return err
	}
	if partner {
		pt, err := token(fmt.Sprintf("many-%d-partner", i), "male", "female")
		if err != nil {
			return err
		}
		if code, out, err := call(client, "POST", base+"/api/spin", pt, nil); err != nil || code != 202 {
			return fmt.Errorf("partner spin in %s: %d %v %v", pool, code, out, err)
		}
	}
	code, out, err := call(client, "POST", base+"/api/spin", tok, nil)
	switch {
	case err != nil:
		return err
	case partner && (code != 200 || out.str("type") != "match_found"):
		return fmt.Errorf("spin in %s with a partner waiting: %d %v", pool, code, out)
	case !partner && code != 202:
		return fmt.Errorf("spin in %s: %d %v", pool, code, out)
	}
	if partner || i%2 == 1 {
		return nil
	}
	if code, out, err := call(client, "DELETE", base+"/api/spin", tok, nil); err != nil || code != 200 {
		return errors.Join(err, fmt.Errorf("cancel in %s: %d %v", pool, code, out))
	}
	return nil
}

// TestListedPoolsOnly: with SPIN_POOLS set, a profile naming another pool
// is refused with bad_request listing the allowed ones (PUT /api/me and
// /api/dev/token); a listed one is accepted, and an empty pool gets the
// first listed pool when the default is not listed.
func TestListedPoolsOnly(t *testing.T) {
	cfg := testConfig(t)
	if err := loadPools(func(k string) string {
		if k == "SPIN_POOLS" {
			return "eu,us"
		}
		return ""
	}, &cfg); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	profile := func(pool string) map[string]any {
		return map[string]any{"display_name": "Ana", "gender": "female", "seeking": []string{"male"}, "pool": pool}
	}
	code, out := rest(t, base, nil, "POST", "/api/dev/token", profile("asia"))
	if e := out.obj("error"); code != 400 || e.str("code") != "bad_request" || !strings.Contains(e.str("message"), "eu, us") {
		t.Fatalf("dev token in an unlisted pool: %d %v", code, out)
	}
	code, out = rest(t, base, nil, "POST", "/api/dev/token", profile(""))
	if code != 200 || out.obj("profile").str("pool") != "eu" {
		t.Fatalf("dev token without a pool: %d %v, want pool eu", code, out)
	}
	u := &user{id: out.str("user_id"), token: out.str("token"), name: "Ana", base: base}
	code, out = rest(t, base, u, "PUT", "/api/me", profile("global"))
	if e := out.obj("error"); code != 400 || e.str("code") != "bad_request" || !strings.Contains(e.str("message"), "eu, us") {
		t.Fatalf("PUT /api/me in an unlisted pool: %d %v", code, out)
	}
	code, out = rest(t, base, u, "PUT", "/api/me", profile("us"))
	if code != 200 || out.str("pool") != "us" {
		t.Fatalf("PUT /api/me in a listed pool: %d %v", code, out)
	}
	// The listed pools are always in the public queue status.
	_, qs := rest(t, base, nil, "GET", "/api/queue/status", nil)
	var names []string
	for _, x := range qs["pools"].([]any) {
		names = append(names, frame(x.(map[string]any)).str("pool"))
	}
	if strings.Join(names, ",") != "eu,us" {
		t.Fatalf("queue status pools %v, want eu and us", names)
	}
}
