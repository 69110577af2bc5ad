package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

func BenchmarkRecordVote(b *testing.B) {
	s := memory.New()
	ctx := b.Context()
	const matches = 1024
	for i := range matches {
		m := persistence.Match{ID: fmt.Sprint("m", i), A: persistence.Participant{UserID: "a"}, B: persistence.Participant{UserID: "b"}, CreatedAt: time.Now()}
		if _, err := s.CreateMatch(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, matches)
	for i := range ids {
		ids[i] = fmt.Sprint("m", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.RecordVote(ctx, ids[i%matches], "a", persistence.ChoiceYes); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMatchHistory(b *testing.B) {
	s := memory.New()
	ctx := b.Context()
	t0 := time.Now()
	for i := range 1000 {
		id := fmt.Sprint("m", i)
		m := persistence.Match{ID: id, A: persistence.Participant{UserID: "me"}, B: persistence.Participant{UserID: fmt.Sprint("p", i)}, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if _, err := s.CreateMatch(ctx, m); err != nil {
			b.Fatal(err)
		}
		if _, err := s.RecordResult(ctx, id, persistence.ResultMutual); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if h, err := s.MatchHistory(ctx, "me", 20); err != nil || len(h) != 20 {
			b.Fatal(len(h), err)
		}
	}
}
