package pool

import "time"

// Queue is the waiting line of one pool. Waiters are bucketed by class
// (gender x seeking: 3 x 7 classes), each bucket a FIFO ordered by
// EnqueuedAt, so pairing a newcomer looks only at the heads of the buckets
// compatible with it. Not safe for concurrent use.
type Queue struct {
	buckets [numClasses]bucket
	byID    map[string]*node
	counts  [numGenders + 1]int // by gender, index 0 unused
	seq     uint64              // last insertion number handed out
	free    *node               // recycled nodes, linked through next
	rng     uint64              // xorshift state for treap priorities
	// changes counts, by gender, the removals and the insertions ahead of
	// someone already queued: an upper bound on how many places any waiter
	// of that gender has moved (Pool.Updates rechecks by it).
	changes [numGenders + 1]uint64
	// watch holds, by gender, the waiters Pool.Updates is to look at again
	// once changes reaches their watchKey (at most one entry per waiter).
	watch [numGenders + 1]watchHeap
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	return &Queue{byID: make(map[string]*node), rng: 0x9e3779b97f4a7c15}
}

// Add pairs w with the longest-waiting compatible waiter already queued
// (smallest EnqueuedAt, ties by insertion order), removes that waiter and
// returns it. Otherwise it queues w in EnqueuedAt order and returns nil, so a
// re-announced waiter with an old EnqueuedAt goes back to its old place.
// If w.UserID is already queued, or w's Gender or Seeking is invalid, Add
// changes nothing and returns nil.
//
// Cost: one look at the head of each compatible bucket (at most 12); only a
// head blocked by the rematch cooldown makes it walk further into that
// bucket, and never past a waiter younger than the best candidate so far.
func (q *Queue) Add(w *Waiter) *Waiter {
	if w == nil {
		return nil
	}
	if _, dup := q.byID[w.UserID]; dup {
		return nil
	}
	c, ok := classOf(w.Gender, w.Seeking)
	if !ok {
		return nil
	}
	if best := q.oldestPartner(w, c); best != nil {
		partner := best.w
		q.drop(best)
		return partner
	}
	q.insert(w, c)
	return nil
}

// Insert queues w in EnqueuedAt order without pairing it, and reports
// whether it did (false: already queued, or invalid). It rebuilds a queue
// from stored places (marked Held until their sessions confirm them: a
// held waiter is never picked as a partner).
func (q *Queue) Insert(w *Waiter) bool {
	if w == nil {
		return false
	}
	if _, dup := q.byID[w.UserID]; dup {
		return false
	}
	c, ok := classOf(w.Gender, w.Seeking)
	if !ok {
		return false
	}
	q.insert(w, c)
	return true
}

func (q *Queue) insert(w *Waiter, c class) {
	n := q.newNode()
	q.seq++
	q.rng ^= q.rng << 13
	q.rng ^= q.rng >> 7
	q.rng ^= q.rng << 17
	*n = node{w: w, at: timeKey(w.EnqueuedAt), seq: q.seq, class: c, prio: q.rng}
	q.buckets[c].insert(n)
	q.byID[w.UserID] = n
	q.counts[w.Gender]++
	if n.next != nil {
		q.changes[w.Gender]++ // someone queued moved back a place
	}
}

// oldestPartner returns the node of the longest-waiting waiter compatible
// with w (of class c), or nil.
func (q *Queue) oldestPartner(w *Waiter, c class) *node {
	var best *node
	for set := partnerClasses[c]; ; {
		pc, ok := set.next()
		if !ok {
			break
		}
		for n := q.buckets[pc].head; n != nil; n = n.next {
			if best != nil && !n.before(best) {
				break
			}
			if !n.w.Held && Compatible(w, n.w) {
				best = n
				break
			}
		}
	}
	return best
}

// Remove takes userID out of the queue and returns their waiter.
func (q *Queue) Remove(userID string) (*Waiter, bool) {
	n, ok := q.byID[userID]
	if !ok {
		return nil, false
	}
	w := n.w
	q.drop(n)
	return w, true
}

