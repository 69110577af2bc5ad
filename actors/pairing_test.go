package actors

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// gatedStore holds every CreateMatch until the test opens the gate: the
// gap in which a waiter is paired but its session has not heard of it.
type gatedStore struct {
	*memory.Store
	gate chan struct{}
}

func (g *gatedStore) CreateMatch(ctx context.Context, m persistence.Match) (bool, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return g.Store.CreateMatch(ctx, m)
}

// TestNoDoublePairingWhileTheMatchIsWritten reproduces the double
// pairing: Ann waits, Bob's spin pairs them, and while the match is being
// written Ann's session re-announces her place several times. The pool
// must answer with the pairing instead of queueing her again, so Cal, who
// spins meanwhile, is queued rather than paired with Ann.
func TestNoDoublePairingWhileTheMatchIsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster node")
	}
	cfg := TestConfig()
	cfg.Refresh = 50 * time.Millisecond // several re-announcements while the write is held
	cfg.RematchCooldown = 0
	cfg.DateLength, cfg.VoteWindow = 30*time.Second, 5*time.Second // outlive the held write
	store := &gatedStore{Store: memory.New(), gate: make(chan struct{})}
	d := &Deps{Config: cfg, Store: store, Logger: clustertest.Logger(), Metrics: NewMetrics(prometheus.NewRegistry())}
	node := clustertest.Local(t, Kinds(d)...)
	sys := NewSystem(node.Cluster(), d)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const pool = "gap"
	for id, p := range map[string]*msg.ProfileData{
		"ann": {DisplayName: "Ann", Gender: "female", Seeking: []string{"male"}, Pool: pool},
		"bob": {DisplayName: "Bob", Gender: "male", Seeking: []string{"female"}, Pool: pool},
		"cal": {DisplayName: "Cal", Gender: "male", Seeking: []string{"female"}, Pool: pool},
	} {
		if r, err := sys.PutProfile(ctx, id, p); err != nil || r.Error != nil {
			t.Fatalf("profile %s: %v %v", id, err, r.GetError())
		}
	}
	spin := func(id string) *msg.Event {
		t.Helper()
		ev, err := sys.Command(ctx, id, &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}})
		if err != nil {
			t.Fatalf("spin %s: %v", id, err)
		}
		return ev
	}
	state := func(id string) *msg.State {
		t.Helper()
		ev, err := sys.Command(ctx, id, &msg.Command{Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}})
		if err != nil {
			t.Fatalf("status %s: %v", id, err)
		}
		return ev.GetState()
	}

	if q := spin("ann").GetQueued(); q == nil || q.Queue.GetPosition() != 1 {
		t.Fatal("Ann was not queued first")
	}
	bob := make(chan *msg.Event, 1)
	go func() {
		ev, _ := sys.Command(ctx, "bob", &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}})
		bob <- ev
	}()
	waitingWomen := func() int32 { // from the pool itself (System.PoolStats caches for a second)
		st, err := ask[*msg.PoolStats](ctx, d, pool, KindMatchPool, &msg.PoolStatsRequest{}, time.Second)
		if err != nil {
			return -1
		}
		return st.Waiting["female"]
	}
	// The pairing is made (Ann left the queue) but cannot be written yet.
	clustertest.Eventually(t, 5*time.Second, "the pool to pair Ann with Bob", func() bool { return waitingWomen() == 0 })
	// Ann's session re-announces her place every 50 ms meanwhile; the pool
	// answers with the pairing and never queues her again.
	for end := time.Now().Add(10 * cfg.Refresh); time.Now().Before(end); {
		if n := waitingWomen(); n != 0 {
			t.Fatalf("%d women waiting while Ann's match is written: she was queued again", n)
		}
	}
	if q := spin("cal").GetQueued(); q == nil {
		t.Fatal("Cal's spin was not queued")
	}
	close(store.gate)
	ev := <-bob
	if ev == nil {
		t.Fatal("Bob's spin got no answer")
	}
	clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be matched", func() bool {
		return state("ann").State == StateMatched && state("bob").State == StateMatched
	})
	if s := state("cal"); s.State != StateQueued {
		t.Fatalf("Cal: %v, want still queued (Ann was paired once)", s)
	}
	m, err := store.ActiveMatch(ctx, "ann", time.Time{})
	if err != nil || (m.A.UserID != "bob" && m.B.UserID != "bob") {
		t.Fatalf("Ann's match in the store: %+v, %v; want the one with Bob", m, err)
	}
	if _, err := store.ActiveMatch(ctx, "cal", time.Time{}); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("Cal has a match in the store (%v): Ann was paired twice", err)
	}
	// The pool itself never paired her twice: the store had nothing to refuse.
	var refused dto.Metric
	if err := d.Metrics.DoublePairs.Write(&refused); err != nil {
		t.Fatal(err)
	}
	if n := refused.GetCounter().GetValue(); n != 0 {
		t.Fatalf("%v pairings refused by the store: the pool paired Ann twice", n)
	}
}

