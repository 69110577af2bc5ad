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
// settled match costs at most 320 bytes of heap, its id included (284 in
// the record of 192 bytes, its map slot, the id and the per-user and
// order lists); with the whole persistence.Match in the record (five
// time.Time) and string votes it cost 412, and with a map of votes and a
// map of results beside the matches about 840.
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
		if _, err := s.CreateMatch(ctx, m); err != nil {
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
	if per > 320 {
		t.Fatalf("%.0f bytes a match, want at most 320", per)
	}
}

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestMatchTimesRoundTrip: a record keeps times as Unix nanoseconds; what
// comes back is the same instant (zero stays zero), and a match with a
// time a record cannot hold is refused whole, not stored wrong.
func TestMatchTimesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := New()
	at := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	m := persistence.Match{ID: "m1", Pool: "p", A: persistence.Participant{UserID: "a", DisplayName: "A", Gender: "female"},
		B: persistence.Participant{UserID: "b", DisplayName: "B", Gender: "male"}, CreatedAt: at, DateEndsAt: at.Add(time.Minute),
		VoteDeadline: at.Add(2 * time.Minute), WaitA: 3 * time.Second, WaitB: 4 * time.Second}
	if _, err := s.CreateMatch(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.ActiveMatch(ctx, "a", at)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.Pool != m.Pool || got.A != m.A || got.B != m.B || !got.CreatedAt.Equal(m.CreatedAt) ||
		!got.DateEndsAt.Equal(m.DateEndsAt) || !got.VoteDeadline.Equal(m.VoteDeadline) || got.WaitA != m.WaitA ||
		got.WaitB != m.WaitB || !got.PlaceA.IsZero() || !got.PlaceB.IsZero() {
		t.Fatalf("got %+v, want %+v", got, m)
	}
	far := m
	far.ID, far.A.UserID, far.B.UserID = "m2", "c", "d"
	far.VoteDeadline = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.CreateMatch(ctx, far); err == nil {
		t.Fatal("a vote deadline in the year 3000 was stored")
	}
	if _, err := s.ActiveMatch(ctx, "c", time.Time{}); err == nil {
		t.Fatal("the refused match claimed its partner")
	}
}
