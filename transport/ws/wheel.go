package ws

import (
	"sync"
	"time"
)

// wheel visits each of its members once per period, one slot of them per
// tick, from one goroutine: the node's sockets share one wheel for their
// pings and heartbeats and one for their lease renewals, instead of a
// timer and a goroutine each. Its goroutine runs only while it has
// members. Safe for concurrent use.
type wheel[T comparable] struct {
	// Static after newWheel.
	tick  time.Duration
	visit func([]T) // called from the wheel's goroutine, never concurrently

	mu      sync.Mutex
	slots   []map[T]struct{} // guarded by mu
	size    int              // guarded by mu: members in all slots
	next    int              // guarded by mu: the slot the next tick visits
	running bool             // guarded by mu: the goroutine is running
}

// maxSlots bounds a wheel's slots: with a period of a minute or more a
// tick comes every period/maxSlots.
const maxSlots = 60

// newWheel returns a wheel that visits every member once per period.
func newWheel[T comparable](period time.Duration, visit func([]T)) *wheel[T] {
	n := min(max(int(period/time.Second), 1), maxSlots)
	w := &wheel[T]{tick: max(period/time.Duration(n), time.Millisecond), visit: visit, slots: make([]map[T]struct{}, n)}
	for i := range w.slots {
		w.slots[i] = map[T]struct{}{}
	}
	return w
}

// add puts m on the wheel, first visited about one period from now. It
// returns the slot, which remove needs.
func (w *wheel[T]) add(m T) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	slot := (w.next + len(w.slots) - 1) % len(w.slots)
	w.slots[slot][m] = struct{}{}
	w.size++
	if !w.running {
		w.running = true
		go w.run()
	}
	return slot
}

// remove takes m, added at slot, off the wheel.
func (w *wheel[T]) remove(m T, slot int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.slots[slot][m]; ok {
		delete(w.slots[slot], m)
		w.size--
	}
}

// each calls f for every member (under the wheel's lock: f must not block).
func (w *wheel[T]) each(f func(T)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.slots {
		for m := range s {
			f(m)
		}
	}
}

// len returns how many members the wheel has.
func (w *wheel[T]) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// run visits a slot per tick until the wheel is empty.
func (w *wheel[T]) run() {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	var due []T // reused between ticks
	for range t.C {
		w.mu.Lock()
		if w.size == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		due = due[:0]
		for m := range w.slots[w.next] {
			due = append(due, m)
		}
		w.next = (w.next + 1) % len(w.slots)
		w.mu.Unlock()
		if len(due) > 0 {
			w.visit(due)
		}
		clear(due)
	}
}
