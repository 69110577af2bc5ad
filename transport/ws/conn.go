package ws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/getsentry/sentry-go"
	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// conn is one user socket.
type conn struct {
	h   *Handler        // static
	ws  *websocket.Conn // reads: owned by run; writes: owned by writeLoop
	log *slog.Logger    // static

	// send holds encoded frames for writeLoop. Full means the client is too
	// slow: the socket is closed (see enqueue). Never closed; done is.
	send chan []byte
	done chan struct{} // closed once by closeWith
	once sync.Once
	// closeCode and closeText are what writeLoop sends when done closes;
	// written once by closeWith before it closes done.
	closeCode int
	closeText string
	// actor is the Connection actor, set once by run; read by the
	// handler's topology hook.
	actor atomic.Pointer[actor.PID]

	// hub is the socket's Sentry hub, nil when Sentry is off; hctx carries
	// it and tracing says whether commands are traced. Set by upgrade and
	// run before the loops start; static afterwards (see sentry.go).
	hub     *sentry.Hub
	hctx    context.Context
	tracing bool

	// expires is when the socket's token expires (Unix ns): written by the
	// reader (at the upgrade and on auth), read by the actor's timer.
	expires atomic.Int64
	// lastAuth is when the last auth message came; owned by the reader.
	lastAuth time.Time
	// lim is the socket's limits (limits.go); static after ServeHTTP sets it.
	lim *socketLimits
}

func upgrade(w http.ResponseWriter, r *http.Request, h *Handler) (*conn, error) {
	up := websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		WriteBufferPool: &h.writeBuffers,
		// The Origin was checked by the handler before authentication.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	return &conn{
		h:    h,
		ws:   ws,
		log:  h.log,
		send: make(chan []byte, h.cfg.SendQueue),
		done: make(chan struct{}),
		hub:  socketHub(r),
	}, nil
}

// run serves the socket until it closes: it starts the writer and the
// Connection actor, then reads in this goroutine.
func (c *conn) run(userID string, expires time.Time) {
	c.expires.Store(expires.UnixNano())
	c.h.metrics.Connections.Inc()
	defer c.h.metrics.Connections.Dec()
	c.log = c.log.With("user", userID)
	c.setUser(userID)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()

	sys := c.h.sys.ActorSystem()
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &connActor{c: c, sys: c.h.sys, userID: userID}
	}))
	c.actor.Store(pid)
	// Attach from this goroutine, before the reader starts: the Router
	// sends in call order, so the session has the socket (and has sent it
	// its state) before it handles the socket's first command.
	c.h.sys.Deliver(userID, &msg.Attach{Conn: pid}, func() {
		c.log.Error("ws: attach failed")
		c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeUnavailable, "We can't reach our servers right now. Please reconnect in a moment."), ""))
	})

	c.readLoop(userID, pid)

	c.shutdown()
	sys.Root.Stop(pid)
	wg.Wait()
	_ = c.ws.Close()
}

func (c *conn) readLoop(userID string, pid *actor.PID) {
	defer c.recoverLoop("ws.reader")
	c.ws.SetReadLimit(c.h.cfg.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
	})
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.log.Info("ws: frame over the read limit; closed with 1009")
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
		c.h.metrics.FramesIn.Inc()
		if typ != websocket.TextMessage {
			c.h.metrics.BadFrames.Inc()
			c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeInvalidMessage, "Send JSON text frames."), ""))
			continue
		}
		m, e := wire.Decode(data)
		if e != nil {
			c.h.metrics.BadFrames.Inc()
			c.enqueue(wire.ErrorFrame(e, m.Ref))
			continue
		}
		if m.Auth != nil {
			c.authenticate(userID, pid, m.Auth, m.Ref)
			continue
		}
		if c.expired(time.Now()) {
			c.enqueue(wire.ErrorFrame(tokenExpiredError(), m.Ref))
			continue
		}
		cmd := m.Command
		cmd.Conn = pid
		if e := c.lim.admit(context.Background(), cmd); e != nil {
			c.enqueue(wire.ErrorFrame(e, m.Ref))
			continue
		}
		tx, span := c.startCommand(cmd)
		measured := c.h.metrics.commands.start(cmd)
		c.deliverThen(userID, cmd, m.Ref, func() {
			c.lim.done()
			measured()
		})
		endCommand(tx, span)
	}
}

// deliver sends a command to the user's session. Never silence: a command
// that cannot reach the session (through every resend of the Router) is
// answered here, and so is one refused because too many are in flight.
func (c *conn) deliver(userID string, cmd *msg.Command, ref string) {
	c.deliverThen(userID, cmd, ref, nil)
}

