package ws

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
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
	ws *websocket.Conn // reads: owned by run (the writer writes to nc itself)
	// nc is ws's network connection, static: the writer writes whole
	// frames to it (frames.go).
	nc net.Conn
	// userID is the socket's user; static after ServeHTTP sets it.
	userID string

	mu sync.Mutex
	// out holds the encoded frames (headers included) waiting for the
	// writer, frames of them, at most cfg.SendQueue. Full means the
	// client is too slow: the socket is closed (see enqueue). Guarded by
	// mu; nil when empty (the buffer goes back to the Handler's pool).
	out    *outBuf
	frames int
	// pingDue asks the writer for a ping; guarded by mu.
	pingDue bool
	// pongDue asks the writer for a pong with pongData, the payload of
	// the latest ping the peer sent (one pong answers all the pings read
	// before it was written). Guarded by mu.
	pongDue  bool
	pongData string
	// writing is set while a writer goroutine runs; guarded by mu.
	writing bool
	// closing is set once by closeWith, with closeCode and closeText:
	// the writer sends what is queued, then this close, then stops.
	// closeSent (set with closing) means gorilla sent a close already:
	// the writer sends nothing more. Guarded by mu.
	closing   bool
	closeSent bool
	closeCode int
	closeText string
	// finished is set when the writer has sent the close (or a write
	// failed): no writer runs again. Guarded by mu.
	finished bool
	// written is closed when finished is set.
	written chan struct{}
	// writeSet is when the writer last moved nc's write deadline; owned
	// by the writer (one runs at a time, handed over under mu).
	writeSet time.Time
	// readSet is when the reader last moved nc's read deadline; owned by
	// the reader (the pong handler runs in it).
	readSet time.Time

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
		// gorilla writes no frame of ours (frames.go); with a pool set it
		// never takes a buffer from it, and keeps no hijacked one.
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
		nc:      ws.NetConn(),
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
	c.extendRead(time.Now())
	c.ws.SetPongHandler(func(string) error {
		c.extendRead(time.Now())
		return nil
	})
	// gorilla would answer from this goroutine, beside the writer: the
	// writer answers instead.
	c.ws.SetPingHandler(func(data string) error {
		c.pong(data)
		return nil
	})
	c.ws.SetCloseHandler(func(code int, _ string) error {
		c.closeWith(code, "") // echoes the peer's code (none: an empty close)
		return nil
	})
	for {
		typ, buf, err := c.readFrame()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.closeAlreadySent()
				c.logger().Info("ws: frame over the read limit; closed with 1009")
			}
			return
		}
		if now := time.Now(); now.Sub(c.readSet) >= c.h.cfg.PongWait/10 {
			c.extendRead(now)
		}
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

// extendRead moves the read deadline to PongWait from now. The reader
// calls it on a pong and, for other frames, at most once per PongWait/10
// (a deadline moved per frame was a timer update per frame): a peer that
// sends anything stays open, and a silent one is closed between 0.9 and 1
// PongWait after its last frame. A closing socket keeps the second the
// writer gave it.
func (c *conn) extendRead(now time.Time) {
	c.readSet = now
	if c.closed() {
		return
	}
	_ = c.nc.SetReadDeadline(now.Add(c.h.cfg.PongWait))
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
	if c.h.flush != nil {
		c.h.flush.add(c)
		return
	}
	gopool.Go(c.writeLoop)
}

// writeLoop owns every write to the socket while it runs: each turn it
// takes every frame queued and a due ping or pong, and writes them in one
// write; it returns when there is nothing left (a later enqueue starts a
// new one), or after the close.
func (c *conn) writeLoop() {
	defer c.recoverWriter()
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			c.writeClose()
			return
		}
		ob, n := c.out, c.frames
		c.out, c.frames = nil, 0
		if c.pingDue || c.pongDue {
			if ob == nil {
				ob = c.h.outBuf()
			}
			if c.pingDue {
				ob.b = appendControl(ob.b, websocket.PingMessage, "")
			}
			if c.pongDue {
				ob.b = appendControl(ob.b, websocket.PongMessage, c.pongData)
			}
			c.pingDue, c.pongDue, c.pongData = false, false, ""
		}
		if ob == nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		err := c.write(ob.b, time.Now())
		c.h.putOutBuf(ob)
		if err != nil {
			c.finish()
			_ = c.ws.Close() // unblocks the reader
			return
		}
		c.h.metrics.FramesOut.Add(float64(n))
		c.h.metrics.Writes.Inc()
	}
}

// write writes b in one write. The write deadline is moved to WriteWait
// from now at most once per WriteWait/10 (a write starts with at least
// 0.9 WriteWait ahead of it).
func (c *conn) write(b []byte, now time.Time) error {
	if now.Sub(c.writeSet) >= c.h.cfg.WriteWait/10 {
		c.writeSet = now
		_ = c.nc.SetWriteDeadline(now.Add(c.h.cfg.WriteWait))
	}
	_, err := c.nc.Write(b)
	return err
}

// writeClose sends the frames queued before the close (an error that
// explains it) and the close in one write within a second; it gives the
// peer a second to answer before the reader stops. After a close gorilla
// sent (closeSent) it sends nothing.
func (c *conn) writeClose() {
	c.mu.Lock()
	ob, code, text, sent := c.out, c.closeCode, c.closeText, c.closeSent
	c.out, c.frames = nil, 0
	c.mu.Unlock()
	if ob == nil {
		ob = c.h.outBuf()
	}
	if !sent {
		ob.b = appendControl(ob.b, websocket.CloseMessage, string(websocket.FormatCloseMessage(code, text)))
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.nc.Write(ob.b)
	}
	c.h.putOutBuf(ob)
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	c.finish()
}

// finish marks the writer done for good (once).
func (c *conn) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	if c.out != nil {
		c.h.putOutBuf(c.out)
	}
	c.finished, c.writing, c.out, c.frames = true, false, nil, 0
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

// pong asks the writer to answer the peer's ping (the reader's ping
// handler).
func (c *conn) pong(data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.pongDue, c.pongData = true, data
	c.kick()
}

// enqueue encodes a frame into the writer's buffer. It never blocks: when
// the queue is full the client is too slow and the socket is closed (the
// user keeps the queue place for the reconnect grace period and resumes
// on reconnect).
func (c *conn) enqueue(f *wire.Frame) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.frames < c.h.cfg.SendQueue {
		if c.out == nil {
			c.out = c.h.outBuf()
		}
		var err error
		if c.out.b, err = appendTextFrame(c.out.b, f); err != nil {
			c.mu.Unlock()
			c.logger().Error("ws: encode frame", "err", err)
			return
		}
		c.frames++
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

// closeAlreadySent records that gorilla sent a close itself (over the read
// limit: 1009): the writer sends nothing after it.
func (c *conn) closeAlreadySent() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.closeSent = true, true
	c.kick()
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
