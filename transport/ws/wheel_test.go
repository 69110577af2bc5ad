package ws

import (
	"sync"
	"testing"
	"time"
)

// TestWheel checks the wheel visits every member once per period, spread
// over its slots, stops visiting a removed member, and ends its goroutine
// when it is empty (and starts it again on the next add).
func TestWheel(t *testing.T) {
	const period = 300 * time.Millisecond
	var (
		mu     sync.Mutex
		visits = map[int]int{}
		batch  []int
	)
	w := newWheel(period, func(ms []int) {
		mu.Lock()
		defer mu.Unlock()
		batch = append(batch, len(ms))
		for _, m := range ms {
			visits[m]++
		}
	})
	if len(w.slots) != 1 {
		t.Fatalf("a %v period: %d slots, want 1", period, len(w.slots))
	}
	if n := len(newWheel(54*time.Second, func([]int) {}).slots); n != 54 {
		t.Fatalf("a 54 s period: %d slots, want 54", n)
	}
	slots := map[int]int{}
	for m := range 10 {
		slots[m] = w.add(m)
	}
	count := func(m int) int {
		mu.Lock()
		defer mu.Unlock()
		return visits[m]
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(0) < 3 || count(9) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("visits after 5 s: %v", visits)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.remove(3, slots[3])
	if w.len() != 9 {
		t.Fatalf("len %d after a removal, want 9", w.len())
	}
	mu.Lock()
	at := visits[3]
	mu.Unlock()
	for count(0) < 6 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("visits: %v", visits)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := count(3); got > at+1 { // one visit may have been under way
		t.Fatalf("removed member visited %d times after removal", got-at)
	}
	for m := range 10 {
		w.remove(m, slots[m])
	}
	waitRunning := func(want bool) {
		t.Helper()
		end := time.Now().Add(5 * time.Second)
		for {
			w.mu.Lock()
			running := w.running
			w.mu.Unlock()
			if running == want {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("running %v after 5 s, want %v", running, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitRunning(false)
	w.add(42)
	waitRunning(true)
}

// TestWheelSpreadsMembers checks members added at different ticks land in
// different slots, so one tick visits only a share of them.
func TestWheelSpreadsMembers(t *testing.T) {
	w := newWheel(time.Hour, func([]int) {}) // never ticks within the test
	if len(w.slots) != maxSlots {
		t.Fatalf("%d slots, want %d", len(w.slots), maxSlots)
	}
	a := w.add(1)
	w.mu.Lock()
	w.next = (w.next + 1) % len(w.slots) // as a tick does
	w.mu.Unlock()
	b := w.add(2)
	if a == b {
		t.Fatalf("members added a tick apart share slot %d", a)
	}
	// Each lands in the slot just behind the next visit: a full period away.
	if want := (b + 1) % len(w.slots); w.next != want {
		t.Fatalf("next %d, slot %d: want the slot behind next", w.next, b)
	}
	w.remove(1, a)
	w.remove(2, b)
}