// TestInstantPairStartsOnce: a spin paired at once does not ask the Match
// grain to start the match a second time; the spinner learns of it from
// the grain's one MatchFound, like its partner, and both are matched.
func TestInstantPairStartsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster node")
	}
	cfg := TestConfig()
	cfg.Refresh = time.Minute // no refresh tick asks within the test
	var mu sync.Mutex
	starts, found := 0, map[string]int{}
	hooks := &testHooks{message: func(kind, id string, m any) {
		mu.Lock()
		defer mu.Unlock()
		switch m.(type) {
		case *msg.StartMatch:
			starts++
		case *msg.MatchFound:
			found[id]++
		}
	}}
	d := &Deps{Config: cfg, Store: memory.New(), Logger: clustertest.Logger(), Metrics: NewMetrics(prometheus.NewRegistry()), hooks: hooks}
	node := clustertest.Local(t, Kinds(d)...)
	sys := NewSystem(node.Cluster(), d)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for id, p := range map[string]*msg.ProfileData{
		"ann": {DisplayName: "Ann", Gender: "female", Seeking: []string{"male"}, Pool: "once"},
		"bob": {DisplayName: "Bob", Gender: "male", Seeking: []string{"female"}, Pool: "once"},
	} {
		if r, err := sys.PutProfile(ctx, id, p); err != nil || r.Error != nil {
			t.Fatalf("profile %s: %v %v", id, err, r.GetError())
		}
	}
	// The spins come from a socket (a REST spin asks the Match grain at
	// once, so that its answer can carry the match).
	events := make(chan *msg.Event, 16)
	sock := sys.ActorSystem().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if ev, ok := c.Message().(*msg.Event); ok && ev.Ref != "" {
			events <- ev
		}
	}))
	for _, id := range []string{"ann", "bob"} {
		sys.Deliver(id, &msg.Attach{Conn: sock}, nil)
		sys.Deliver(id, &msg.Command{Conn: sock, Ref: "spin-" + id, Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}}, nil)
		select {
		case ev := <-events:
			if ev.GetQueued() == nil || ev.Ref != "spin-"+id {
				t.Fatalf("spin %s: %v", id, ev)
			}
		case <-ctx.Done():
			t.Fatalf("spin %s: no answer", id)
		}
	}
	for _, id := range []string{"ann", "bob"} {
		clustertest.Eventually(t, 5*time.Second, id+" matched", func() bool {
			ev, err := sys.Command(ctx, id, &msg.Command{Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}})
			return err == nil && ev.GetState().GetState() == StateMatched
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if starts != 1 || found["ann"] != 1 || found["bob"] != 1 {
		t.Fatalf("StartMatch received %d times (want 1), MatchFound by session %v (want one each)", starts, found)
	}
}
