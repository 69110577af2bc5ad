// Package clustertest starts real cluster nodes on loopback for tests of
// packages that need grains: real memberlist sockets, real gRPC remote.
// Every node it starts is shut down by tb.Cleanup. It holds no state of its
// own; helpers are safe to call from any test goroutine.
package clustertest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/cluster"
)

// StartTimeout bounds Start plus the wait for readiness; protoactor's own
// startup takes about a second.
const StartTimeout = 20 * time.Second

// Logger returns a logger for test nodes: warnings to stderr under -v,
// nothing otherwise.
func Logger() *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Keys returns the cluster keys of test nodes (one 32-byte key, a fresh
// slice on every call), so tests run production's encrypted gossip and
// mutual-TLS remote.
func Keys() [][]byte { return [][]byte{[]byte("spinmatch-clustertest-key-000001")} }

// Config returns cluster.DefaultLocalConfig bound to host (an address in
// 127.0.0.0/8) with free ports, the given node name and kinds, Keys and
// Logger.
func Config(host, name string, kinds ...*protocluster.Kind) cluster.Config {
	cfg := cluster.DefaultLocalConfig()
	cfg.Keys = Keys()
	cfg.NodeName = name
	cfg.Bind = host + ":0"
	cfg.RemoteAddr = host + ":0"
	cfg.Kinds = kinds
	cfg.Logger = Logger()
	return cfg
}

// Start starts a node from cfg, waits until it is in its own topology and
// registers its shutdown with tb.Cleanup. It fails tb on error.
func Start(tb testing.TB, cfg cluster.Config) *cluster.Node {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("clustertest: start %s: %v", cfg.NodeName, err)
	}
	tb.Cleanup(func() { Stop(tb, n) })
	if err := n.WaitReady(ctx); err != nil {
		tb.Fatalf("clustertest: %s: %v", cfg.NodeName, err)
	}
	return n
}

// Local starts a one-node cluster on 127.0.0.1 hosting kinds.
func Local(tb testing.TB, kinds ...*protocluster.Kind) *cluster.Node {
	tb.Helper()
	return Start(tb, Config("127.0.0.1", "local", kinds...))
}

// Stop shuts n down within 15s and reports an error on tb; calling it
// again (for example from Cleanup) is harmless.
func Stop(tb testing.TB, n *cluster.Node) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		tb.Errorf("clustertest: shutdown %s: %v", n.ID(), err)
	}
}

// Eventually polls cond every 20ms until it holds or timeout passes, then
// fails tb with what.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("clustertest: not within %v: %s", timeout, what)
		}
		<-tick.C
	}
}
