package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/gopool"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// conn is one user socket. Its reader is the goroutine of run; a writer
// goroutine runs only while there is something to write (frames, a ping,
// the close), so an idle socket has one goroutine, no write buffer and an
// empty queue; its pings and heartbeats come from the Handler's wheel.
type conn struct {
	h  *Handler        // static
	ws *websocket.Conn // reads: owned by run; writes: owned by the writer
	// userID is the socket's user; static after ServeHTTP sets it.
	userID string

	mu sync.Mutex
	// queue holds encoded frames for the writer, at most cfg.SendQueue.
	// Full means the client is too slow: the socket is closed (see
	// enqueue). Guarded by mu; nil when empty.
	queue [][]byte
	// pingDue asks the writer for a ping; guarded by mu.
	pingDue bool
	// writing is set while a writer goroutine runs; guarded by mu.
	writing bool
	// closing is set once by closeWith, with closeCode and closeText:
	// the writer sends what is queued, then this close, then stops.
	// Guarded by mu.
	closing   bool
	closeCode int
	closeText string
	// finished is set when the writer has sent the close (or a write
	// failed): no writer runs again. Guarded by mu.
	finished bool
	// written is closed when finished is set.
	written chan struct{}

	// actor is the Connection process, set once by run; read by the
	// handler's topology hook and wheel.
	actor atomic.Pointer[connection]
	// slot is the socket's slot on the Handler's wheel; set by track,
	// read by untrack.
	slot int

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

// readBufferSize is a socket's read buffer: commands are small, and a
// larger frame is read through it in pieces (up to ReadLimit). It holds a
// control frame whole (125 bytes and its header).
const readBufferSize = 256

func upgrade(w http.ResponseWriter, r *http.Request, h *Handler) (*conn, error) {
	up := websocket.Upgrader{
		ReadBufferSize:  readBufferSize,
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
		h:       h,
		ws:      ws,
		written: make(chan struct{}),
		hub:     socketHub(r),
	}, nil
}

// run serves the socket until it closes: it starts the Connection process,
// then reads in this goroutine.
func (c *conn) run(userID string, expires time.Time) {
	c.expires.Store(expires.UnixNano())
	c.h.metrics.Connections.Inc()
	defer c.h.metrics.Connections.Dec()
	c.setUser(userID)

	p := newConnection(c, c.h.sys, c.h.sys.ActorSystem(), userID)
	pid := p.start()
	c.actor.Store(p)
	// Attach from this goroutine, before the reader starts: the Router
	// sends in call order, so the session has the socket (and has sent it
	// its state) before it handles the socket's first command.
	c.h.sys.Deliver(userID, &msg.Attach{Conn: pid}, func() {
		c.logger().Error("ws: attach failed")
		c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeUnavailable, "We can't reach our servers right now. Please reconnect in a moment."), ""))
	})

	c.readLoop(userID, p)

	c.shutdown()
	p.stop()
	<-c.written
	_ = c.ws.Close()
}

func (c *conn) readLoop(userID string, p *connection) {
	defer c.recoverLoop("ws.reader")
	c.ws.SetReadLimit(c.h.cfg.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
	})
	for {
		typ, buf, err := c.readFrame()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.logger().Info("ws: frame over the read limit; closed with 1009")
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
		c.h.metrics.FramesIn.Inc()
		if typ != websocket.TextMessage {
			putFrameBuf(buf)
			c.h.metrics.BadFrames.Inc()
			c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeInvalidMessage, "Send JSON text frames."), ""))
			continue
		}
		m, e := wire.Decode(buf.Bytes()) // keeps nothing of the frame's bytes
		putFrameBuf(buf)
		if e != nil {
			c.h.metrics.BadFrames.Inc()
			c.enqueue(wire.ErrorFrame(e, m.Ref))
			continue
		}
		if m.Auth != nil {
			c.authenticate(userID, p, m.Auth, m.Ref)
			continue
		}
		if c.expired(time.Now()) {
			c.enqueue(wire.ErrorFrame(tokenExpiredError(), m.Ref))
			continue
		}
		cmd := m.Command
		cmd.Conn = p.self
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

