package actors

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// acks waits for the acknowledgements of the Router's one-way sends to
// grains on this node, and for the answers to its requests to them,
// without a future for each.
//
// A protoactor future is a process of its own: each one is added to and
// removed from the process registry, starts a timer and a condition
// variable, and the Router gave each a goroutine to wait on it. At 3,000
// spins/s (about a dozen routed messages a spin) that was a tenth of a
// node's CPU. Here every send is an entry in one map, under a sequence
// number that travels as the RequestId of the send's sender PID: the
// grain's acknowledgement (ackOneWay), and the dead-letter response for a
// grain that is gone, come back to that PID, so to this process, which
// finds the entry by the number. Deadlines are a heap, served by one
// goroutine that runs only while something is unacknowledged.
//
// A send to another node also watches for that node leaving the topology,
// as Router.await does for a future: at each change (topologyChanged) and
// when it is made. What follows an unacknowledged send (a dead letter, its
// node gone, or no answer within the attempt) is the future path's:
// Router.confirm from the failed attempt, which resends through a fresh
// lookup; a request fails its attempt and Ask asks again.
type acks struct {
	r   *Router
	pid *actor.PID // this process; senders are copies with a RequestId

	mu      sync.Mutex
	seq     uint32              // guarded by mu: the last number given
	wait    map[uint32]*ackWait // guarded by mu
	due     ackHeap             // guarded by mu: wait's entries by due
	running bool                // guarded by mu: the expiry loop runs
}

// ackWait is one send waiting for its acknowledgement.
type ackWait struct {
	kind, id string
	m        proto.Message
	pid      *actor.PID
	deadline time.Time // of the whole delivery (Router.deliver)
	due      time.Time // of this attempt
	done     func(bool)
	cancel   context.CancelFunc // of the send's context, if it has one
	reply    chan askReply      // a request's: where its answer goes
	member   string             // a remote target's: its node's member id at the send
	gone     bool               // the remote node left: due is its grace
	attempt  int                // of the send: 0, then each resend's number
	seq      uint32
	index    int // in due
	// sender and env are the send's sender PID (this process, numbered
	// seq) and envelope, allocated with the entry rather than each
	// apart: three allocations a send were a sixth of the hot path's
	// bytes.
	sender actor.PID
	env    actor.MessageEnvelope
}

// askReply is a request's answer, or why there is none.
type askReply struct {
	m   any
	err error
}

// ackTick is how often unacknowledged sends are checked for their
// deadline while there are any.
const ackTick = 25 * time.Millisecond

// newAcks registers the acknowledgement process in r's actor system.
func newAcks(r *Router) *acks {
	a := &acks{r: r, wait: map[uint32]*ackWait{}}
	name := "router$acks-" + r.sys.ProcessRegistry.NextId()
	pid, _ := r.sys.ProcessRegistry.Add(a, name)
	a.pid = pid
	return a
}

// send delivers m to the local activation pid of kind/id, to be
// acknowledged by deadline (the attempt's timeout is Router.attempt's).
func (a *acks) send(kind, id string, m proto.Message, pid *actor.PID, deadline time.Time, done func(bool), cancel context.CancelFunc) {
	a.resend(kind, id, m, pid, deadline, done, cancel, 0)
}

// resend is send for attempt number attempt (Router.confirm's resends).
func (a *acks) resend(kind, id string, m proto.Message, pid *actor.PID, deadline time.Time, done func(bool), cancel context.CancelFunc, attempt int) {
	now := time.Now()
	w := newAckWait()
	w.kind, w.id, w.m, w.pid, w.deadline = kind, id, m, pid, deadline
	w.due, w.done, w.cancel, w.attempt = now.Add(a.r.attemptUntil(deadline, now, m)), done, cancel, attempt
	a.post(w)
}

