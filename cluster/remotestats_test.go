//go:build !race

// Excluded under -race for the reasons in multinode_test.go (two nodes in
// one process).

package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// TestRemoteStatsCountWhatCrosses: the requests one node sends to grains
// on another show in its spinmatch_remote_* counters, by message type,
// with their bytes; the other node's own counters count its answers.
func TestRemoteStatsCountWhatCrosses(t *testing.T) {
	a := clustertest.Start(t, clustertest.Config("127.0.0.1", "n1", newEchoKind()))
	cfg := clustertest.Config("127.0.0.2", "n2", newEchoKind())
	cfg.Join = []string{a.MemberlistAddr()}
	b := clustertest.Start(t, cfg)
	clustertest.Eventually(t, 10*time.Second, "both nodes to see two members", func() bool {
		return a.Ready() && b.Ready() && len(a.Members()) == 2 && len(b.Members()) == 2
	})
	// Identities that b owns, asked from a: each is a request from a to b
	// and an answer from b to a.
	asked := 0
	for i := 0; asked < 5 && i < 200; i++ {
		id := fmt.Sprintf("user-%03d", i)
		got, err := owner(a, id)
		if err != nil {
			t.Fatal(err)
		}
		if got == b.ID() {
			asked++
		}
	}
	if asked < 5 {
		t.Fatalf("only %d of 200 identities on n2", asked)
	}
	sent := gather(t, a)
	if n := sent["spinmatch_remote_messages_total/google.protobuf.StringValue"]; n < float64(asked) {
		t.Errorf("n1 counted %v StringValue requests sent, want at least %d (%v)", n, asked, sent)
	}
	if sent["spinmatch_remote_message_bytes_total/google.protobuf.StringValue"] <= 0 {
		t.Errorf("n1 counted no bytes of its requests (%v)", sent)
	}
	if sent["spinmatch_remote_batches_total"] <= 0 || sent["spinmatch_remote_sent_bytes_total"] <= 0 {
		t.Errorf("n1 counted no batches or no bytes (%v)", sent)
	}
	answered := gather(t, b)
	if n := answered["spinmatch_remote_messages_total/google.protobuf.StringValue"]; n < float64(asked) {
		t.Errorf("n2 counted %v StringValue answers sent, want at least %d (%v)", n, asked, answered)
	}
}

// gather reads n's spinmatch_remote_* counters, keyed by name and, for the
// counters by type, name/type.
func gather(t *testing.T, n *cluster.Node) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(n.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" {
					key += "/" + l.GetValue()
				}
			}
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
