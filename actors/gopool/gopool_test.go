package gopool

import (
	"sync"
	"testing"
	"time"
)

// TestReusesIdleWorkers: tasks run one after another reuse one goroutine;
// tasks that block do not make others wait.
func TestReusesIdleWorkers(t *testing.T) {
	p := New(4)
	done := make(chan struct{})
	for range 100 {
		p.Go(func() { done <- struct{}{} })
		<-done
		waitIdle(t, p, 1)
	}
	if n := p.Spawned(); n != 1 {
		t.Fatalf("100 sequential tasks started %d goroutines, want 1", n)
	}

	// Ten tasks blocked at once: each gets a goroutine, none waits.
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(10)
	for range 10 {
		p.Go(func() { started.Done(); <-release })
	}
	started.Wait() // would hang if a task waited for a worker
	close(release)
	waitIdle(t, p, 4) // the bound: the other six ended
	if n := p.Idle(); n != 4 {
		t.Fatalf("%d idle workers after a burst of 10, want the bound 4", n)
	}
}

func waitIdle(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.Idle() != n {
		if time.Now().After(deadline) {
			t.Fatalf("idle workers %d, want %d", p.Idle(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func BenchmarkGo(b *testing.B) {
	p := New(8)
	var wg sync.WaitGroup
	for b.Loop() {
		wg.Add(1)
		p.Go(wg.Done)
		wg.Wait()
	}
}