// ackWaits recycles the entries of acknowledged one-way sends: an entry
// is about 300 bytes, and a date routes a dozen one-way messages. Only an
// acknowledged entry goes back, by the one goroutine that took it from
// wait: ackOneWay acknowledges as the last thing it does with the
// envelope, after the grain processed it, so nothing reads the envelope
// any more. A request's entry is never recycled (the grain may still read
// its envelope after it answered), nor one that failed (a dead letter, a
// timeout, a departed node), which goes on to a retry.
var ackWaits = sync.Pool{New: func() any { return &ackWait{} }}

func newAckWait() *ackWait { return ackWaits.Get().(*ackWait) }

// recycle gives w, an acknowledged send's entry, back to ackWaits.
func recycle(w *ackWait) {
	*w = ackWait{}
	ackWaits.Put(w)
}

// ask sends the request m to the local activation pid and waits for its
// answer within attempt (or ctx): one attempt of Router's Ask.
func (a *acks) ask(ctx context.Context, m proto.Message, pid *actor.PID, attempt time.Duration) (any, error) {
	w := &ackWait{m: m, pid: pid, due: time.Now().Add(attempt), reply: make(chan askReply, 1)}
	a.post(w)
	select {
	case r := <-w.reply:
		return r.m, r.err
	case <-ctx.Done():
		a.mu.Lock()
		if a.wait[w.seq] == w {
			a.take(w.seq)
		}
		a.mu.Unlock()
		return nil, ctx.Err()
	}
}

// post numbers w, registers it and sends its message.
func (a *acks) post(w *ackWait) {
	remote := w.pid.Address != a.r.self
	if remote {
		w.member = a.r.memberAt(w.pid.Address)
	}
	a.mu.Lock()
	for {
		a.seq++
		if _, taken := a.wait[a.seq]; a.seq != 0 && !taken {
			break
		}
	}
	w.seq = a.seq
	a.wait[w.seq] = w
	heap.Push(&a.due, w)
	start := !a.running
	a.running = true
	var failed []*ackWait
	if remote && w.member == "" {
		failed = a.depart(w, time.Now(), failed) // left already
	}
	a.mu.Unlock()
	if start {
		go a.expire()
	}
	a.fail(failed, errMemberGone)
	w.sender.Address, w.sender.Id, w.sender.RequestId = a.pid.Address, a.pid.Id, w.seq
	w.env.Message, w.env.Sender = w.m, &w.sender
	sendTo(a.r.sys, w.pid, &w.env)
}

// sendTo delivers m to pid through the process registry, as Root.Send
// does without sender middleware, but without caching the process in pid:
// the Router's cached PIDs are shared by every send to their grain, and a
// PID that cached its process would keep a passivated grain's whole state
// alive for as long as the cache holds it (PID.ref also allocates for the
// cached process each time it resolves one).
func sendTo(sys *actor.ActorSystem, pid *actor.PID, m any) {
	proc, _ := sys.ProcessRegistry.Get(pid) // the dead-letter process when there is none
	proc.SendUserMessage(pid, m)
}

// SendUserMessage implements actor.Process: an acknowledgement (or any
// answer), or a dead letter, for the send numbered pid.RequestId.
func (a *acks) SendUserMessage(pid *actor.PID, message any) {
	_, m, _ := actor.UnwrapEnvelope(message)
	var err error
	if _, dead := m.(*actor.DeadLetterResponse); dead {
		err = actor.ErrDeadLetter
	}
	a.finish(pid.GetRequestId(), m, err)
}

// SendSystemMessage implements actor.Process (nothing to do).
func (a *acks) SendSystemMessage(*actor.PID, any) {}

// Stop implements actor.Process (the process lives as long as its node).
func (a *acks) Stop(*actor.PID) {}

// take removes and returns the entry numbered seq, nil if there is none.
// Called with mu held.
func (a *acks) take(seq uint32) *ackWait {
	w := a.wait[seq]
	if w != nil {
		delete(a.wait, seq)
		heap.Remove(&a.due, w.index)
	}
	return w
}

