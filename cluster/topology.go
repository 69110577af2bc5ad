package cluster

import (
	"cmp"
	"slices"

	protocluster "github.com/asynkron/protoactor-go/cluster"
)

// Member is one node of the cluster topology as this node sees it.
type Member struct {
	ID      string // actor system id (the protoactor member id)
	Name    string // memberlist node name
	Address string // actor system address host:port
}

// topologyView turns a ClusterTopology event into the sorted member list
// Node.Members returns; names maps member ids to memberlist node names.
func topologyView(t *protocluster.ClusterTopology, names map[string]string) []Member {
	view := make([]Member, 0, len(t.Members))
	for _, m := range t.Members {
		view = append(view, Member{ID: m.Id, Name: names[m.Id], Address: m.Address()})
	}
	slices.SortFunc(view, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return view
}

// containsID reports whether id is in members.
func containsID(members []Member, id string) bool {
	return slices.ContainsFunc(members, func(m Member) bool { return m.ID == id })
}