// frameBufs are the buffers frames are read into (gorilla's ReadMessage
// allocates each frame anew, growing from 512 bytes). An idle socket holds
// none.
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledFrame is the largest buffer put back in frameBufs.
const maxPooledFrame = 64 << 10

// readFrame reads the next frame into a buffer from frameBufs (the caller
// puts it back with putFrameBuf).
func (c *conn) readFrame() (int, *bytes.Buffer, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	buf := frameBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		putFrameBuf(buf)
		return 0, nil, err
	}
	return typ, buf, nil
}

func putFrameBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledFrame {
		frameBufs.Put(b)
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
		c.logger().Error("ws: session unreachable")
		e := actors.NewError(actors.CodeUnavailable, "We can't reach our servers right now. Please try again in a moment.")
		e.RetryAfterS = 1
		c.enqueue(wire.ErrorFrame(e, ref))
	})
}

// kick starts a writer unless one runs or the socket is finished.
// Called with mu held.
func (c *conn) kick() {
	if c.writing || c.finished {
		return
	}
	c.writing = true
	gopool.Go(c.writeLoop)
}

// writeLoop owns every write to the socket while it runs: it writes the
// queued frames and a due ping, and returns when there is nothing left
// (a later enqueue starts a new one), or after the close.
func (c *conn) writeLoop() {
	defer c.recoverWriter()
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			c.writeClose()
			return
		}
		var b []byte
		ping := false
		switch {
		case len(c.queue) > 0:
			b = c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			if len(c.queue) == 0 {
				c.queue = nil // an idle socket holds no array
			}
		case c.pingDue:
			ping, c.pingDue = true, false
		default:
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		var err error
		if ping {
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.cfg.WriteWait))
		} else {
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteWait))
			if err = c.ws.WriteMessage(websocket.TextMessage, b); err == nil {
				c.h.metrics.FramesOut.Inc()
			}
		}
		if err != nil {
			c.finish()
			_ = c.ws.Close() // unblocks the reader
			return
		}
	}
}

// writeClose sends the frames queued before the close (an error that
// explains it) within a second, then the close; it gives the peer a
// second to answer before the reader stops.
func (c *conn) writeClose() {
	c.mu.Lock()
	queue, code, text := c.queue, c.closeCode, c.closeText
	c.queue = nil
	c.mu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	for _, b := range queue {
		if c.ws.WriteMessage(websocket.TextMessage, b) != nil {
			break
		}
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
	c.finish()
}

// finish marks the writer done for good (once).
func (c *conn) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	c.finished, c.writing, c.queue = true, false, nil
	c.closing = true // a later closeWith is a no-op
	close(c.written)
}

// ping asks the writer for a ping (the wheel calls it once per ping period).
func (c *conn) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.pingDue = true
	c.kick()
}

// enqueue queues a frame for the writer. It never blocks: when the queue is
// full the client is too slow and the socket is closed (the user keeps the
// queue place for the reconnect grace period and resumes on reconnect).
func (c *conn) enqueue(f *wire.Frame) {
	b, err := json.Marshal(f)
	if err != nil {
		c.logger().Error("ws: encode frame", "err", err)
		return
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if len(c.queue) < c.h.cfg.SendQueue {
		c.queue = append(c.queue, b)
		c.kick()
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.h.metrics.SlowClients.Inc()
	c.logger().Warn("ws: send queue full; disconnecting slow client")
	c.shutdown()
	_ = c.ws.Close()
}

// shutdown ends the socket with a normal close (1000).
func (c *conn) shutdown() { c.closeWith(websocket.CloseNormalClosure, "") }

// closeWith ends the socket: the writer sends what is queued and this
// close code, then stops. The first call wins.
func (c *conn) closeWith(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeText = true, code, text
	c.kick()
}

// closed reports whether the socket is closing or closed.
func (c *conn) closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// goAway tells the client the server is going away (1001).
func (c *conn) goAway() { c.closeWith(websocket.CloseGoingAway, "server shutting down") }

// logger returns the node's logger with the socket's user (made only when
// something is logged: an idle socket holds no logger of its own).
func (c *conn) logger() *slog.Logger {
	if c.userID == "" {
		return c.h.log
	}
	return c.h.log.With("user", c.userID)
}