// finish ends the send numbered seq: acknowledged or answered with m (err
// nil), or failed.
func (a *acks) finish(seq uint32, m any, err error) {
	a.mu.Lock()
	w := a.take(seq)
	a.mu.Unlock()
	if w == nil {
		return // late: already given up or retried
	}
	if w.reply != nil {
		w.reply <- askReply{m: m, err: err} // buffered: never blocks
		return
	}
	if err == nil {
		if w.cancel != nil {
			w.cancel()
		}
		if w.done != nil {
			w.done(true)
		}
		if oneWay(w.m) {
			recycle(w)
		}
		return
	}
	go a.r.retry(w, err)
}

// expire fails the sends whose attempt is over, every ackTick, until none
// is left.
func (a *acks) expire() {
	t := time.NewTicker(ackTick)
	defer t.Stop()
	for now := range t.C {
		var late []*ackWait
		a.mu.Lock()
		for len(a.due) > 0 && !a.due[0].due.After(now) {
			late = append(late, a.take(a.due[0].seq))
		}
		empty := len(a.due) == 0
		if empty {
			a.running = false
		}
		a.mu.Unlock()
		for _, w := range late {
			err := actor.ErrTimeout
			if w.gone {
				err = errMemberGone
			}
			a.fail([]*ackWait{w}, err)
		}
		if empty {
			return
		}
	}
}

// fail ends each of ws (taken from wait already) with err: a request's
// answer, or a send's retry.
func (a *acks) fail(ws []*ackWait, err error) {
	for _, w := range ws {
		if w.reply != nil {
			w.reply <- askReply{err: err} // buffered: never blocks
			continue
		}
		go a.r.retry(w, err)
	}
}

// topologyChanged looks at every send to another node, as Router.await
// does at each change for the one it waits on: one whose node is gone is
// failed with errMemberGone, at once when the node restarted or did not
// leave gracefully, otherwise when its grace (graceFor) is over.
func (a *acks) topologyChanged() {
	now := time.Now()
	var failed []*ackWait
	a.mu.Lock()
	for _, w := range a.wait {
		if w.pid.Address != a.r.self && !w.gone {
			failed = a.depart(w, now, failed)
		}
	}
	a.mu.Unlock()
	a.fail(failed, errMemberGone)
}

// depart checks w's node against the topology: still the member it was
// sent to, nothing; gone for good, w is taken and appended to failed;
// gracefully leaving, w is due at the end of its grace. Called with mu
// held.
func (a *acks) depart(w *ackWait, now time.Time, failed []*ackWait) []*ackWait {
	addr := w.pid.Address
	at := a.r.memberAt(addr)
	if at != "" && at == w.member {
		return failed
	}
	restarted := at != "" && at != w.member && w.member != ""
	if restarted || (a.r.graceful != nil && !a.r.graceful(addr)) {
		return append(failed, a.take(w.seq))
	}
	w.gone = true
	if end := now.Add(graceFor(w.m)); end.Before(w.due) {
		w.due = end
		heap.Fix(&a.due, w.index)
	}
	return failed
}

// pending returns how many sends wait for their acknowledgement.
func (a *acks) pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.wait)
}

// retry goes on with a send whose attempt failed (Router.confirm).
func (r *Router) retry(w *ackWait, err error) {
	r.cache.drop(w.kind+"/"+w.id, w.pid)
	ctx, cancel := context.WithDeadline(context.Background(), w.deadline)
	defer cancel()
	r.confirm(ctx, w.kind, w.id, w.m, err, w.done, w.cancel, w.attempt)
}

// attemptUntil is Router.attempt for a delivery due by deadline.
func (r *Router) attemptUntil(deadline, now time.Time, m proto.Message) time.Duration {
	left := max(deadline.Sub(now), time.Millisecond)
	if _, ok := m.(*msg.Command); ok {
		return left
	}
	return min(left, sendAttempt)
}

// ackHeap orders unacknowledged sends by when their attempt is over.
type ackHeap []*ackWait

func (h ackHeap) Len() int           { return len(h) }
func (h ackHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h ackHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *ackHeap) Push(x any) {
	w := x.(*ackWait)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *ackHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}
