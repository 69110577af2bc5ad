package ws

import (
	"sync"
	"time"

	"github.com/spinmatch/spinmatch/actors/gopool"
)

// flusher starts the writers of the node's sockets that have something
// to write, once per tick, instead of at once: the frames a socket is
// sent within a tick go out in one write. A write system call per frame
// was a fifth of a node's CPU at 3,000 spins/s (spinmatch_ws_writes_total
// against spinmatch_ws_frames_out_total read 1.14 frames a write),
// because a socket's frames (a spin's queued and match_found, a vote's
// vote_recorded and match_result) are a few grain hops apart, less than
// a millisecond, and each found an idle socket. Its goroutine runs only
// while sockets wait. Safe for concurrent use.
type flusher struct {
	tick time.Duration // static

	mu      sync.Mutex
	due     []*conn // guarded by mu: sockets whose writer is to start
	spare   []*conn // guarded by mu: the previous tick's slice, for reuse
	running bool    // guarded by mu: the goroutine runs
}

// newFlusher returns a flusher that starts writers every tick.
func newFlusher(tick time.Duration) *flusher { return &flusher{tick: tick} }

// add has c's writer started at the next tick. The caller has set
// c.writing, so c is added at most once until its writer ends.
func (f *flusher) add(c *conn) {
	f.mu.Lock()
	f.due = append(f.due, c)
	if !f.running {
		f.running = true
		go f.run()
	}
	f.mu.Unlock()
}

// run starts the due writers every tick until a tick finds none.
func (f *flusher) run() {
	t := time.NewTicker(f.tick)
	defer t.Stop()
	for range t.C {
		f.mu.Lock()
		due := f.due
		if len(due) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.due, f.spare = f.spare[:0], nil
		f.mu.Unlock()
		for i, c := range due {
			gopool.Go(c.writeLoop)
			due[i] = nil
		}
		f.mu.Lock()
		if f.spare == nil && cap(due) <= maxSpareFlush {
			f.spare = due[:0]
		}
		f.mu.Unlock()
	}
}

// maxSpareFlush bounds the slice a flusher keeps between ticks.
const maxSpareFlush = 4096
