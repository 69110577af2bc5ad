package cluster

import "github.com/hashicorp/memberlist"

// eventDelegate adapts memberlist membership events onto a coalescing
// signal channel its owner (the provider's topology goroutine) reads.
//
// memberlist calls it while holding its node lock, so it must never call
// back into memberlist (Members would deadlock) and must never block: when
// a signal is already pending the new one is dropped, which loses nothing
// because the reader always reads the full member list.
type eventDelegate struct {
	changed chan<- struct{} // capacity 1
}

var _ memberlist.EventDelegate = eventDelegate{}

// NotifyJoin signals a membership change.
func (d eventDelegate) NotifyJoin(*memberlist.Node) { d.signal() }

// NotifyLeave signals a membership change.
func (d eventDelegate) NotifyLeave(*memberlist.Node) { d.signal() }

// NotifyUpdate signals a metadata change.
func (d eventDelegate) NotifyUpdate(*memberlist.Node) { d.signal() }

func (d eventDelegate) signal() {
	select {
	case d.changed <- struct{}{}:
	default: // a sync is already pending; it will see this change too
	}
}
