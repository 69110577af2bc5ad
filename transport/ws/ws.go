// Package ws serves the user WebSocket (/ws) of PROTOCOL.md. Each socket has
// one reader goroutine (started by the HTTP handler, which returns so the
// server's request state is freed), a writer goroutine that owns all
// writes while there is something to write (conn.go), and one Connection
// actor that receives the user's events from the UserSession grain and
// queues them for the writer. The send queue is bounded: a client too slow
// to drain it is disconnected. The actor also watches the socket's token:
// at expiry the client gets token_expired and AuthWait to send a fresh one
// with auth (token.go). Periodic work is node-wide: one wheel pings every
// socket and heartbeats its actor once per ping period, another renews
// the sockets' address leases (wheel.go, limits.go); an idle socket has
// no timer or goroutine of its own besides its reader.
package ws

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/auth"
	"github.com/spinmatch/spinmatch/transport/clientip"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// Config tunes the sockets. Zero values mean the documented defaults.
type Config struct {
	// AllowedOrigins are the Origins allowed to open sockets (scheme://host[:port]).
	// Zero value: only the server's own origin (the request's Host).
	AllowedOrigins []string
	// ReadLimit is the largest frame accepted; larger closes with 1009. Zero: 64 KiB.
	ReadLimit int64
	// SendQueue is how many frames may wait for a slow client. Zero: 256.
	SendQueue int
	// WriteWait bounds one write. Zero: 10s.
	WriteWait time.Duration
	// PongWait is how long the peer may stay silent (pings are sent at 9/10
	// of it, with a heartbeat re-attach of the socket to its session). Zero: 60s.
	PongWait time.Duration
	// AuthWait is how long a socket whose token expired waits for an auth
	// message before it closes with 4001. Zero: 30s.
	AuthWait time.Duration
	// ClientIP resolves client addresses for the per-address limits. Zero
	// value: the peer address, nothing exempt.
	ClientIP *clientip.Resolver
	// WriteDelay is how long a socket's first frame may wait for more
	// frames to go out in the same write (flush.go). Zero: 1 ms; negative:
	// every frame is written at once.
	WriteDelay time.Duration
}

func (c *Config) defaults() {
	if c.ReadLimit == 0 {
		c.ReadLimit = 64 << 10
	}
	if c.SendQueue == 0 {
		c.SendQueue = 256
	}
	if c.WriteWait == 0 {
		c.WriteWait = 10 * time.Second
	}
	if c.PongWait == 0 {
		c.PongWait = 60 * time.Second
	}
	if c.AuthWait == 0 {
		c.AuthWait = 30 * time.Second
	}
	if c.WriteDelay == 0 {
		c.WriteDelay = time.Millisecond
	}
}

// pingEvery is how often each socket is pinged and heartbeats.
func (c *Config) pingEvery() time.Duration { return c.PongWait * 9 / 10 }

// Metrics are the sockets' instruments.
type Metrics struct {
	Connections prometheus.Gauge
	SlowClients prometheus.Counter
	FramesIn    prometheus.Counter
	FramesOut   prometheus.Counter
	Writes      prometheus.Counter
	BadFrames   prometheus.Counter
	commands    *commandLatency // nil: not measured
}

// NewMetrics creates the instruments and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "spinmatch_ws_connections", Help: "Open user sockets on this node."}),
		SlowClients: prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_ws_slow_client_disconnects_total", Help: "Sockets closed because their send queue was full."}),
		FramesIn:    prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_ws_frames_in_total", Help: "Frames read from user sockets."}),
		FramesOut:   prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_ws_frames_out_total", Help: "Frames written to user sockets."}),
		Writes:      prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_ws_writes_total", Help: "Writes to user sockets (each carries every frame that was queued)."}),
		BadFrames:   prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_ws_bad_frames_total", Help: "Client frames refused as invalid."}),
		commands:    newCommandLatency(),
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.SlowClients, m.FramesIn, m.FramesOut, m.Writes, m.BadFrames, m.commands.vec)
	}
	return m
}

// ErrorWriter writes an HTTP JSON error (PROTOCOL.md, Errors).
type ErrorWriter func(w http.ResponseWriter, code, message string)

// Handler serves /ws. The fields above mu are static after construction.
type Handler struct {
	cfg      Config
	sys      *actors.System
	verifier *auth.Verifier
	log      *slog.Logger
	metrics  *Metrics
	writeErr ErrorWriter
	// writeBuffers is gorilla's write buffer pool: gorilla writes no frame
	// of ours, so it stays empty, but with a pool set gorilla keeps no
	// buffer per socket. Safe for concurrent use.
	writeBuffers sync.Pool
	// outBufs lends sockets the buffers their frames are encoded into,
	// only while they have something to write (outBuf, putOutBuf), so an
	// idle socket holds none. Safe for concurrent use.
	outBufs sync.Pool
	// open is every live socket, on the wheel that pings each once per
	// ping period and heartbeats its actor. Safe for concurrent use.
	open *wheel[*conn]
	// leases renews the sockets' address leases (limits.go). Safe for
	// concurrent use.
	leases *wheel[*socketLimits]
	// flush starts the sockets' writers once per WriteDelay; nil (a
	// negative WriteDelay) starts each at once. Safe for concurrent use.
	flush *flusher

	mu      sync.Mutex
	closing bool // set by CloseAll; guarded by mu
}

