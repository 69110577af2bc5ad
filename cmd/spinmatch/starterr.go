package main

import "strings"

// clusterStartError names the variable behind a failed cluster start
// (cluster.Start's errors say which part failed: the node name, the
// cluster key, the memberlist bind or advertise address, the actor
// remote, the seeds).
// Anything else is blamed on SPIN_CLUSTER_BIND, the address the start
// was binding.
func clusterStartError(err error) *configError {
	s := err.Error()
	name := "SPIN_CLUSTER_BIND"
	switch {
	case strings.Contains(s, "node name"), strings.Contains(s, "name longer than"):
		name = "SPIN_NODE_NAME"
	case strings.Contains(s, ": keys:"), strings.Contains(s, "config: key "), strings.Contains(s, "cluster remote:"):
		name = "SPIN_CLUSTER_KEY"
	case strings.Contains(s, ": advertise"):
		name = "SPIN_CLUSTER_ADVERTISE"
	case strings.Contains(s, ": remote"), strings.Contains(s, "protoactor start member"):
		name = "SPIN_REMOTE_ADDR"
	case strings.Contains(s, ": join "):
		name = "SPIN_CLUSTER_JOIN"
	}
	return &configError{name, "cluster could not start: " + s}
}
