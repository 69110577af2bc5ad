package actors

import (
	"context"
	"strings"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
)

// The test endpoints' views (PROTOCOL.md, Test endpoints): a pool's line
// and the store's figures.

// CheckPool returns the pool a caller names ("" is the default pool), or
// the typed bad_request of a name that is malformed or not offered
// (SPIN_POOLS); nothing else may activate a pool grain.
func (s *System) CheckPool(name string) (string, *msg.Error) {
	if name == "" {
		return defaultPoolIn(s.d.Config.Pools), nil
	}
	if !ValidPoolName(name) {
		return "", NewError(CodeBadRequest, "The pool name may use a-z, 0-9, '_' and '-', up to 32 characters.")
	}
	if !poolAllowed(name, s.d.Config.Pools) {
		return "", NewError(CodeBadRequest, "That pool isn't offered here. Choose one of: "+strings.Join(s.d.Config.Pools, ", ")+".")
	}
	return name, nil
}

// PoolWaiters returns the line of a pool (checked with CheckPool), oldest
// first with positions, at most MaxPoolWaiters entries.
func (s *System) PoolWaiters(ctx context.Context, pool string) (*msg.PoolWaiters, error) {
	return ask[*msg.PoolWaiters](ctx, s.d, pool, KindMatchPool, &msg.PoolWaitersRequest{Limit: MaxPoolWaiters}, s.d.Config.RequestTimeout)
}

// StoreStats returns the store's row counts and connection state.
func (s *System) StoreStats(ctx context.Context) (persistence.StoreStats, error) {
	return s.d.Store.Stats(ctx)
}