// NewHandler returns the /ws handler.
func NewHandler(cfg Config, sys *actors.System, v *auth.Verifier, m *Metrics, writeErr ErrorWriter, log *slog.Logger) *Handler {
	cfg.defaults()
	h := &Handler{cfg: cfg, sys: sys, verifier: v, log: log, metrics: m, writeErr: writeErr}
	h.open = newWheel(cfg.pingEvery(), h.pingAll)
	h.leases = newWheel(sys.Limits().LeaseEvery(), renewAll)
	if cfg.WriteDelay > 0 {
		h.flush = newFlusher(cfg.WriteDelay)
	}
	sys.Router().OnChange(h.topologyChanged)
	return h
}

// outBuf borrows a frame buffer from the pool (empty).
func (h *Handler) outBuf() *outBuf {
	if ob, ok := h.outBufs.Get().(*outBuf); ok {
		return ob
	}
	return &outBuf{b: make([]byte, 0, 1024)}
}

// putOutBuf gives a frame buffer back (one grown past maxPooledOut is
// dropped).
func (h *Handler) putOutBuf(ob *outBuf) {
	if cap(ob.b) > maxPooledOut {
		return
	}
	ob.b = ob.b[:0]
	h.outBufs.Put(ob)
}

// pingAll pings a slot of sockets and heartbeats their actors (the wheel
// calls it once per tick).
func (h *Handler) pingAll(conns []*conn) {
	for _, c := range conns {
		c.ping()
		if p := c.actor.Load(); p != nil {
			p.heartbeat()
		}
	}
}

// topologyChanged tells every socket's Connection actor to check whether
// its session's owner changed (it re-attaches if so).
func (h *Handler) topologyChanged() {
	var ps []*connection
	h.open.each(func(c *conn) {
		if p := c.actor.Load(); p != nil {
			ps = append(ps, p)
		}
	})
	for _, p := range ps {
		p.ownerCheck()
	}
}

// CloseAll refuses new sockets and closes every open one with 1001 (going
// away), so clients reconnect, to this node after a restart or to another.
func (h *Handler) CloseAll() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	var open []*conn
	h.open.each(func(c *conn) { open = append(open, c) })
	for _, c := range open {
		c.goAway()
	}
}

// track registers a socket; it reports false when the handler is closing.
func (h *Handler) track(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	c.slot = h.open.add(c)
	return true
}

func (h *Handler) untrack(c *conn) { h.open.remove(c, c.slot) }

// originAllowed applies the allow-list (OriginAllowed).
func (h *Handler) originAllowed(r *http.Request) bool { return OriginAllowed(r, h.cfg.AllowedOrigins) }

// ServeHTTP authenticates, checks the Origin, upgrades, and runs the socket
// until it closes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.originAllowed(r) {
		h.writeErr(w, actors.CodeForbidden, "This site isn't allowed to connect.")
		return
	}
	lim := h.admitAddress(w, r)
	if lim == nil {
		return // refused (limits.go)
	}
	served := false // the socket's goroutine releases lim from then on
	defer func() {
		if !served {
			lim.release()
		}
	}()
	tok, err := auth.BearerToken(r, true)
	if err != nil {
		h.writeErr(w, actors.CodeUnauthorized, "Please sign in to connect.")
		return
	}
	userID, expires, err := h.verifier.Verify(tok)
	if err != nil {
		h.writeErr(w, actors.CodeUnauthorized, "Your sign-in has expired or is invalid. Please sign in again.")
		return
	}
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		h.writeErr(w, actors.CodeUnavailable, "This server is restarting. Please reconnect in a moment.")
		return
	}
	if !h.admitUser(w, r, userID) {
		return // refused (limits.go)
	}
	c, err := upgrade(w, r, h)
	if err != nil {
		return // the upgrader already answered
	}
	c.lim, c.userID = lim, userID
	if !h.track(c) {
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = c.ws.Close()
		return
	}
	h.keepLease(lim, func() {
		h.log.Warn("ws: the address's socket lease was refused; closing the socket", "user", userID)
		c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeRateLimited, "Too many connections from your network. Please close another tab and reconnect."), ""))
		c.closeWith(actors.CloseTooManySockets, "too many sockets from this address")
	})
	// The socket runs in a goroutine of its own, and this one returns: the
	// HTTP server's state for the request (its buffers, the request, a
	// stack grown while serving it) is freed.
	served = true
	go func() {
		defer lim.release()
		defer h.untrack(c)
		c.run(userID, expires)
	}()
}
