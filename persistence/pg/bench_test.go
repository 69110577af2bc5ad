package pg_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

func BenchmarkRecordVote(b *testing.B) {
	s := open(b, pgtest.NewDatabase(b))
	ctx := b.Context()
	const matches = 256
	ids := make([]string, matches)
	for i := range matches {
		ids[i] = fmt.Sprint("m", i)
		m := persistence.Match{ID: ids[i], A: persistence.Participant{UserID: "a"}, B: persistence.Participant{UserID: "b"},
			CreatedAt: time.Now(), DateEndsAt: time.Now(), VoteDeadline: time.Now()}
		if err := s.CreateMatch(ctx, m); err != nil {
			b.Fatal(err)
		}
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

func BenchmarkRecordVoteParallel(b *testing.B) {
	s := open(b, pgtest.NewDatabase(b))
	ctx := b.Context()
	const matches = 256
	ids := make([]string, matches)
	for i := range matches {
		ids[i] = fmt.Sprint("m", i)
		m := persistence.Match{ID: ids[i], A: persistence.Participant{UserID: "a"}, B: persistence.Participant{UserID: "b"},
			CreatedAt: time.Now(), DateEndsAt: time.Now(), VoteDeadline: time.Now()}
		if err := s.CreateMatch(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.RecordVote(ctx, ids[i%matches], "b", persistence.ChoiceNo); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
