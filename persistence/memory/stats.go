package memory

import (
	"context"
	"fmt"

	"github.com/spinmatch/spinmatch/persistence"
)

// Stats returns the number of records of each kind, under the names of
// the PostgreSQL store's tables; every count is exact, and there are no
// connections.
func (s *Store) Stats(ctx context.Context) (persistence.StoreStats, error) {
	if err := ctx.Err(); err != nil {
		return persistence.StoreStats{}, fmt.Errorf("memory: stats: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reports := 0
	for _, r := range s.reports {
		reports += len(r)
	}
	return persistence.StoreStats{
		Store: "memory",
		Rows: map[string]int64{
			"profiles":      int64(len(s.profiles)),
			"matches":       int64(len(s.matches)),
			"votes":         int64(s.nVotes),
			"match_results": int64(s.nResults),
			"match_members": int64(len(s.claims)),
			"queue_entries": int64(len(s.queue)),
			"wait_samples":  int64(len(s.waits)),
			"audit_log":     int64(len(s.audit)),
			"reports":       int64(reports),
		},
		Estimated:   []string{},
		Connections: map[string]int64{},
	}, nil
}