// deliverThen is deliver, and calls after (when set) once the session has
// processed the command or it was given up (limits.go counts commands in
// flight with it).
func (c *conn) deliverThen(userID string, cmd *msg.Command, ref string, after func()) {
	c.h.sys.DeliverThen(userID, cmd, func(delivered bool) {
		if after != nil {
			after()
		}
		if delivered {
			return
		}
		c.log.Error("ws: session unreachable")
		e := actors.NewError(actors.CodeUnavailable, "We can't reach our servers right now. Please try again in a moment.")
		e.RetryAfterS = 1
		c.enqueue(wire.ErrorFrame(e, ref))
	})
}

// writeLoop owns every write to the socket.
func (c *conn) writeLoop() {
	defer c.recoverLoop("ws.writer")
	ping := time.NewTicker(c.h.cfg.PongWait * 9 / 10)
	defer ping.Stop()
	for {
		select {
		case b := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.shutdown()
				_ = c.ws.Close() // unblocks the reader
				return
			}
			c.h.metrics.FramesOut.Inc()
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.cfg.WriteWait)); err != nil {
				c.shutdown()
				_ = c.ws.Close()
				return
			}
		case <-c.done:
			// Frames queued before the close (an error that explains it)
			// go out first, within a second.
			_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
		drain:
			for {
				select {
				case b := <-c.send:
					if c.ws.WriteMessage(websocket.TextMessage, b) != nil {
						break drain
					}
				default:
					break drain
				}
			}
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(time.Second))
			// Give the peer a second to answer the close, then the reader stops.
			_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
			return
		}
	}
}

// enqueue queues a frame for the writer. It never blocks: when the queue is
// full the client is too slow and the socket is closed (the user keeps the
// queue place for the reconnect grace period and resumes on reconnect).
func (c *conn) enqueue(f *wire.Frame) {
	b, err := json.Marshal(f)
	if err != nil {
		c.log.Error("ws: encode frame", "err", err)
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.send <- b:
	default:
		c.h.metrics.SlowClients.Inc()
		c.log.Warn("ws: send queue full; disconnecting slow client")
		c.shutdown()
		_ = c.ws.Close()
	}
}

// shutdown ends the socket with a normal close (1000).
func (c *conn) shutdown() { c.closeWith(websocket.CloseNormalClosure, "") }

// closeWith ends the socket: the writer sends this close code, then stops.
// The first call wins.
func (c *conn) closeWith(code int, text string) {
	c.once.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
	})
}

// goAway tells the client the server is going away (1001).
func (c *conn) goAway() { c.closeWith(websocket.CloseGoingAway, "server shutting down") }

// connActor is the Connection actor: it attaches the socket to the user's
// session, re-attaches it when the session's owner node changes (a node
// died or joined: the fresh activation restores the user from the store
// and sends the socket its state) and periodically (a no-op unless the
// session moved), and forwards the session's events to the socket's send
// queue. It also watches the socket's token (token.go). Its one timer
// wakes it for whichever is due first. c, sys and userID are static; the
// rest is owned by Receive.
type connActor struct {
	c            *conn
	sys          *actors.System
	userID       string
	timer        *time.Timer
	nextReattach time.Time
	authDeadline time.Time // set while waiting for auth after token_expired
	owner        string    // node that owned the session at the last attach
	seen         string    // match id of the last match_found forwarded to the socket
}

// Receive handles one message.
func (a *connActor) Receive(ctx actor.Context) {
	defer a.c.recoverLoop("ws.connection")
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.owner = a.sys.SessionOwner(a.userID) // run attached the socket
		now := time.Now()
		a.nextReattach = now.Add(a.c.h.cfg.Reattach)
		a.onTimer(ctx, now)
	case timerTick:
		a.onTimer(ctx, time.Now())
	case tokenRenewed:
		a.authDeadline = time.Time{}
		a.arm(ctx, time.Now())
	case ownerCheck:
		if a.sys.SessionOwner(a.userID) != a.owner {
			a.reattach(ctx)
		}
	case *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
		a.sys.Deliver(a.userID, &msg.Detach{Conn: ctx.Self()}, nil)
	case *msg.Event:
		if f := m.GetMatchFound(); f != nil {
			a.seen = f.GetMatch().GetMatchId()
		}
		a.c.eventCrumb(m)
		a.c.enqueue(wire.FromEvent(m))
		if e := m.GetError(); e != nil && e.Close {
			a.c.closeWith(closeCode(e), e.Code)
		}
	}
}

func (a *connActor) reattach(ctx actor.Context) {
	a.owner = a.sys.SessionOwner(a.userID)
	a.sys.Deliver(a.userID, &msg.Attach{Conn: ctx.Self(), Heartbeat: true, SeenMatch: a.seen}, nil)
}