// drop unlinks a queued node, forgets it and recycles it.
func (q *Queue) drop(n *node) {
	q.buckets[n.class].unlink(n)
	delete(q.byID, n.w.UserID)
	q.counts[n.w.Gender]--
	q.changes[n.w.Gender]++
	if n.watchIdx != 0 {
		q.watch[n.w.Gender].remove(n)
	}
	*n = node{next: q.free}
	q.free = n
}

// newNode returns a recycled node, or a new one.
func (q *Queue) newNode() *node {
	if n := q.free; n != nil {
		q.free = n.next
		return n
	}
	return new(node)
}

// Get returns the queued waiter of userID.
func (q *Queue) Get(userID string) (*Waiter, bool) {
	n, ok := q.byID[userID]
	if !ok {
		return nil, false
	}
	return n.w, true
}

// Len returns how many waiters are queued.
func (q *Queue) Len() int { return len(q.byID) }

// Count returns how many waiters of gender g are queued.
func (q *Queue) Count(g Gender) int {
	if !g.Valid() {
		return 0
	}
	return q.counts[g]
}

// Waiting returns the number of queued waiters of each gender, every gender
// included (zero counts too).
func (q *Queue) Waiting() map[Gender]int {
	m := make(map[Gender]int, numGenders)
	for _, g := range Genders {
		m[g] = q.counts[g]
	}
	return m
}

// Position returns userID's 1-based place in line: 1 + the number of queued
// waiters who are older, have the same gender and whose Seeking overlaps
// (they compete for the same partners). It returns 0 when userID is not
// queued. Cost: O(log n) in each competing bucket (at most 7).
func (q *Queue) Position(userID string) int {
	n, ok := q.byID[userID]
	if !ok {
		return 0
	}
	return q.position(n)
}

func (q *Queue) position(n *node) int {
	pos := 1
	for set := competitorClasses[n.class]; ; {
		c, ok := set.next()
		if !ok {
			break
		}
		pos += q.buckets[c].rank(n.at, n.seq)
	}
	return pos
}

// Each calls fn for every queued waiter, oldest first, with its Position,
// until fn returns false. It costs O(n) in total (a merge of the class
// buckets). fn must not change the queue.
func (q *Queue) Each(fn func(w *Waiter, position int) bool) {
	var cur [numClasses]*node
	var seen [numClasses]int
	for c := range q.buckets {
		cur[c] = q.buckets[c].head
	}
	for {
		var next *node
		for _, n := range cur {
			if n != nil && (next == nil || n.before(next)) {
				next = n
			}
		}
		if next == nil {
			return
		}
		pos := 1
		for set := competitorClasses[next.class]; ; {
			c, ok := set.next()
			if !ok {
				break
			}
			pos += seen[c]
		}
		seen[next.class]++
		cur[next.class] = next.next
		if !fn(next.w, pos) {
			return
		}
	}
}

// Oldest returns the enqueue time of the longest-waiting queued waiter of
// gender g, and false when none is queued. Cost: one look at the head of
// each class bucket.
func (q *Queue) Oldest(g Gender) (time.Time, bool) {
	var best *node
	for c := range q.buckets {
		if n := q.buckets[c].head; n != nil && n.w.Gender == g && (best == nil || n.before(best)) {
			best = n
		}
	}
	if best == nil {
		return time.Time{}, false
	}
	return best.w.EnqueuedAt, true
}

// present returns the classes with at least one waiter queued: O(classes).
func (q *Queue) present() classSet {
	var s classSet
	for c := range q.buckets {
		if q.buckets[c].n > 0 {
			s |= 1 << c
		}
	}
	return s
}

// enqueuedBy returns how many waiters of gender g are queued with an
// EnqueuedAt key (timeKey) of at most at: O(classes of g x log n).
func (q *Queue) enqueuedBy(g Gender, at int64) int {
	if at == 1<<63-1 {
		return q.Count(g)
	}
	n := 0
	for c := class(0); c < numClasses; c++ {
		if c.gender() == g && q.buckets[c].n > 0 {
			n += q.buckets[c].rank(at+1, 0)
		}
	}
	return n
}
