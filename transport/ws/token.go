package ws

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

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

// Local messages of the Connection actor: its one timer fired, the reader
// accepted a fresh token, the topology changed.
type (
	timerTick    struct{}
	tokenRenewed struct{}
	ownerCheck   struct{}
)

// expiresAt is when the socket's token expires.
func (c *conn) expiresAt() time.Time { return time.Unix(0, c.expires.Load()) }

// expired reports whether the socket's token has expired.
func (c *conn) expired(now time.Time) bool { return !now.Before(c.expiresAt()) }

// authenticate handles an auth message (in the reader goroutine): a valid
// token of the same user replaces the socket's token and is answered by
// state; an invalid one gets unauthorized and the old token stays; another
// user's token gets forbidden and closes the socket (4003), since a socket
// belongs to one user and its session.
func (c *conn) authenticate(userID string, pid *actor.PID, a *wire.Auth, ref string) {
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
		c.log.Warn("ws: auth with another user's token; closing with 4003")
		c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeForbidden,
			"That sign-in belongs to another account. Reconnect to switch accounts."), ref))
		c.closeWith(CloseOtherUser, "token of another user")
		return
	}
	c.expires.Store(exp.UnixNano())
	c.h.sys.ActorSystem().Root.Send(pid, tokenRenewed{})
	c.deliver(userID, &msg.Command{Ref: ref, Conn: pid, Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}}, ref)
}

// tokenExpiredError is sent when the socket's token expires, and in reply
// to commands sent after that until a fresh token arrives.
func tokenExpiredError() *msg.Error {
	return actors.NewError(actors.CodeTokenExpired,
		"Your sign-in has expired. Send a fresh token to stay connected.")
}

// onTimer runs the actor's due work: the periodic re-attach, and the token
// check: at expiry the client is told (token_expired) and given AuthWait
// to answer with auth; after that the socket closes with 4001 (the user
// keeps the queue place for the reconnect grace, as for any drop).
func (a *connActor) onTimer(ctx actor.Context, now time.Time) {
	if !now.Before(a.nextReattach) {
		a.reattach(ctx)
		a.nextReattach = now.Add(a.c.h.cfg.Reattach)
	}
	var step tokenStep
	step, a.authDeadline = tokenCheck(now, a.c.expiresAt(), a.authDeadline, a.c.h.cfg.AuthWait)
	switch step {
	case tokenTellExpired:
		a.c.enqueue(wire.ErrorFrame(tokenExpiredError(), ""))
	case tokenClose:
		a.c.log.Info("ws: token expired and no auth came; closing with 4001")
		a.c.closeWith(CloseTokenExpired, "sign-in expired")
	}
	a.arm(ctx, now)
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

// arm sets the actor's one timer to the next wake-up.
func (a *connActor) arm(ctx actor.Context, now time.Time) {
	d := max(nextWake(now, a.nextReattach, a.c.expiresAt(), a.authDeadline).Sub(now), 0)
	if a.timer == nil {
		self, root := ctx.Self(), ctx.ActorSystem().Root
		a.timer = time.AfterFunc(d, func() { root.Send(self, timerTick{}) })
		return
	}
	// A tick already on its way is harmless: onTimer only does what is due.
	a.timer.Reset(d)
}

// nextWake is the earliest of the next re-attach, the token's expiry (when
// still ahead) and the end of the auth window (when one is open).
func nextWake(now, reattach, exp, deadline time.Time) time.Time {
	next := reattach
	if now.Before(exp) && exp.Before(next) {
		next = exp
	}
	if !deadline.IsZero() && deadline.Before(next) {
		next = deadline
	}
	return next
}
