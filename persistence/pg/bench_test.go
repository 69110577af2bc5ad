package pg_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/pg"
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
		if _, err := s.CreateMatch(ctx, m); err != nil {
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
		if _, err := s.CreateMatch(ctx, m); err != nil {
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

// BenchmarkDateWrites runs the store writes of whole dates from many
// goroutines at once, as a loaded node does: both partners' queue places,
// the match, both votes and the result (six writes, of which the four
// match writes are the "transactions" of a date). Each goroutine has its
// own pair of users. It reports dates/s and, from Stats, the writes per
// batch.
func BenchmarkDateWrites(b *testing.B) {
	for _, c := range []struct{ writers, flushers int }{{64, 1}, {512, 1}, {512, 2}, {512, 4}} {
		b.Run(fmt.Sprintf("writers=%d/flushers=%d", c.writers, c.flushers), func(b *testing.B) {
			writers := c.writers
			s := open(b, pgtest.NewDatabase(b)+fmt.Sprint("&commit_flushers=", c.flushers))
			ctx := b.Context()
			before, err := s.Stats(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ua, ub := fmt.Sprint("a", w), fmt.Sprint("b", w)
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if err := dateWrites(ctx, s, fmt.Sprint("m", i), ua, ub); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "dates/s")
			after, err := s.Stats(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n := after.Connections["commit_batches"] - before.Connections["commit_batches"]; n > 0 {
				b.ReportMetric(float64(after.Connections["commit_writes"]-before.Connections["commit_writes"])/float64(n), "writes/batch")
			}
		})
	}
}

// dateWrites is one date's writes between users a and b.
func dateWrites(ctx context.Context, s *pg.Store, id, a, b string) error {
	now := time.Now()
	for _, u := range []string{a, b} {
		if err := s.PutQueueEntry(ctx, persistence.QueueEntry{UserID: u, Pool: "bench", Gender: "x", EnqueuedAt: now}); err != nil {
			return err
		}
	}
	m := persistence.Match{ID: id, Pool: "bench", A: persistence.Participant{UserID: a}, B: persistence.Participant{UserID: b},
		CreatedAt: now, DateEndsAt: now.Add(time.Minute), VoteDeadline: now.Add(time.Minute), PlaceA: now, PlaceB: now}
	if _, err := s.CreateMatch(ctx, m); err != nil {
		return err
	}
	for _, u := range []string{a, b} {
		if _, err := s.RecordVote(ctx, id, u, persistence.ChoiceNo); err != nil {
			return err
		}
	}
	_, err := s.RecordResult(ctx, id, persistence.ResultNoMatch)
	return err
}
