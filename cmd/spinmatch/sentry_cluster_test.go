//go:build !race

// Excluded under -race for the reason cluster_test.go gives (several nodes
// in one process: the pinned protoactor-go races with itself).

package main

import (
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// TestSentryTraceAcrossNodes: a user connected to node 1 whose session
// lives on node 2 spins; the socket's transaction (node 1) and the
// session's (node 2, its store and pool spans included) are one trace, the
// trace having crossed the remote inside the command. Not parallel: the
// Sentry client is process-wide.
func TestSentryTraceAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: not in -short")
	}
	rec := newSentryStandIn(t)
	dbURL := pgtest.NewDatabase(t)
	nodeConfig := func(host string, join ...string) Config {
		c := testConfig(t)
		c.DatabaseURL = dbURL
		c.SentryDSN, c.SentrySample, c.SentryTraces = rec.dsn(), 1, 1
		c.Addr = host + ":0"
		c.Cluster.Bind, c.Cluster.RemoteAddr, c.Cluster.Join = host+":0", host+":0", join
		return c
	}
	cfg := nodeConfig("127.0.0.1")
	flush, err := setupSentry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		flush()
		sentry.CurrentHub().BindClient(nil)
	})
	n1 := startNode(t, cfg)
	n2 := startNode(t, nodeConfig("127.0.0.2", n1.member.MemberlistAddr()))
	waitFor(t, 15*time.Second, "both nodes see two members", func() bool {
		return len(n1.member.Members()) == 2 && len(n2.member.Members()) == 2
	})
	id := pick(t, n1, "traced-user-", actors.KindUserSession, n2.member.Address())
	ann := devUser(t, "http://"+n1.Addr(), id, "Ann", "female", "tracepool", "male")
	ca, _ := ann.dial(t)
	ca.spin()

	session := rec.await(t, "the session's spin transaction", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "UserSession spin" && str(m, "user", "id") == id
	})
	if !hasSpan(session, "db", "PutQueueEntry") || !hasSpan(session, "grain.request", "MatchPool Enqueue") || !hasCrumb(session, "queued") {
		t.Errorf("session transaction on node 2: spans %v breadcrumbs %v", session["spans"], session["breadcrumbs"])
	}
	trace := str(session, "contexts", "trace", "trace_id")
	rec.await(t, "node 1's socket transaction in the same trace", "transaction", func(m map[string]any) bool {
		return str(m, "transaction") == "ws spin" && str(m, "contexts", "trace", "trace_id") == trace
	})
}
