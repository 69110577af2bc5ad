package load

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// timedSock records when each message was written.
type timedSock struct {
	mu    sync.Mutex
	msgs  []string
	times []time.Time
}

func (s *timedSock) writeText(b []byte) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, string(b))
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	return nil
}
func (s *timedSock) shut(bool) {}

func TestVoteQueueSendsEachVoteAfterTheDelayInOrder(t *testing.T) {
	const delay = 40 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &worker{cfg: Config{Yes: 1, VoteDelay: delay}, votes: newVoteQueue(delay)}
	go w.votes.run(ctx)
	s := &timedSock{}
	var added []time.Time
	// Two bursts with a gap, so the queue empties and fills again.
	for i := range 6 {
		if i == 3 {
			time.Sleep(2 * delay)
		}
		u := &user{w: w, sock: s}
		added = append(added, time.Now())
		u.startVote(string(rune('a' + i)))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.msgs)
		s.mu.Unlock()
		if n == len(added) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d votes sent within 5 s", n, len(added))
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.msgs {
		if want := `"match_id":"` + string(rune('a'+i)) + `"`; !strings.Contains(m, want) {
			t.Fatalf("vote %d is %s, want %s: out of order", i, m, want)
		}
		if early := added[i].Add(delay).Sub(s.times[i]); early > 0 {
			t.Fatalf("vote %d sent %v before its delay was up", i, early)
		}
	}
	if w.stats.counts.Votes != uint64(len(added)) {
		t.Fatalf("%d votes counted, want %d", w.stats.counts.Votes, len(added))
	}
}
