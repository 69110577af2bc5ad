package api

import (
	"context"
	"slices"
	"testing"
)

func TestApportion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		weights map[string]float64
		want    map[string]int
	}{
		{"even", 20, map[string]float64{"male": 1, "female": 1}, map[string]int{"male": 10, "female": 10}},
		{"two to one", 10, map[string]float64{"male": 2, "female": 1}, map[string]int{"male": 7, "female": 3}},
		{"thirds", 1000, map[string]float64{"male": 1, "female": 1, "nonbinary": 1}, map[string]int{"male": 334, "female": 333, "nonbinary": 333}},
		{"zero weight left out", 5, map[string]float64{"male": 0, "female": 3}, map[string]int{"female": 5}},
		{"one", 1, map[string]float64{"male": 1, "female": 1}, map[string]int{"male": 1}},
		{"tiny share", 3, map[string]float64{"male": 1000, "nonbinary": 1}, map[string]int{"male": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := apportion(tc.n, tc.weights)
			if len(got) != tc.n {
				t.Fatalf("%d genders, want %d", len(got), tc.n)
			}
			counts := map[string]int{}
			for _, g := range got {
				counts[g]++
			}
			for g, n := range tc.want {
				if counts[g] != n {
					t.Errorf("counts %v, want %v", counts, tc.want)
					break
				}
			}
			if len(counts) != len(tc.want) {
				t.Errorf("counts %v, want %v", counts, tc.want)
			}
		})
	}
	// Interleaved: at 1:1 no gender runs twice in a row.
	got := apportion(8, map[string]float64{"male": 1, "female": 1})
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("not interleaved: %v", got)
		}
	}
}

func TestParseBatch(t *testing.T) {
	r, e := parseBatch([]byte(`{"count": 3, "pool": "eu", "spin": true}`))
	if e != nil || r.count != 3 || r.pool != "eu" || !r.spin || r.genders["male"] != 1 || r.genders["female"] != 1 {
		t.Fatalf("parseBatch: %+v %v (genders default to 1:1)", r, e)
	}
	for _, in := range []string{`{}`, `{"count": 0}`, `{"count": 1001}`, `{"count": -1}`, `{"count": 2, "genders": {}}`,
		`{"count": 2, "genders": {"male": -1, "female": 2}}`, `{"count": 2, "genders": {"x": 1}}`,
		`{"count": 2, "genders": {"male": 1e308, "female": 1e308}}`} {
		if _, e := parseBatch([]byte(in)); e == nil {
			t.Errorf("%s: accepted", in)
		} else {
			typed(t, e, "bad_request")
		}
	}
	for _, in := range []string{``, `[]`, `{"count": 1.5}`, `{"count": "3"}`, `{"genders": {"male": "1"}}`} {
		if _, e := parseBatch([]byte(in)); e == nil {
			t.Errorf("%s: accepted", in)
		} else {
			typed(t, e, "invalid_message")
		}
	}
	if s := seekingOf("nonbinary"); !slices.Equal(s, []string{"male", "female", "nonbinary"}) {
		t.Errorf("nonbinary seeks %v", s)
	}
}

// FuzzParseBatch: any body gets a request within bounds or a typed error.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{`{"count": 20, "genders": {"male": 1, "female": 1}, "spin": true}`, `{"count": 1000, "genders": {"nonbinary": 0.001}}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, e := parseBatch(data)
		if e != nil {
			typed(t, e, "bad_request", "invalid_message", "message_too_large")
			return
		}
		if r.count < 1 || r.count > maxBatch {
			t.Fatalf("count %d accepted", r.count)
		}
		if got := apportion(r.count, r.genders); len(got) != r.count {
			t.Fatalf("apportion gave %d genders for %d", len(got), r.count)
		}
	})
}

// TestBatchWorkers: a batch whose caller hung up holds no worker, so the
// node's workers never leak.
func TestBatchWorkers(t *testing.T) {
	a := &API{batch: make(chan struct{}, 2)}
	if !a.takeBatchWorker(t.Context()) || !a.takeBatchWorker(t.Context()) {
		t.Fatal("free workers refused")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if a.takeBatchWorker(ctx) {
		t.Fatal("a worker beyond the bound")
	}
	<-a.batch
	if a.takeBatchWorker(ctx) || len(a.batch) != 1 {
		t.Fatalf("an ended call took a worker (%d held, want 1)", len(a.batch))
	}
}
