//go:build !race

// The multi-process cluster fixture: real spinmatch OS processes (the test
// binary re-executing main) on 127.0.0.1-3 against one PostgreSQL
// database. Excluded under -race like cluster_test.go: each process is a
// cluster member, where the pinned protoactor-go races with itself.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
)

// procNode is one node's fixed addresses and, while it runs, its process.
type procNode struct {
	host                 string
	http, gossip, remote int // ports
	name                 string
	env                  []string // this node's environment, after the cluster's
	cmd                  *exec.Cmd
	logs                 *syncBuffer
	exited               chan struct{} // closed when the process has exited
}

func (n *procNode) base() string      { return fmt.Sprintf("http://%s:%d", n.host, n.http) }
func (n *procNode) actorAddr() string { return fmt.Sprintf("%s:%d", n.host, n.remote) }
func (n *procNode) gossipAddr() string {
	return fmt.Sprintf("%s:%d", n.host, n.gossip)
}
func (n *procNode) running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// procCluster is three spinmatch processes sharing one database.
type procCluster struct {
	t     *testing.T
	db    string
	pool  *pgxpool.Pool
	nodes []*procNode
	env   []string
	gen   int // restarts so far, for node names
}

// freePortOn returns a TCP port on host that was free a moment ago (memberlist
// also binds UDP on it, which is free whenever TCP is on loopback here).
func freePortOn(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcCluster starts three nodes on 127.0.0.1, .2 and .3 with extra
// environment env (the defaults are a 30 s date and a 10 s vote window).
func startProcCluster(t *testing.T, env ...string) *procCluster {
	t.Helper()
	c := &procCluster{t: t, db: pgtest.NewDatabase(t)}
	pool, err := pgxpool.New(context.Background(), c.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	c.pool = pool
	c.env = append([]string{
		"SPIN_ENV=development", "JWT_SECRET=" + testSecret, "DATABASE_URL=" + c.db, "SPIN_CLUSTER_KEY=" + devClusterKey,
		"SPIN_DATE_S=30", "SPIN_VOTE_S=10", "SPIN_REMATCH_COOLDOWN_S=0", "SPIN_LOG_LEVEL=info",
		// The robots all come from 127.0.0.1, a load generator: exempt from
		// the per-address limits (their per-user limits hold).
		"SPIN_LIMIT_EXEMPT=127.0.0.1/32",
	}, env...)
	for i, host := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		c.nodes = append(c.nodes, &procNode{
			host: host, http: freePortOn(t, host), gossip: freePortOn(t, host), remote: freePortOn(t, host),
			name: fmt.Sprintf("n%d", i+1),
		})
	}
	for i := range c.nodes {
		c.launch(i)
	}
	for i := range c.nodes {
		c.waitReady(i)
	}
	c.waitMembers(3)
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
					t.Logf("---- logs of %s (%s) ----\n%s", n.name, n.host, tail(grepOut(n.logs.String(), "EndpointWriter", "sendGossip"), 80))
				}
			}
		}
	})
	return c
}

// grepOut drops the lines that contain any of the words.
func grepOut(s string, words ...string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		drop := false
		for _, w := range words {
			drop = drop || strings.Contains(l, w)
		}
		if !drop {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// launch starts node i's process; it joins every other node.
func (c *procCluster) launch(i int) {
	c.t.Helper()
	n := c.nodes[i]
	var seeds []string
	for j, o := range c.nodes {
		if j != i {
			seeds = append(seeds, o.gossipAddr())
		}
	}
	c.gen++
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Env = append(cmd.Env, c.env...)
	cmd.Env = append(cmd.Env, n.env...)
	cmd.Env = append(cmd.Env,
		fmt.Sprintf("SPIN_ADDR=%s:%d", n.host, n.http),
		"SPIN_CLUSTER_BIND="+n.gossipAddr(),
		"SPIN_REMOTE_ADDR="+n.actorAddr(),
		"SPIN_CLUSTER_JOIN="+strings.Join(seeds, ","),
		fmt.Sprintf("SPIN_NODE_NAME=%s-%d", n.name, c.gen))
	n.logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", n.name, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(n.exited)
}

// waitReady polls node i's /readyz until it answers 200.
func (c *procCluster) waitReady(i int) {
	c.t.Helper()
	n := c.nodes[i]
	waitFor(c.t, 30*time.Second, n.name+" ready", func() bool {
		res, err := http.Get(n.base() + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// waitMembers waits until every live node is ready and sees want members
// (its /readyz says how many).
func (c *procCluster) waitMembers(want int) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, fmt.Sprintf("%d members", want), func() bool {
		live := 0
		for _, n := range c.nodes {
			if !n.running() {
				continue
			}
			if n.members() != want {
				return false
			}
			live++
		}
		return live == want
	})
}

// members is how many members the node sees, from its /readyz (-1 when it
// does not answer ready).
func (n *procNode) members() int {
	res, err := http.Get(n.base() + "/readyz")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	var body struct {
		Members int `json:"members"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&body) != nil {
		return -1
	}
	return body.Members
}

// kill sends SIGKILL to node i and waits for it to exit.
func (c *procCluster) kill(i int) time.Time {
	c.t.Helper()
	n := c.nodes[i]
	at := time.Now()
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	return at
}

// term sends SIGTERM to node i and returns how long it took to exit.
func (c *procCluster) term(i int) time.Duration {
	c.t.Helper()
	n := c.nodes[i]
	at := time.Now()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s did not stop on SIGTERM", n.name)
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		c.t.Errorf("%s exited with %d after SIGTERM", n.name, code)
	}
	return time.Since(at)
}

// restart starts node i again (a fresh process, so a fresh actor system
// id) and waits until the cluster has three members again.
func (c *procCluster) restart(i int) {
	c.t.Helper()
	c.launch(i)
	c.waitReady(i)
	c.waitMembers(c.liveCount())
}

func (c *procCluster) liveCount() int {
	k := 0
	for _, n := range c.nodes {
		if n.running() {
			k++
		}
	}
	return k
}

// owner returns the index of the node that owns kind/id when the nodes in
// live form the cluster: the same rendezvous hash the servers use.
func (c *procCluster) owner(kind, id string, live ...int) int {
	var members protocluster.Members
	for _, i := range live {
		n := c.nodes[i]
		members = append(members, &protocluster.Member{
			Id: n.name, Host: n.host, Port: int32(n.remote),
			Kinds: []string{actors.KindUserSession, actors.KindMatchPool, actors.KindMatch, actors.KindPoolDirectory, actors.KindLimiter, actors.KindAlerts},
		})
	}
	r := protocluster.NewRendezvous()
	r.UpdateMembers(members)
	addr := r.GetByClusterIdentity(protocluster.NewClusterIdentity(id, kind))
	for _, i := range live {
		if c.nodes[i].actorAddr() == addr {
			return i
		}
	}
	c.t.Fatalf("no owner for %s/%s", kind, id)
	return -1
}

// name returns prefix+k for the first k whose kind/id is owned by want
// while all three nodes are up, and by wantAfter once want is gone (-1:
// any survivor).
func (c *procCluster) name(prefix, kind string, want int, others []int, wantAfter int) string {
	c.t.Helper()
	for k := 0; k < 1000; k++ {
		id := fmt.Sprintf("%s%d", prefix, k)
		if c.owner(kind, id, 0, 1, 2) != want {
			continue
		}
		if wantAfter >= 0 && c.owner(kind, id, others...) != wantAfter {
			continue
		}
		return id
	}
	c.t.Fatalf("no %s name for node %d", kind, want)
	return ""
}
