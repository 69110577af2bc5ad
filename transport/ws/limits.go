package ws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/clientip"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// maxInFlight bounds the commands one socket has sent to its session that
// the session has not processed yet (as large as the default signal
// burst, so trickle ICE written at once fits). A client that sends faster
// than its session works gets rate_limited for the excess (counted), so a
// socket never fills a session's mailbox; nothing accepted is dropped.
const maxInFlight = 100

// socketLimits is one socket's limits: its address's Limiter grain, its
// lease under the address's socket cap, and its commands in flight. key
// and lease are static after admitAddress ("" when the address is exempt
// or there is no cap); leases, slot and refused are static after
// keepLease; inFlight, released and renewing are atomic.
type socketLimits struct {
	sys      *actors.System
	key      string // Limiter grain identity; "" when exempt
	lease    string // lease id; "" when none is held
	inFlight atomic.Int32
	released atomic.Bool
	renewing atomic.Bool // a renewal is in flight (renewAll)

	leases  *wheel[*socketLimits] // nil until keepLease puts the lease on it
	slot    int
	refused func()
}

// admitAddress checks an upgrade against the address's upgrade budget and
// socket cap (one Limiter grain request, unless the address is exempt),
// before the token is looked at, so a flood of upgrades with bad tokens is
// cut too. It answers the refusal itself and returns nil then; otherwise
// the caller releases the result when the socket is done.
func (h *Handler) admitAddress(w http.ResponseWriter, r *http.Request) *socketLimits {
	ips := h.cfg.ClientIP
	if ips == nil {
		ips = clientip.New(nil, nil)
	}
	addr := ips.Addr(r)
	l := &socketLimits{sys: h.sys}
	cfg := h.sys.Limits()
	if !ips.Exempt(addr) {
		l.key = clientip.Key(addr)
		if cfg.SocketsPerAddress > 0 {
			l.lease = newLeaseID()
		}
		d, capped := h.sys.TakeAddress(r.Context(), l.key, limit.Upgrade, l.lease)
		switch {
		case capped:
			wire.SetCapHeaders(w.Header(), limit.Address, limit.Sockets, cfg.SocketsPerAddress, d.RetryAfter)
			h.writeErr(w, actors.CodeRateLimited, "Too many connections from your network right now. Close a tab or try again in a moment.")
			return nil
		case !d.Allowed:
			h.refuse(w, limit.Address, cfg.Address[limit.Upgrade], d)
			return nil
		}
	}
	return l
}

// admitUser checks an upgrade of userID's socket against the user's
// upgrade budget (one session request); the user's socket cap is the
// session's (Attach). It answers a refusal itself and reports false then.
func (h *Handler) admitUser(w http.ResponseWriter, r *http.Request, userID string) bool {
	d, err := h.sys.TakeUser(r.Context(), userID, limit.Upgrade)
	if err != nil {
		h.log.Error("ws: session unreachable at upgrade", "err", err)
		h.writeErr(w, actors.CodeUnavailable, "We can't reach our servers right now. Please reconnect in a moment.")
		return false
	}
	if !d.Allowed {
		h.refuse(w, limit.User, h.sys.Limits().User[limit.Upgrade], d)
		return false
	}
	return true
}

func (h *Handler) refuse(w http.ResponseWriter, scope limit.Scope, r limit.Rate, d limit.Decision) {
	wire.SetRateLimitHeaders(w.Header(), scope, limit.Upgrade, r, d)
	h.writeErr(w, actors.CodeRateLimited, "Too many connections in a short time. Please wait a moment and reconnect.")
}

func newLeaseID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// keepLease renews the socket's lease until release, on the Handler's
// lease wheel (every third of the lease's TTL, so one lost renewal never
// lets it expire). A renewal the grain refuses (its lease table is full:
// after a move, more sockets than the cap came back) calls refused, which
// closes the socket: it is over the address's cap, and an uncounted
// socket would let the address go past it.
func (h *Handler) keepLease(l *socketLimits, refused func()) {
	if l.lease == "" {
		return
	}
	l.leases, l.refused = h.leases, refused
	l.slot = h.leases.add(l)
}

// renewConcurrency bounds the renewals of one slot of leases in flight.
const renewConcurrency = 32

// renewAll renews a slot of leases (the lease wheel calls it once per
// tick). It does not hold up the wheel: the slot is renewed in a goroutine
// of its own, renewConcurrency at a time, so a slow Limiter grain (each
// renewal waits at most the limiter timeout) delays only its own slot; a
// lease whose last renewal is still in flight is skipped.
func renewAll(ls []*socketLimits) {
	ls = append([]*socketLimits(nil), ls...) // the wheel reuses its slice
	go func() {
		sem := make(chan struct{}, renewConcurrency)
		var wg sync.WaitGroup
		for _, l := range ls {
			if !l.renewing.CompareAndSwap(false, true) {
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { l.renewing.Store(false); <-sem; wg.Done() }()
				l.renew()
			}()
		}
		wg.Wait()
	}()
}

// renew renews the lease once; a refusal takes it off the wheel and calls
// refused.
func (l *socketLimits) renew() {
	if l.released.Load() {
		return
	}
	if !l.sys.RenewLease(context.Background(), l.key, l.lease) {
		l.leases.remove(l, l.slot)
		l.refused()
	}
}

// release drops the lease (once) and stops its renewals.
func (l *socketLimits) release() {
	if l.released.Swap(true) {
		return
	}
	if l.leases != nil {
		l.leases.remove(l, l.slot)
	}
	if l.lease != "" {
		l.sys.ReleaseLease(l.key, l.lease)
	}
}

// admit checks one decoded command before it goes to the session: the
// bound on commands in flight, then the address budget of its action (one
// Limiter grain request; none when exempt). nil means deliver it (and call
// done when the session has processed it); otherwise the error to answer.
func (l *socketLimits) admit(ctx context.Context, cmd *msg.Command) *msg.Error {
	a := actors.CommandAction(cmd)
	if l.inFlight.Add(1) > maxInFlight {
		l.inFlight.Add(-1)
		l.sys.CountQueueFull(actors.QueueSocketCommands)
		return limitedError(time.Second)
	}
	if l.key != "" {
		if d, _ := l.sys.TakeAddress(ctx, l.key, a, ""); !d.Allowed {
			l.inFlight.Add(-1)
			return limitedError(d.RetryAfter)
		}
	}
	return nil
}

// done marks one admitted command processed.
func (l *socketLimits) done() { l.inFlight.Add(-1) }

func limitedError(wait time.Duration) *msg.Error {
	e := actors.NewError(actors.CodeRateLimited, "You're going a bit fast. Please wait a moment and try again.")
	e.RetryAfterS = wire.RetryAfter(max(wait, time.Millisecond))
	return e
}

// closeCode is the close status an error that closes the socket asks for.
func closeCode(e *msg.Error) int {
	if e.CloseCode != 0 {
		return int(e.CloseCode)
	}
	return websocket.CloseNormalClosure
}
