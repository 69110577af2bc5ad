package actors

import (
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
)

// MaxPoolWaiters bounds the waiting line one PoolWaitersRequest returns,
// so one answer stays small enough to cross nodes.
const MaxPoolWaiters = 10_000

// waiters lists the line oldest first with each waiter's position, at most
// m.Limit (or MaxPoolWaiters) entries. Cost: O(n) over the line.
func (p *matchPool) waiters(m *msg.PoolWaitersRequest) *msg.PoolWaiters {
	limit := int(m.GetLimit())
	if limit <= 0 || limit > MaxPoolWaiters {
		limit = MaxPoolWaiters
	}
	out := &msg.PoolWaiters{Pool: p.name, Total: int32(p.q.Len())}
	out.Waiters = make([]*msg.PoolWaiter, 0, min(limit, p.q.Len()))
	p.q.Each(func(w *pool.Waiter, pos int) bool {
		if len(out.Waiters) == limit {
			out.Truncated = true
			return false
		}
		out.Waiters = append(out.Waiters, &msg.PoolWaiter{
			UserId: w.UserID, Gender: w.Gender.String(), Seeking: w.Seeking.Strings(),
			Position: int32(pos), EnqueuedAtMs: ms(w.EnqueuedAt),
		})
		return true
	})
	return out
}
