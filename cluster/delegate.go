package cluster

import (
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// metaDelegate is the memberlist.Delegate of a node: it only announces the
// node's metadata. The metadata is set before memberlist starts and
// replaced once before a graceful leave; an atomic pointer keeps NodeMeta
// safe under memberlist's locks.
type metaDelegate struct {
	meta *atomic.Pointer[[]byte]
}

var _ memberlist.Delegate = metaDelegate{}

func newMetaDelegate(meta []byte) metaDelegate {
	d := metaDelegate{meta: &atomic.Pointer[[]byte]{}}
	d.meta.Store(&meta)
	return d
}

// set replaces the announced metadata.
func (d metaDelegate) set(meta []byte) { d.meta.Store(&meta) }

// NodeMeta returns the encoded nodeMeta; encodeMeta already checked it fits.
func (d metaDelegate) NodeMeta(limit int) []byte {
	m := *d.meta.Load()
	if len(m) > limit {
		return nil
	}
	return m
}

// NotifyMsg ignores user messages: the cluster uses protoactor's gossip.
func (metaDelegate) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to broadcast.
func (metaDelegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState has no state to push or pull.
func (metaDelegate) LocalState(bool) []byte { return nil }

// MergeRemoteState has no state to merge.
func (metaDelegate) MergeRemoteState([]byte, bool) {}
