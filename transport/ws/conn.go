package ws

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
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
	}, nil
}

// run serves the socket until it closes: it starts the writer and the
// Connection actor, then reads in this goroutine.
func (c *conn) run(userID string) {
	c.h.metrics.Connections.Inc()
	defer c.h.metrics.Connections.Dec()
	c.log = c.log.With("user", userID)

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

	c.readLoop(userID, pid)

	c.shutdown()
	sys.Root.Stop(pid)
	wg.Wait()
	_ = c.ws.Close()
}

func (c *conn) readLoop(userID string, pid *actor.PID) {
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
		cmd, ref, e := wire.Decode(data)
		if e != nil {
			c.h.metrics.BadFrames.Inc()
			c.enqueue(wire.ErrorFrame(e, ref))
			continue
		}
		cmd.Conn = pid
		if err := c.h.sys.Tell(userID, cmd); err != nil {
			c.log.Error("ws: session unreachable", "err", err)
			c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeUnavailable, "We can't reach our servers right now. Please try again in a moment."), ref))
		}
	}
}

// writeLoop owns every write to the socket.
func (c *conn) writeLoop() {
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

// reattachTick is the Connection actor's timer message (local only).
type reattachTick struct{}

// connActor is the Connection actor: it attaches the socket to the user's
// session, re-attaches it periodically (a no-op unless the session moved),
// and forwards the session's events to the socket's send queue. c, sys and
// userID are static; stop is owned by Receive.
type connActor struct {
	c      *conn
	sys    *actors.System
	userID string
	stop   func() bool
}

// Receive handles one message.
func (a *connActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if err := a.sys.Tell(a.userID, &msg.Attach{Conn: ctx.Self()}); err != nil {
			a.c.log.Error("ws: attach failed", "err", err)
			a.c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeUnavailable, "We can't reach our servers right now. Please reconnect in a moment."), ""))
		}
		a.arm(ctx)
	case reattachTick:
		if err := a.sys.Tell(a.userID, &msg.Attach{Conn: ctx.Self(), Heartbeat: true}); err != nil {
			a.c.log.Warn("ws: re-attach failed", "err", err)
		}
		a.arm(ctx)
	case *actor.Stopping:
		if a.stop != nil {
			a.stop()
		}
		_ = a.sys.Tell(a.userID, &msg.Detach{Conn: ctx.Self()})
	case *msg.Event:
		a.c.enqueue(wire.FromEvent(m))
		if e := m.GetError(); e != nil && e.Close {
			a.c.shutdown()
		}
	}
}

func (a *connActor) arm(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	t := time.AfterFunc(a.c.h.cfg.Reattach, func() { root.Send(self, reattachTick{}) })
	a.stop = t.Stop
}
