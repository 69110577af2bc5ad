//go:build !race

// Excluded under -race like multinode_test.go: several nodes share the
// process, where the pinned protoactor-go races with itself.

package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// TestClusterKeyAdmission starts a keyed node and checks who may join it:
// a node without a key or with another key is refused (its join fails and
// the keyed node never lists it), while nodes in the middle of a key
// rotation (every node holds both keys, some with the old one primary,
// some with the new one) join and serve grains to each other over the
// remote.
func TestClusterKeyAdmission(t *testing.T) {
	oldKey, newKey := clustertest.Keys()[0], []byte("spinmatch-rotated-cluster-key-02")
	otherKey := []byte("somebody-elses-cluster-key-00003")
	first := clustertest.Config("127.0.0.1", "keyed", newEchoKind())
	first.Keys = [][]byte{oldKey, newKey} // rotation step 1: new key added as secondary
	keyed := clustertest.Start(t, first)

	onlyKeyed := func(t *testing.T, n *cluster.Node) {
		t.Helper()
		if ms := n.Members(); len(ms) != 1 || ms[0].ID != n.ID() {
			t.Fatalf("%s lists %+v, want only itself", n.ID(), ms)
		}
	}
	for _, tc := range []struct {
		name string
		keys [][]byte
	}{
		{"without a key", nil},
		{"with another key", [][]byte{otherKey}},
	} {
		t.Run("a node "+tc.name+" is refused", func(t *testing.T) {
			cfg := clustertest.Config("127.0.0.2", "outsider", newEchoKind())
			cfg.Keys = tc.keys
			cfg.Join = []string{keyed.MemberlistAddr()}
			// protoactor's start takes about a second; the join is retried
			// (every 250 ms) until the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			n, err := cluster.Start(ctx, cfg)
			if err == nil {
				members := n.Members()
				clustertest.Stop(t, n)
				t.Fatalf("the outsider joined; it sees %+v", members)
			}
			if !strings.Contains(err.Error(), "join") {
				t.Fatalf("Start err = %v, want a failed join", err)
			}
			t.Logf("refused: %v", err)
			onlyKeyed(t, keyed)
		})
	}

	t.Run("nodes in the middle of a rotation join and reach each other's grains", func(t *testing.T) {
		second := clustertest.Config("127.0.0.2", "rotated", newEchoKind())
		second.Keys = [][]byte{newKey, oldKey} // step 2: new key primary
		second.Join = []string{keyed.MemberlistAddr()}
		third := clustertest.Config("127.0.0.3", "rotating", newEchoKind())
		third.Keys = [][]byte{oldKey, newKey} // still at step 1
		third.Join = []string{second.Join[0]}
		nodes := []*cluster.Node{keyed, clustertest.Start(t, second), clustertest.Start(t, third)}
		for _, n := range nodes {
			clustertest.Eventually(t, 10*time.Second, n.ID()+" sees three members", func() bool {
				return n.Ready() && len(n.Members()) == 3
			})
		}
		// Every identity's grain answers through every node: requests from
		// one node to another cross the mutual-TLS remote in every pairing
		// of primaries.
		owners := map[string]bool{}
		for i := range 12 {
			id := fmt.Sprintf("rotation-%02d", i)
			var want string
			for _, n := range nodes {
				got, err := owner(n, id)
				if err != nil {
					t.Fatal(err)
				}
				if want != "" && got != want {
					t.Fatalf("%s: owner %s via %s, %s before", id, got, n.ID(), want)
				}
				want = got
			}
			owners[want] = true
		}
		if len(owners) < 2 {
			t.Fatalf("all identities on %v: the remote path was not exercised", owners)
		}
		if !slices.ContainsFunc(nodes[1:], func(n *cluster.Node) bool { return owners[n.ID()] }) {
			t.Fatalf("no identity on a rotating node: %v", owners)
		}
	})
}
