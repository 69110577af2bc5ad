package memory

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// TestBytesPerMatch: the store keeps up to DefaultMatchLimit matches, so
// what one costs is what a long load run's store grows to (100,000 of
// them, filled in about two minutes at 750 matches a second). A voted,
// settled match costs at most 600 bytes of heap, its id included; with a
// map of votes and a map of results beside the matches it cost about 840.
func TestBytesPerMatch(t *testing.T) {
	const n = 20_000
	ctx := context.Background()
	users := make([]string, 200)
	for i := range users {
		users[i] = fmt.Sprintf("load-run-%d", i)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i)
	}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	before := heapInUse()
	s := New()
	for i, id := range ids {
		a, b := users[(2*i)%len(users)], users[(2*i+1)%len(users)]
		at := t0.Add(time.Duration(i) * time.Millisecond)
		m := persistence.Match{ID: id, Pool: "global", A: persistence.Participant{UserID: a, Gender: "male"}, B: persistence.Participant{UserID: b, Gender: "female"},
			CreatedAt: at, DateEndsAt: at.Add(time.Second), VoteDeadline: at.Add(2 * time.Second)}
		if err := s.CreateMatch(ctx, m); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{a, b} {
			if _, err := s.RecordVote(ctx, id, v, string([]byte(persistence.ChoiceYes))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.RecordResult(ctx, id, string([]byte(persistence.ResultMutual))); err != nil {
			t.Fatal(err)
		}
	}
	per := float64(heapInUse()-before) / n
	runtime.KeepAlive(s)
	if st, err := s.Stats(ctx); err != nil || st.Rows["matches"] != n || st.Rows["votes"] != 2*n || st.Rows["match_results"] != n {
		t.Fatalf("stats %v %v", st.Rows, err)
	}
	t.Logf("%.0f bytes a match", per)
	if per > 600 {
		t.Fatalf("%.0f bytes a match, want at most 600", per)
	}
}

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
