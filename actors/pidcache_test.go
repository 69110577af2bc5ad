package actors

import (
	"testing"
	"time"

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
