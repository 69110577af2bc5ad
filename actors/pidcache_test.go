package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence"
)

// TestSettledMatchLeavesNoPID: the Router caches a Match's PID while its
// users date and vote, and forgets it once they have the result (a
// settled Match is not sent to again; at 750 matches a second its PIDs
// filled the cache to its bound, about 30 MB).
func TestSettledMatchLeavesNoPID(t *testing.T) {
	sys, d := boundedNode(t, TestConfig(), nil)
	putProfile(t, sys, "ann", "female", "cache", "male")
	putProfile(t, sys, "bob", "male", "cache", "female")
	if q := command(t, sys, "ann", spinCmd()).GetQueued(); q == nil {
		t.Fatal("Ann was not queued")
	}
	command(t, sys, "bob", spinCmd())
	var matchID string
	clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be matched", func() bool {
		matchID = command(t, sys, "ann", statusCmd()).GetState().GetMatch().GetMatchId()
		return matchID != "" && command(t, sys, "bob", statusCmd()).GetState().GetState() == StateMatched
	})
	key := KindMatch + "/" + matchID
	if d.Router.cache.get(key) == nil {
		t.Fatalf("%s is not cached while Ann and Bob are matched", key)
	}
	for _, id := range []string{"ann", "bob"} {
		// A command each: the session may still read its command after
		// it answered, so one message must not be sent to two sessions.
		yes := &msg.Command{Kind: &msg.Command_Vote{Vote: &msg.Vote{MatchId: matchID, Choice: persistence.ChoiceYes}}}
		if ev := command(t, sys, id, yes); ev.GetError() != nil {
			t.Fatalf("%s's vote: %v", id, ev.GetError())
		}
	}
	clustertest.Eventually(t, 10*time.Second, "both to have the result", func() bool {
		return command(t, sys, "ann", statusCmd()).GetState().GetState() == StateIdle &&
			command(t, sys, "bob", statusCmd()).GetState().GetState() == StateIdle
	})
	if pid := d.Router.cache.get(key); pid != nil {
		t.Fatalf("%s still cached after the result: %v", key, pid)
	}
}

// TestMatchFoundCarriesTheGrain: the MatchFound a Match grain sends each
// session names the grain, so the session's node caches its PID and the
// votes need no activation lookup (on three nodes about one lookup, a
// request and its answer across nodes, a spin). Learn takes a PID only
// at the grain's current owner.
func TestMatchFoundCarriesTheGrain(t *testing.T) {
	var mu sync.Mutex
	grains := map[string]*actor.PID{} // session -> the Grain of its MatchFound
	hooks := &testHooks{message: func(kind, id string, m any) {
		if f, ok := m.(*msg.MatchFound); ok && kind == KindUserSession {
			mu.Lock()
			grains[id] = f.Grain
			mu.Unlock()
		}
	}}
	sys, d := boundedNode(t, TestConfig(), hooks)
	putProfile(t, sys, "ann", "female", "learn", "male")
	putProfile(t, sys, "bob", "male", "learn", "female")
	command(t, sys, "ann", spinCmd())
	command(t, sys, "bob", spinCmd())
	var matchID string
	clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be matched", func() bool {
		matchID = command(t, sys, "ann", statusCmd()).GetState().GetMatch().GetMatchId()
		return matchID != "" && command(t, sys, "bob", statusCmd()).GetState().GetState() == StateMatched
	})
	// A session may take the match from its own StartMatch (a REST spin,
	// or its refresh tick) before the grain's MatchFound reaches it.
	clustertest.Eventually(t, 5*time.Second, "both sessions to get the grain's MatchFound", func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, a := grains["ann"]
		_, b := grains["bob"]
		return a && b
	})
	cached := d.Router.cache.get(KindMatch + "/" + matchID)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"ann", "bob"} {
		g := grains[id]
		if g == nil || cached == nil || g.Id != cached.Id || g.Address != cached.Address {
			t.Errorf("%s's MatchFound names %v, the Match grain is %v", id, g, cached)
		}
	}

	d.Router.Forget(KindMatch, matchID)
	d.Router.Learn(KindMatch, matchID, actor.NewPID("127.0.0.9:1", cached.GetId()))
	if p := d.Router.cache.get(KindMatch + "/" + matchID); p != nil {
		t.Errorf("a PID on a node that does not own the match was cached: %v", p)
	}
	d.Router.Learn(KindMatch, matchID, cached)
	if p := d.Router.cache.get(KindMatch + "/" + matchID); p == nil || p.Id != cached.Id {
		t.Errorf("the owner's PID was not cached: %v", p)
	}
}
