package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// matchWatch records the activations of the Match grains and when they
// stop.
type matchWatch struct {
	mu      sync.Mutex
	started map[string]int
	stopped map[string]time.Time
}

func (w *matchWatch) see(kind, id string, m any) {
	if kind != KindMatch {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch m.(type) {
	case *actor.Started:
		w.started[id]++ // id is "" before Started: counted under ""
	case *actor.Stopping:
		w.stopped[id] = time.Now()
	}
}

// TestSettledMatchLingersOnlyForResends: a settled Match grain stays
// active for matchLinger (the delivery timeout and the request timeout:
// resends of what was sent before it settled), then passivates; it used to
// stay a minute, 45,000 grains at 750 matches a second. A repeat of a
// vote after it passivated is answered by the session from the store,
// without activating the grain again.
func TestSettledMatchLingersOnlyForResends(t *testing.T) {
	cfg := TestConfig()
	cfg.DateLength, cfg.VoteWindow = 30*time.Second, 10*time.Second // voting stays open throughout
	cfg.DeliveryTimeout, cfg.RequestTimeout = 600*time.Millisecond, 400*time.Millisecond
	linger := cfg.matchLinger()
	if linger != time.Second {
		t.Fatalf("linger %v, want the delivery and request timeouts' sum, 1s", linger)
	}
	w := &matchWatch{started: map[string]int{}, stopped: map[string]time.Time{}}
	sys, _ := boundedNode(t, cfg, &testHooks{message: w.see})
	const pool = "linger"
	putProfile(t, sys, "ann", "female", pool, "male")
	putProfile(t, sys, "bob", "male", pool, "female")
	state := func(id string) *msg.State { return command(t, sys, id, statusCmd()).GetState() }
	command(t, sys, "ann", spinCmd())
	command(t, sys, "bob", spinCmd())
	clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be matched", func() bool {
		return state("ann").State == StateMatched && state("bob").State == StateMatched
	})
	id := state("ann").GetMatch().GetMatchId()
	vote := func(u string) *msg.Event {
		return command(t, sys, u, &msg.Command{Kind: &msg.Command_Vote{Vote: &msg.Vote{MatchId: id, Choice: "yes"}}})
	}
	for _, u := range []string{"ann", "bob"} {
		if r := vote(u).GetVoteRecorded(); r == nil {
			t.Fatalf("%s's vote was not recorded", u)
		}
	}
	settled := time.Now()
	clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be idle again", func() bool {
		return state("ann").State == StateIdle && state("bob").State == StateIdle
	})
	clustertest.Eventually(t, linger+5*time.Second, "the settled Match grain to passivate", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		_, ok := w.stopped[id]
		return ok
	})
	w.mu.Lock()
	stoppedAt := w.stopped[id]
	w.mu.Unlock()
	if d := stoppedAt.Sub(settled); d < linger-100*time.Millisecond {
		t.Fatalf("the Match grain stopped %v after both votes, before its linger of %v", d, linger)
	}
	// A repeat of a recorded vote, after the grain is gone: the session
	// answers from the store (vote_recorded), without the grain.
	if r := vote("ann").GetVoteRecorded(); r == nil || r.Choice != "yes" {
		t.Fatalf("a repeated vote after the grain passivated: %v, want vote_recorded yes", r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := w.started[""]; n != 1 {
		t.Fatalf("%d Match activations, want the one", n)
	}
}
