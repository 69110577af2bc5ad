package main

import "os"

// nodeName is the node's name as the cluster uses it: SPIN_NODE_NAME, or
// the host name (memberlist's default, cluster.Config.NodeName).
func nodeName(configured string) string {
	if configured != "" {
		return configured
	}
	host, _ := os.Hostname()
	return host
}
