package cluster

import (
	"bytes"
	"cmp"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// liveNode is a copy of what the topology needs from a memberlist node.
type liveNode struct {
	name string
	addr string // memberlist host:port, for logs
	meta []byte // owned copy of the node's metadata
}

// eventDelegate adapts memberlist membership events onto a coalescing
// signal channel its owner (the provider's topology goroutine) reads.
//
// memberlist calls it while holding its node lock, so it never calls back
// into memberlist (Members would deadlock) and never blocks: it copies the
// node into its own map and, when a signal is already pending, drops the new
// one, which loses nothing because the reader always takes the whole map.
// It keeps copies because memberlist rewrites a node's Meta and Addr in
// place under that lock (state.go aliveNode), so reading the *Node that
// Members returns after the lock is released is a data race.
type eventDelegate struct {
	changed chan<- struct{} // capacity 1; static after construction

	mu    sync.Mutex
	nodes map[string]liveNode // guarded by mu: alive nodes by name
	// left holds the actor addresses of nodes that left gracefully (not
	// declared dead), most recent last, at most maxLeft; guarded by mu.
	left []string
	// lost counts the nodes that left without announcing a graceful leave.
	lost atomic.Int64
}

// maxLeft bounds eventDelegate.left.
const maxLeft = 64

var _ memberlist.EventDelegate = (*eventDelegate)(nil)

// newEventDelegate returns a delegate that signals on changed (capacity 1).
func newEventDelegate(changed chan<- struct{}) *eventDelegate {
	return &eventDelegate{changed: changed, nodes: make(map[string]liveNode)}
}

// NotifyJoin records the node and signals a membership change.
func (d *eventDelegate) NotifyJoin(n *memberlist.Node) { d.put(n) }

// NotifyUpdate records the node's new metadata and signals.
func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) { d.put(n) }

// NotifyLeave forgets the node and signals a membership change.
func (d *eventDelegate) NotifyLeave(n *memberlist.Node) {
	d.mu.Lock()
	meta := n.Meta
	if known, ok := d.nodes[n.Name]; ok {
		meta = known.meta
	}
	if m, err := decodeMeta(meta); err == nil && !m.Leaving {
		d.lost.Add(1)
	}
	delete(d.nodes, n.Name)
	d.mu.Unlock()
	d.signal()
}

// noteLeaving records, from a node's metadata, whether it announced a
// graceful leave (memberlist's leave event does not tell a leave from a
// death: the node state it passes is not set). A node that announces
// itself without the flag at an address (a restart) clears it there.
func (d *eventDelegate) noteLeaving(meta []byte) {
	m, err := decodeMeta(meta)
	if err != nil {
		return
	}
	addr := net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	d.left = slices.DeleteFunc(d.left, func(a string) bool { return a == addr })
	if m.Leaving {
		d.left = append(d.left, addr)
		if len(d.left) > maxLeft {
			d.left = d.left[1:]
		}
	}
}

// leftGracefully reports whether the node at actor address addr left the
// cluster gracefully (rather than being declared dead).
func (d *eventDelegate) leftGracefully(addr string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.left, addr)
}

func (d *eventDelegate) put(n *memberlist.Node) {
	d.mu.Lock()
	d.nodes[n.Name] = liveNode{name: n.Name, addr: n.Address(), meta: bytes.Clone(n.Meta)}
	d.noteLeaving(n.Meta)
	d.mu.Unlock()
	d.signal()
}

func (d *eventDelegate) signal() {
	select {
	case d.changed <- struct{}{}:
	default: // a sync is already pending; it will see this change too
	}
}

// snapshot returns the alive nodes sorted by name; callers must not modify
// the metadata slices.
func (d *eventDelegate) snapshot() []liveNode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.SortedFunc(maps.Values(d.nodes), func(a, b liveNode) int {
		return cmp.Compare(a.name, b.name)
	})
}
