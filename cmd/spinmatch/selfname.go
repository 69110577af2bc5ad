package main

import (
	"os"

	"github.com/spinmatch/spinmatch/cluster"
)

// selfName is this node's memberlist name as the cluster sees it, or
// configured (SPIN_NODE_NAME, else the host name, as cluster.Start
// defaults it) while it is not in its own topology yet.
func selfName(member *cluster.Node, configured string) string {
	for _, m := range member.Members() {
		if m.ID == member.ID() {
			return m.Name
		}
	}
	if configured == "" {
		configured, _ = os.Hostname()
	}
	return configured
}
