package limit

import "time"

// Leases count the open sockets of one address across the cluster. Each
// socket holds a lease that its node renews well within the TTL; a
// socket that closes releases it, and the lease of a socket whose node
// died expires after the TTL, so a node loss leaks nothing. The table is
// bounded: at most hardMax(limit) entries.
type Leases struct {
	until map[string]time.Time // lease id -> expiry
}

// hardMax bounds the table beyond the cap: renewals of sockets that are
// already open are taken above the cap (a Limiter grain that moved
// relearns its leases from them), up to twice it.
func hardMax(limit int) int { return 2*limit + 16 }

// Acquire takes a lease for a new socket when fewer than limit are live at
// now; it reports whether it did. A lease id that is already held is
// renewed.
func (l *Leases) Acquire(id string, limit int, ttl time.Duration, now time.Time) bool {
	l.Prune(now)
	if _, ok := l.until[id]; ok {
		l.until[id] = now.Add(ttl)
		return true
	}
	if limit > 0 && len(l.until) >= limit {
		return false
	}
	l.put(id, ttl, now)
	return true
}

// Renew extends a live socket's lease, or takes it again (a fresh grain
// activation lost the table); it reports false only when the table is at
// its hard bound.
func (l *Leases) Renew(id string, limit int, ttl time.Duration, now time.Time) bool {
	if _, ok := l.until[id]; ok {
		l.until[id] = now.Add(ttl)
		return true
	}
	l.Prune(now)
	if limit > 0 && len(l.until) >= hardMax(limit) {
		return false
	}
	l.put(id, ttl, now)
	return true
}

func (l *Leases) put(id string, ttl time.Duration, now time.Time) {
	if l.until == nil {
		l.until = map[string]time.Time{}
	}
	l.until[id] = now.Add(ttl)
}

// Release drops a lease (the socket closed).
func (l *Leases) Release(id string) { delete(l.until, id) }

// Prune drops the leases that expired at now.
func (l *Leases) Prune(now time.Time) {
	for id, t := range l.until {
		if !t.After(now) {
			delete(l.until, id)
		}
	}
}

// Len returns the number of leases held (expired ones included until the
// next Prune).
func (l *Leases) Len() int { return len(l.until) }
