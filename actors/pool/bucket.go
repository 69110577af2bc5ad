package pool

// node holds one queued waiter inside its class bucket: in the bucket's
// FIFO (an intrusive doubly linked list, for pairing from the head) and in
// its order-statistics tree (a treap with subtree sizes, for positions in
// O(log n)). Nodes are recycled through Queue.free, so a steady queue
// allocates none.
type node struct {
	w           *Waiter
	at          int64  // timeKey(w.EnqueuedAt), fixed at insertion
	seq         uint64 // insertion order, breaks ties on at
	prev, next  *node
	left, right *node  // treap children
	prio        uint64 // treap heap priority (random)
	size        int    // treap subtree size, this node included
	class       class
	// watchKey and watchIdx (its index in Queue.watch + 1, 0 when not
	// there) belong to Pool.Updates.
	watchKey uint64
	watchIdx int
}

// before reports whether a waited longer than b: older EnqueuedAt, ties by
// insertion order.
func (a *node) before(b *node) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// keyBefore reports whether a is ordered before the key (at, seq).
func (a *node) keyBefore(at int64, seq uint64) bool {
	return a.at < at || (a.at == at && a.seq < seq)
}

// bucket is the FIFO of one class, oldest at head, ordered by (at, seq),
// with the same nodes in a treap (root) ordered the same way.
type bucket struct {
	head, tail *node
	root       *node
	n          int
}

// insert puts n in order (n.prio set). A newcomer is normally the newest
// and goes to the tail of the list in O(1); an older one (a waiter
// re-announced after the pool lost its state) goes after the last node
// before it, found in the treap. O(log n) either way.
func (b *bucket) insert(n *node) {
	after := b.tail
	if after != nil && n.before(after) {
		after = b.last(n)
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
	n.left, n.right, n.size = nil, nil, 1
	b.root = treapInsert(b.root, n)
}

// last returns the last node of b ordered before n, or nil.
func (b *bucket) last(n *node) *node {
	var best *node
	for t := b.root; t != nil; {
		if t.before(n) {
			best, t = t, t.right
		} else {
			t = t.left
		}
	}
	return best
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
	b.root = treapDelete(b.root, n)
	n.left, n.right = nil, nil
}

// rank returns how many nodes of b are ordered before the key (at, seq):
// O(log n).
func (b *bucket) rank(at int64, seq uint64) int {
	r := 0
	for t := b.root; t != nil; {
		if t.keyBefore(at, seq) {
			r += t.left.sz() + 1
			t = t.right
		} else {
			t = t.left
		}
	}
	return r
}

func (t *node) sz() int {
	if t == nil {
		return 0
	}
	return t.size
}

func (t *node) fix() { t.size = t.left.sz() + t.right.sz() + 1 }

// treapInsert inserts n (a single node) into the treap t and returns the
// new root.
func treapInsert(t, n *node) *node {
	if t == nil {
		return n
	}
	if n.prio > t.prio {
		n.left, n.right = treapSplit(t, n)
		n.fix()
		return n
	}
	if n.before(t) {
		t.left = treapInsert(t.left, n)
	} else {
		t.right = treapInsert(t.right, n)
	}
	t.fix()
	return t
}

// treapSplit splits t into the nodes before n and the rest.
func treapSplit(t, n *node) (l, r *node) {
	if t == nil {
		return nil, nil
	}
	if t.before(n) {
		t.right, r = treapSplit(t.right, n)
		t.fix()
		return t, r
	}
	l, t.left = treapSplit(t.left, n)
	t.fix()
	return l, t
}

// treapMerge joins a and b, every node of a ordered before those of b.
func treapMerge(a, b *node) *node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = treapMerge(a.right, b)
		a.fix()
		return a
	default:
		b.left = treapMerge(a, b.left)
		b.fix()
		return b
	}
}

// treapDelete removes n, which is in t, and returns the new root.
func treapDelete(t, n *node) *node {
	if t == n {
		return treapMerge(t.left, t.right)
	}
	if n.before(t) {
		t.left = treapDelete(t.left, n)
	} else {
		t.right = treapDelete(t.right, n)
	}
	t.fix()
	return t
}

// watchHeap is a min-heap of nodes by watchKey, each node knowing its index
// (watchIdx), so that a node is re-keyed or removed in O(log n).
type watchHeap []*node

// set puts n in h, or moves it to its new watchKey.
func (h *watchHeap) set(n *node) {
	if n.watchIdx == 0 {
		*h = append(*h, n)
		n.watchIdx = len(*h)
		h.up(len(*h) - 1)
		return
	}
	i := n.watchIdx - 1
	h.up(i)
	h.down(n.watchIdx - 1)
}

// pop removes and returns the node with the smallest watchKey (h not empty).
func (h *watchHeap) pop() *node {
	n := (*h)[0]
	h.remove(n)
	return n
}

// remove takes n, which is in h, out of it.
func (h *watchHeap) remove(n *node) {
	i, last := n.watchIdx-1, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	n.watchIdx = 0
	if i != last {
		h.up(i)
		h.down((*h)[i].watchIdx - 1)
	}
}

func (h watchHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].watchIdx, h[j].watchIdx = i+1, j+1
}

func (h watchHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].watchKey <= h[i].watchKey {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h watchHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].watchKey < h[l].watchKey {
			m = r
		}
		if h[i].watchKey <= h[m].watchKey {
			return
		}
		h.swap(i, m)
		i = m
	}
}
