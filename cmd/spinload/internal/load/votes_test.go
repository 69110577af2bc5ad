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
			waitSent(t, s, 3) // the queue has emptied
		}
		u := &user{w: w, sock: s}
		added = append(added, time.Now())
		u.startVote(string(rune('a' + i)))
	}
	waitSent(t, s, len(added))
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

// waitSent polls until s holds n messages, failing after 5 s.
func waitSent(t *testing.T, s *timedSock, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.msgs)
		s.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d votes sent within 5 s", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
