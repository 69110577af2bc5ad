package cluster

import "github.com/hashicorp/memberlist"

// metaDelegate is the memberlist.Delegate of a node: it only announces the
// node's metadata. The metadata is fixed before memberlist starts
// (static after construction), so NodeMeta is safe under memberlist's locks.
type metaDelegate struct {
	meta []byte
}

var _ memberlist.Delegate = metaDelegate{}

// NodeMeta returns the encoded nodeMeta; encodeMeta already checked it fits.
func (d metaDelegate) NodeMeta(limit int) []byte {
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}

// NotifyMsg ignores user messages: the cluster uses protoactor's gossip.
func (metaDelegate) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to broadcast.
func (metaDelegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState has no state to push or pull.
func (metaDelegate) LocalState(bool) []byte { return nil }

// MergeRemoteState has no state to merge.
func (metaDelegate) MergeRemoteState([]byte, bool) {}
