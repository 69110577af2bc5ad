//go:build !race

// Excluded under -race, as cluster_test.go (two nodes in one process race
// inside the pinned protoactor-go); `make test` runs it without -race.

package main

import (
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// TestAdminTwoNodes: the snapshot from either node lists both nodes, with
// each one's sessions and sockets, and the pools of both.
func TestAdminTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: not in -short")
	}
	dbURL := pgtest.NewDatabase(t)
	nodeConfig := func(host string, join ...string) Config {
		c := testConfig(t)
		c.DatabaseURL, c.AdminKey = dbURL, testAdminKey
		c.Addr = host + ":0"
		c.Cluster.Bind, c.Cluster.RemoteAddr, c.Cluster.Join = host+":0", host+":0", join
		return c
	}
	c1 := nodeConfig("127.0.0.1")
	n1 := startNode(t, c1)
	c2 := nodeConfig("127.0.0.2", n1.member.MemberlistAddr())
	n2 := startNode(t, c2)
	waitFor(t, 15*time.Second, "both nodes see two members", func() bool {
		return len(n1.member.Members()) == 2 && len(n2.member.Members()) == 2
	})
	base1, base2 := "http://"+n1.Addr(), "http://"+n2.Addr()
	addr1, addr2 := n1.member.Address(), n2.member.Address()

	// A pool on each node, one waiting man in each; each man's session
	// lives on the node that owns his pool, and he is connected to it.
	p1 := pick(t, n1, "adm-a", actors.KindMatchPool, addr1)
	p2 := pick(t, n1, "adm-b", actors.KindMatchPool, addr2)
	u1 := devUser(t, base1, pick(t, n1, "adm-u", actors.KindUserSession, addr1), "Al", "male", p1, "female")
	u2 := devUser(t, base2, pick(t, n1, "adm-v", actors.KindUserSession, addr2), "Bo", "male", p2, "female")
	cl1, _ := u1.dial(t)
	cl1.spin()
	cl2, _ := u2.dial(t)
	cl2.spin()

	want := map[string]struct {
		name, addr string
	}{addr1: {c1.Cluster.NodeName, addr1}, addr2: {c2.Cluster.NodeName, addr2}}
	for _, base := range []string{base1, base2} {
		var s actors.Snapshot
		ok := func() bool {
			s = restSnapshot(t, base)
			a, okA := poolOf(s, p1)
			b, okB := poolOf(s, p2)
			if !okA || !okB || a.Waiting["male"] != 1 || b.Waiting["male"] != 1 || len(s.Nodes) != 2 {
				return false
			}
			for _, nd := range s.Nodes {
				if nd.Sessions < 1 || nd.Connections != 1 {
					return false // the other node's numbers not in yet
				}
			}
			return true
		}
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("snapshot from %s: %+v", base, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, nd := range s.Nodes {
			w, found := want[nd.Address]
			if !found || nd.ID != w.name || nd.Unavailable || nd.MemberID == "" {
				t.Errorf("snapshot from %s: node %+v, want one of %v", base, nd, want)
			}
		}
		if s.Nodes[0].Address == s.Nodes[1].Address {
			t.Errorf("snapshot from %s lists one node twice: %+v", base, s.Nodes)
		}
	}
}
