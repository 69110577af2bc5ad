package ws

import (
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// Close codes of a socket ended over its token (PROTOCOL.md, Identity).
const (
	// CloseTokenExpired: the token expired and no valid auth came within AuthWait.
	CloseTokenExpired = 4001
	// CloseOtherUser: an auth message carried another user's token.
	CloseOtherUser = 4003
)

// authEvery is the least time between two auth messages of one socket;
// one sooner gets rate_limited (each costs a signature check).
const authEvery = time.Second

// expiresAt is when the socket's token expires.
func (c *conn) expiresAt() time.Time { return time.Unix(0, c.expires.Load()) }

// expired reports whether the socket's token has expired.
func (c *conn) expired(now time.Time) bool { return !now.Before(c.expiresAt()) }

// authenticate handles an auth message (in the reader goroutine): a valid
// token of the same user replaces the socket's token and is answered by
// state; an invalid one gets unauthorized and the old token stays; another
// user's token gets forbidden and closes the socket (4003), since a socket
// belongs to one user and its session.
func (c *conn) authenticate(userID string, p *connection, a *wire.Auth, ref string) {
	now := time.Now()
	if now.Sub(c.lastAuth) < authEvery {
		e := actors.NewError(actors.CodeRateLimited, "You're signing in again too often. Please wait a moment.")
		e.RetryAfterS = authEvery.Seconds()
		c.enqueue(wire.ErrorFrame(e, ref))
		return
	}
	c.lastAuth = now
	sub, exp, err := c.h.verifier.Verify(a.AccessToken)
	if err != nil {
		c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeUnauthorized,
			"That sign-in is invalid or has expired. Please sign in again."), ref))
		return
	}
	if sub != userID {
		c.logger().Warn("ws: auth with another user's token; closing with 4003")
		c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeForbidden,
			"That sign-in belongs to another account. Reconnect to switch accounts."), ref))
		c.closeWith(CloseOtherUser, "token of another user")
		return
	}
	c.expires.Store(exp.UnixNano())
	p.tokenRenewed()
	c.deliver(userID, &msg.Command{Ref: ref, Conn: p.self, Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}}, ref)
}

// tokenExpiredError is sent when the socket's token expires, and in reply
// to commands sent after that until a fresh token arrives.
func tokenExpiredError() *msg.Error {
	return actors.NewError(actors.CodeTokenExpired,
		"Your sign-in has expired. Send a fresh token to stay connected.")
}

// onTimer runs the token check: at expiry the client is told (token_expired) and given AuthWait
// to answer with auth; after that the socket closes with 4001 (the user
// keeps the queue place for the reconnect grace, as for any drop).
// Called with mu held.
func (p *connection) onTimerLocked(now time.Time) {
	if p.stopped {
		return
	}
	var step tokenStep
	step, p.authDeadline = tokenCheck(now, p.c.expiresAt(), p.authDeadline, p.c.h.cfg.AuthWait)
	switch step {
	case tokenTellExpired:
		p.c.enqueue(wire.ErrorFrame(tokenExpiredError(), ""))
	case tokenClose:
		p.c.logger().Info("ws: token expired and no auth came; closing with 4001")
		p.c.closeWith(CloseTokenExpired, "sign-in expired")
		return // closing: nothing more to wake for
	}
	p.arm(now)
}

// onTimer is the timer's callback.
func (p *connection) onTimer() {
	defer p.c.recoverLoop("ws.connection")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onTimerLocked(time.Now())
}

// tokenStep is what the token check asks the actor to do.
type tokenStep int

const (
	tokenNothing     tokenStep = iota
	tokenTellExpired           // send token_expired; the auth window starts
	tokenClose                 // the window passed without a fresh token
)

// tokenCheck decides, at now, for a token expiring at exp and the auth
// window's end (zero: no window open), what to do and the window's new end.
func tokenCheck(now, exp, deadline time.Time, wait time.Duration) (tokenStep, time.Time) {
	switch {
	case now.Before(exp):
		return tokenNothing, time.Time{}
	case deadline.IsZero():
		return tokenTellExpired, now.Add(wait)
	case !now.Before(deadline):
		return tokenClose, deadline
	}
	return tokenNothing, deadline
}

// arm sets the process's one timer to the next wake-up, or stops it when
// nothing is ahead within two ping periods: the wheel's heartbeat, once a
// period, arms it when the wake-up comes near (an idle socket with a
// long-lived token holds no timer). Called with mu held.
func (p *connection) arm(now time.Time) {
	next := nextWake(now, p.c.expiresAt(), p.authDeadline)
	if next.IsZero() || next.Sub(now) > 2*p.c.h.cfg.pingEvery() {
		if p.timer != nil {
			p.timer.Stop()
		}
		return
	}
	d := max(next.Sub(now), 0)
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.onTimer)
		return
	}
	// A tick already on its way is harmless: onTimer only does what is due.
	p.timer.Reset(d)
}

// nextWake is the earlier of the token's expiry (when still ahead) and the
// end of the auth window (when one is open); zero when neither is.
func nextWake(now, exp, deadline time.Time) time.Time {
	var next time.Time
	if now.Before(exp) {
		next = exp
	}
	if !deadline.IsZero() && (next.IsZero() || deadline.Before(next)) {
		next = deadline
	}
	return next
}
