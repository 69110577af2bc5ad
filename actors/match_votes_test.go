package actors

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// votesCountingStore counts Votes calls; with hideCreated, CreateMatch
// says the match existed (as when another activation wrote it first).
type votesCountingStore struct {
	*memory.Store
	hideCreated bool
	votes       atomic.Int64
}

func (s *votesCountingStore) CreateMatch(ctx context.Context, m persistence.Match) (bool, error) {
	created, err := s.Store.CreateMatch(ctx, m)
	return created && !s.hideCreated, err
}

func (s *votesCountingStore) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	s.votes.Add(1)
	return s.Store.Votes(ctx, matchID)
}

// TestCreatedMatchSkipsTheVotesRead: a Match grain whose CreateMatch
// inserted the match knows no vote is stored and reads none before the
// first vote; one whose match existed reads the stored votes first (an
// earlier activation may have recorded one). Both settle as mutual.
func TestCreatedMatchSkipsTheVotesRead(t *testing.T) {
	for _, tc := range []struct {
		name        string
		hideCreated bool
		wantReads   bool
	}{
		{"created here", false, false},
		{"existed", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := TestConfig()
			cfg.DateLength, cfg.VoteWindow = 30*time.Second, 10*time.Second // voting stays open throughout
			store := &votesCountingStore{Store: memory.New(), hideCreated: tc.hideCreated}
			sys, _ := boundedNodeWith(t, &Deps{Config: cfg, Store: store, Logger: clustertest.Logger(), Metrics: NewMetrics(prometheus.NewRegistry())})
			const pool = "votes"
			putProfile(t, sys, "ann", "female", pool, "male")
			putProfile(t, sys, "bob", "male", pool, "female")
			state := func(id string) *msg.State { return command(t, sys, id, statusCmd()).GetState() }
			command(t, sys, "ann", spinCmd())
			command(t, sys, "bob", spinCmd())
			clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be matched", func() bool {
				return state("ann").State == StateMatched && state("bob").State == StateMatched
			})
			id := state("ann").GetMatch().GetMatchId()
			for _, u := range []string{"ann", "bob"} {
				ev := command(t, sys, u, &msg.Command{Kind: &msg.Command_Vote{Vote: &msg.Vote{MatchId: id, Choice: "yes"}}})
				if ev.GetVoteRecorded() == nil {
					t.Fatalf("%s's vote was not recorded: %v", u, ev)
				}
			}
			clustertest.Eventually(t, 5*time.Second, "the match to settle", func() bool {
				m, err := store.ActiveMatch(context.Background(), "ann", time.Time{})
				return err != nil && m.ID == ""
			})
			if reads := store.votes.Load(); (reads > 0) != tc.wantReads {
				t.Fatalf("%d Votes reads, want reads: %v", reads, tc.wantReads)
			}
		})
	}
}
