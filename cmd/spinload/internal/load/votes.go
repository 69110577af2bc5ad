package load

import (
	"context"
	"sync"
	"time"
)

// voteQueue sends the votes that wait for the vote delay, with one
// goroutine and one timer for all of them rather than a timer and a
// goroutine per vote. The delay is the same for every vote, so the queue
// is in the order the votes fall due.
type voteQueue struct {
	delay time.Duration // static
	wake  chan struct{} // told when the queue fills from empty

	mu sync.Mutex
	q  []pendingVote // guarded by mu
}

type pendingVote struct {
	at      time.Time
	u       *user
	matchID string
}

func newVoteQueue(delay time.Duration) *voteQueue {
	return &voteQueue{delay: delay, wake: make(chan struct{}, 1)}
}

// add queues u's vote on matchID for the delay from now.
func (v *voteQueue) add(u *user, matchID string) {
	v.mu.Lock()
	v.q = append(v.q, pendingVote{time.Now().Add(v.delay), u, matchID})
	first := len(v.q) == 1
	v.mu.Unlock()
	if first {
		select {
		case v.wake <- struct{}{}:
		default:
		}
	}
}

// run sends each vote when it falls due, until ctx ends.
func (v *voteQueue) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []pendingVote
	for {
		v.mu.Lock()
		now := time.Now()
		n := 0
		for n < len(v.q) && !v.q[n].at.After(now) {
			n++
		}
		due = append(due[:0], v.q[:n]...)
		clear(v.q[:n])
		v.q = v.q[n:] // append copies only the rest when it grows
		wait := time.Duration(-1)
		if len(v.q) > 0 {
			wait = v.q[0].at.Sub(now)
		}
		v.mu.Unlock()
		for i := range due {
			due[i].u.vote(due[i].matchID)
			due[i] = pendingVote{}
		}
		if wait < 0 {
			select {
			case <-v.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
