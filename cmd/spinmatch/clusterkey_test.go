//go:build !race

// Excluded under -race like proccluster_test.go: each process is a
// cluster member.

package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClusterKeyProcesses runs two real processes sharing SPIN_CLUSTER_KEY
// (they form a cluster), then a third process pointed at them, first with
// another key and then with none: its every join is refused, it never gets
// ready, and the two keyed nodes keep seeing two members. Each process has
// its own in-memory store: this is about membership only.
func TestClusterKeyProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test: not in -short")
	}
	c := &procCluster{t: t}
	c.env = []string{"SPIN_ENV=development", "JWT_SECRET=" + testSecret, "SPIN_CLUSTER_KEY=" + devClusterKey, "SPIN_LOG_LEVEL=warn"}
	for i, host := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		c.nodes = append(c.nodes, &procNode{
			host: host, http: freePortOn(t, host), gossip: freePortOn(t, host), remote: freePortOn(t, host),
			name: fmt.Sprintf("k%d", i+1),
		})
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.running() {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
		if t.Failed() {
			for _, n := range c.nodes {
				if n.logs != nil {
					t.Logf("---- logs of %s ----\n%s", n.name, tail(n.logs.String(), 40))
				}
			}
		}
	})
	outsider := c.nodes[2]
	c.launch(0)
	c.launch(1)
	c.waitReady(0)
	c.waitReady(1)
	c.waitMembers(2)

	otherKey := base64.StdEncoding.EncodeToString([]byte("somebody-elses-cluster-key-00003"))
	for _, tc := range []struct {
		name, key, refusal string // refusal: what the outsider's failed join says
	}{
		{"another key", otherKey, "no installed keys could decrypt the message"},
		{"no key", "", "remote state is encrypted and encryption is not configured"},
	} {
		t.Run("a node with "+tc.name+" is not admitted", func(t *testing.T) {
			outsider.env = []string{"SPIN_CLUSTER_KEY=" + tc.key}
			c.launch(2)
			// Two refused join rounds, seen in the outsider's own log.
			waitFor(t, 20*time.Second, "the outsider's joins to be refused", func() bool {
				return strings.Count(outsider.logs.String(), tc.refusal) >= 2
			})
			if got := status(outsider.base() + "/readyz"); got != http.StatusServiceUnavailable {
				t.Fatalf("the outsider's /readyz: %d, want 503", got)
			}
			for _, n := range c.nodes[:2] {
				if got := n.members(); got != 2 {
					t.Fatalf("%s sees %d members, want 2", n.name, got)
				}
			}
			c.kill(2)
		})
	}

	t.Run("the same node with the key joins", func(t *testing.T) {
		outsider.env = nil
		c.launch(2)
		c.waitReady(2)
		c.waitMembers(3)
	})
}
