package pool

// node holds one queued waiter inside its class bucket (an intrusive doubly
// linked list). Nodes are recycled through Queue.free, so a steady queue
// allocates none.
type node struct {
	w          *Waiter
	at         int64  // timeKey(w.EnqueuedAt), fixed at insertion
	seq        uint64 // insertion order, breaks ties on at
	prev, next *node
	class      class
}

// before reports whether a waited longer than b: older EnqueuedAt, ties by
// insertion order.
func (a *node) before(b *node) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// bucket is the FIFO of one class, oldest at head, ordered by (at, seq).
type bucket struct {
	head, tail *node
	n          int
}

// insert puts n in order. A newcomer is normally the newest and goes to the
// tail in O(1); an older one (a waiter re-announced after the pool lost its
// state) walks back from the tail to its old place.
func (b *bucket) insert(n *node) {
	after := b.tail
	for after != nil && n.before(after) {
		after = after.prev
	}
	n.prev = after
	if after == nil {
		n.next = b.head
		b.head = n
	} else {
		n.next = after.next
		after.next = n
	}
	if n.next == nil {
		b.tail = n
	} else {
		n.next.prev = n
	}
	b.n++
}

// unlink takes n out of b.
func (b *bucket) unlink(n *node) {
	if n.prev == nil {
		b.head = n.next
	} else {
		n.prev.next = n.next
	}
	if n.next == nil {
		b.tail = n.prev
	} else {
		n.next.prev = n.prev
	}
	n.prev, n.next = nil, nil
	b.n--
}
