// Package gopool runs short tasks on reused goroutines.
//
// protoactor's default dispatcher starts a goroutine each time an idle
// mailbox gets a message, and a socket's writer starts one per burst of
// frames. A new goroutine starts with a small stack, and the actor and
// network code paths grow it several times (copying it each time): in a
// profile at 3,000 spins/s, stack growth alone was 7% of a node's CPU. A
// pooled worker keeps the stack it grew. The pool never makes anyone wait:
// a task that finds no idle worker gets a new goroutine, which joins the
// pool when it is done if fewer than the pool's bound are idle, and ends
// otherwise. Idle workers cost a blocked goroutine each, nothing else.
package gopool

import (
	"runtime"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Pool is a bounded set of idle goroutines that take tasks.
type Pool struct {
	tasks   chan func() // unbuffered: a send succeeds only to an idle worker
	maxIdle int32
	idle    atomic.Int32
	spawned atomic.Int64
}

// New returns a pool keeping at most maxIdle idle workers.
func New(maxIdle int) *Pool {
	return &Pool{tasks: make(chan func()), maxIdle: int32(max(maxIdle, 1))}
}

// Default is the process's pool: 32 idle workers per CPU.
var Default = New(32 * runtime.GOMAXPROCS(0))

// Go runs fn on an idle worker, or on a new goroutine when none is idle.
// It never blocks.
func (p *Pool) Go(fn func()) {
	select {
	case p.tasks <- fn:
	default:
		p.spawned.Add(1)
		go p.work(fn)
	}
}

// Spawned returns how many goroutines the pool has started.
func (p *Pool) Spawned() int64 { return p.spawned.Load() }

// Idle returns how many workers wait for a task.
func (p *Pool) Idle() int { return int(p.idle.Load()) }

func (p *Pool) work(fn func()) {
	for {
		fn()
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		fn = <-p.tasks
		p.idle.Add(-1)
	}
}

// Go runs fn on the default pool.
func Go(fn func()) { Default.Go(fn) }

// Dispatcher is a protoactor dispatcher that runs mailboxes on the pool.
type Dispatcher struct {
	pool       *Pool
	throughput int
}

// NewDispatcher returns a dispatcher on p processing up to throughput
// messages per mailbox run (protoactor's default is 300).
func NewDispatcher(p *Pool, throughput int) actor.Dispatcher {
	return Dispatcher{pool: p, throughput: throughput}
}

// Schedule implements actor.Dispatcher.
func (d Dispatcher) Schedule(fn func()) { d.pool.Go(fn) }

// Throughput implements actor.Dispatcher.
func (d Dispatcher) Throughput() int { return d.throughput }
