package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// MatchHistory returns the user's mutual matches, newest first (by the
// match's CreatedAt, then by id), at most limit; limit <= 0 means none.
func (s *Store) MatchHistory(ctx context.Context, userID string, limit int) ([]persistence.HistoryEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: match history: %w", err)
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	var out []persistence.HistoryEntry
	for _, id := range s.byUser[userID] {
		m := s.matches[id]
		if m.result != outcomeMutual {
			continue
		}
		partner, _ := partnerOf(m, userID)
		out = append(out, persistence.HistoryEntry{MatchID: id, Partner: partner, MatchedAt: m.created()})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b persistence.HistoryEntry) int {
		if c := b.MatchedAt.Compare(a.MatchedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.MatchID, a.MatchID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RecentPartners returns the distinct users userID was matched with at or
// after since, whatever the match's result, most recent first.
func (s *Store) RecentPartners(ctx context.Context, userID string, since time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: recent partners: %w", err)
	}
	type seen struct {
		id string
		at time.Time
	}
	latest := make(map[string]time.Time)
	s.mu.Lock()
	for _, id := range s.byUser[userID] {
		m := s.matches[id]
		created := m.created()
		if created.Before(since) {
			continue
		}
		partner, _ := partnerOf(m, userID)
		if at, ok := latest[partner.UserID]; !ok || created.After(at) {
			latest[partner.UserID] = created
		}
	}
	s.mu.Unlock()
	list := make([]seen, 0, len(latest))
	for id, at := range latest {
		list = append(list, seen{id, at})
	}
	slices.SortFunc(list, func(a, b seen) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.id
	}
	return out, nil
}

// partnerOf returns the other side of m from userID, and whether userID
// takes part in m at all.
func partnerOf(m *record, userID string) (persistence.Participant, bool) {
	switch userID {
	case m.A.UserID:
		return m.B, true
	case m.B.UserID:
		return m.A, true
	}
	return persistence.Participant{}, false
}
