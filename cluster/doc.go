// Package cluster owns cluster membership and the protoactor cluster
// bootstrap: a hashicorp/memberlist pool whose node metadata announces each
// node's actor system (id, remote host and port, grain kinds), a
// protoactor-go cluster.ClusterProvider that turns that pool into the
// cluster topology, and an identity lookup for grains (placement.go:
// disthash's rendezvous hashing and protocol, with O(1) termination). With no join seeds a node is a one-node cluster. With cluster
// keys (Config.Keys) memberlist gossip is encrypted and the actor remote
// speaks mutual TLS with certificates derived from the keys (tls.go), so
// only holders of a key join or reach a grain.
//
// Concurrency: a Node is safe for concurrent use once Start returns.
// memberlist calls its delegates under its own node lock, so the event
// delegate only copies the node into its own mutex-guarded map (memberlist
// rewrites its *Node values in place, so they are never read outside that
// lock) and signals a coalescing channel of capacity 1; one topology
// goroutine per node (owned by the provider) takes that map and pushes it to
// MemberList.UpdateClusterTopology, on every signal and on a periodic
// resync. The topology this node sees is recorded from the
// ClusterTopology events protoactor publishes, guarded by a mutex.
//
// A member id removed from the topology is blocked by protoactor for good,
// so every Start uses a fresh, random actor system id.
package cluster
