// Package ws serves the user WebSocket (/ws) of PROTOCOL.md. Each socket has
// one reader goroutine (the HTTP handler's), one writer goroutine that owns
// all writes, and one Connection actor that receives the user's events from
// the UserSession grain and queues them for the writer. The send queue is
// bounded: a client too slow to drain it is disconnected. The actor also
// watches the socket's token: at expiry the client gets token_expired and
// AuthWait to send a fresh one with auth (token.go).
package ws

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
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
	// PongWait is how long the peer may stay silent (pings are sent at 9/10 of it). Zero: 60s.
	PongWait time.Duration
	// Reattach is how often a connection re-attaches to its user's session,
	// so a session that moved (its node died) finds its sockets again. Zero: 5s.
	Reattach time.Duration
	// AuthWait is how long a socket whose token expired waits for an auth
	// message before it closes with 4001. Zero: 30s.
	AuthWait time.Duration
	// ClientIP resolves client addresses for the per-address limits. Zero
	// value: the peer address, nothing exempt.
	ClientIP *clientip.Resolver
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
	if c.Reattach == 0 {
		c.Reattach = 5 * time.Second
	}
	if c.AuthWait == 0 {
		c.AuthWait = 30 * time.Second
	}
}

// Metrics are the sockets' instruments.
type Metrics struct {
	Connections prometheus.Gauge
	SlowClients prometheus.Counter
	FramesIn    prometheus.Counter
	FramesOut   prometheus.Counter
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
		BadFrames:   prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_ws_bad_frames_total", Help: "Client frames refused as invalid."}),
		commands:    newCommandLatency(),
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.SlowClients, m.FramesIn, m.FramesOut, m.BadFrames, m.commands.vec)
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
	// writeBuffers lends write buffers to sockets only while they write, so
	// an idle socket holds none. Safe for concurrent use.
	writeBuffers sync.Pool

	mu      sync.Mutex
	open    map[*conn]struct{} // live sockets; guarded by mu
	closing bool               // set by CloseAll; guarded by mu
}

// NewHandler returns the /ws handler.
func NewHandler(cfg Config, sys *actors.System, v *auth.Verifier, m *Metrics, writeErr ErrorWriter, log *slog.Logger) *Handler {
	cfg.defaults()
	h := &Handler{cfg: cfg, sys: sys, verifier: v, log: log, metrics: m, writeErr: writeErr, open: map[*conn]struct{}{}}
	sys.Router().OnChange(h.topologyChanged)
	return h
}

// topologyChanged tells every socket's Connection actor to check whether
// its session's owner changed (it re-attaches if so).
func (h *Handler) topologyChanged() {
	h.mu.Lock()
	pids := make([]*actor.PID, 0, len(h.open))
	for c := range h.open {
		if pid := c.actor.Load(); pid != nil {
			pids = append(pids, pid)
		}
	}
	h.mu.Unlock()
	root := h.sys.ActorSystem().Root
	for _, pid := range pids {
		root.Send(pid, ownerCheck{})
	}
}

// CloseAll refuses new sockets and closes every open one with 1001 (going
// away), so clients reconnect, to this node after a restart or to another.
func (h *Handler) CloseAll() {
	h.mu.Lock()
	h.closing = true
	open := make([]*conn, 0, len(h.open))
	for c := range h.open {
		open = append(open, c)
	}
	h.mu.Unlock()
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
	h.open[c] = struct{}{}
	return true
}

func (h *Handler) untrack(c *conn) {
	h.mu.Lock()
	delete(h.open, c)
	h.mu.Unlock()
}

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
	defer lim.release()
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
	c.lim = lim
	if !h.track(c) {
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = c.ws.Close()
		return
	}
	defer h.untrack(c)
	lim.keepLease(func() {
		h.log.Warn("ws: the address's socket lease was refused; closing the socket", "user", userID)
		c.enqueue(wire.ErrorFrame(actors.NewError(actors.CodeRateLimited, "Too many connections from your network. Please close another tab and reconnect."), ""))
		c.closeWith(actors.CloseTooManySockets, "too many sockets from this address")
	})
	c.run(userID, expires)
}
