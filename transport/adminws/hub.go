// Package adminws serves the admin stream, GET /admin/ws (PROTOCOL.md,
// Admin): {"type": "stats", ...snapshot} at least once a second, and
// {"type": "alert", ...} for every alert change.
//
// Its cost is flat in the number of admins watching: one Hub per node runs
// one ticker (only while somebody watches) that takes the System's shared
// snapshot, encodes the frame once and hands the same bytes to every admin
// socket's bounded send queue. A socket whose queue is full (it stopped
// reading) is dropped at once; the others never wait for it. The number of
// admin sockets per node is capped.
//
// Each node also keeps the last hour of the dashboard's trends (matches
// per minute, people waiting, success rate): a sampler, always on, adds a
// point every HistoryStep (one snapshot a minute by default, free while
// the ticker runs) to a bounded ring, and a new admin socket gets
// {"type": "history", "points": [...]} first (extension), so a freshly
// opened dashboard does not start empty.
//
// Concurrency: a Hub is safe for concurrent use; its ticker goroutine owns
// the in-flight snapshot and the last alert sequence sent; the client set
// is guarded by Hub.mu. Each socket has one writer goroutine (the only one
// that writes) and one reader (the HTTP handler's goroutine).
package adminws

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors"
)

// Config tunes the stream. Zero values mean the documented defaults.
type Config struct {
	// Interval is how often a stats frame is sent. Zero: 900ms, so that a
	// frame comes at least once a second despite the time one takes.
	Interval time.Duration
	// SendQueue is how many frames may wait for one admin socket; a socket
	// whose queue is full is dropped. Zero: 8.
	SendQueue int
	// MaxClients caps the admin sockets of one node; more are refused with
	// 503. Zero: 64.
	MaxClients int
	// WriteWait bounds one write. Zero: 10s.
	WriteWait time.Duration
	// PongWait is how long an admin socket may stay silent (pings are sent
	// at 9/10 of it). Zero: 60s.
	PongWait time.Duration
	// AllowedOrigins is the Origin allow-list (as /ws's). Zero value: the
	// server's own origin only.
	AllowedOrigins []string
	// SocketBuffer, when positive, sets the kernel send buffer of each
	// admin socket, so a stalled reader fills its queue (and is dropped)
	// sooner and holds less memory. Zero: the system default.
	SocketBuffer int
	// HistoryStep is how often a trend point is taken. Zero: 1 min.
	HistoryStep time.Duration
	// HistoryLen is how many trend points are kept. Zero: 60 (an hour
	// at the default step).
	HistoryLen int
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = 900 * time.Millisecond
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 8
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 64
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 10 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 60 * time.Second
	}
	if c.HistoryStep <= 0 {
		c.HistoryStep = time.Minute
	}
	if c.HistoryLen <= 0 {
		c.HistoryLen = 60
	}
}

// Metrics are the stream's instruments.
type Metrics struct {
	Clients prometheus.Gauge   // admin sockets open on this node
	Dropped prometheus.Counter // admin sockets dropped because their send queue was full
}

// NewMetrics creates the instruments and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "spinmatch_admin_stream_clients", Help: "Admin stream (/admin/ws) sockets open on this node."}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_admin_stream_dropped_total", Help: "Admin stream sockets dropped because their bounded send queue was full (the client stopped reading)."}),
	}
	if reg != nil {
		reg.MustRegister(m.Clients, m.Dropped)
	}
	return m
}

// Source is where the stream's data comes from (actors.System).
type Source interface {
	// SnapshotWithin returns the cluster snapshot, at most maxAge old.
	SnapshotWithin(ctx context.Context, maxAge time.Duration) (*actors.Snapshot, error)
}

// AlertFeed returns the cluster's alert changes after seq, oldest first
// (the System's AlertsSince; seq 0: all it keeps); nil means no alerts are
// announced. It may block (it asks a grain): the hub calls it off its
// ticker.
type AlertFeed func(ctx context.Context, seq int64) []actors.Alert

// Hub fans the stream out to the node's admin sockets.
type Hub struct {
	cfg     Config // static after NewHub
	src     Source
	alerts  AlertFeed
	log     *slog.Logger
	metrics *Metrics
	hist    *history
	quit    chan struct{} // closed once by CloseAll: stops the sampler
	quitOne sync.Once

	mu      sync.Mutex
	clients map[*client]struct{} // guarded by mu
	stop    chan struct{}        // guarded by mu: closed to stop the ticker; nil while none runs
	last    []byte               // guarded by mu: the last stats frame sent
	closing bool                 // guarded by mu: set by CloseAll
}

// NewHub returns a hub; its ticker runs only while an admin socket is
// open, its trend sampler until CloseAll.
func NewHub(cfg Config, src Source, alerts AlertFeed, m *Metrics, log *slog.Logger) *Hub {
	cfg.defaults()
	if m == nil {
		m = NewMetrics(nil)
	}
	h := &Hub{cfg: cfg, src: src, alerts: alerts, log: log, metrics: m, clients: map[*client]struct{}{},
		hist: &history{max: cfg.HistoryLen}, quit: make(chan struct{})}
	go h.sample(h.quit)
	return h
}

// client is one admin socket as the hub sees it.
type client struct {
	send chan []byte   // bounded (Config.SendQueue); the socket's writer drains it
	gone chan struct{} // closed once, by drop (the socket then closes)
	once sync.Once
	// kill closes the connection at once (nil in tests of the hub alone):
	// a writer stuck on a stalled reader is freed without waiting for its
	// write deadline. Static after construction.
	kill func()
}

func (c *client) drop() {
	c.once.Do(func() {
		close(c.gone)
		if c.kill != nil {
			c.kill()
		}
	})
}

// join adds c; false when the node already has MaxClients admin sockets.
// A newcomer gets the trends' history and the last stats frame at once.
func (h *Hub) join(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing || len(h.clients) >= h.cfg.MaxClients {
		return false
	}
	h.clients[c] = struct{}{}
	h.metrics.Clients.Inc()
	// A fresh queue: these never block (with a queue of one, the stats
	// frame waits for the ticker's next).
	if f := h.hist.encoded(); f != nil {
		c.send <- f
	}
	if h.stop == nil {
		h.stop = make(chan struct{})
		go h.run(h.stop)
	} else if h.last != nil {
		select {
		case c.send <- h.last:
		default:
		}
	}
	return true
}

// leave removes c, and stops the ticker when nobody watches any more.
func (h *Hub) leave(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c)
}

// removeLocked removes c if it is still in the set, and stops the ticker
// when that empties the set: the one path for a socket that closed (leave)
// and one dropped for a full queue (broadcast). h.mu must be held.
func (h *Hub) removeLocked(c *client) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	h.metrics.Clients.Dec()
	if len(h.clients) == 0 && h.stop != nil {
		close(h.stop)
		h.stop, h.last = nil, nil
	}
}

// CloseAll drops every admin socket and refuses new ones (shutdown).
func (h *Hub) CloseAll() {
	h.quitOne.Do(func() { close(h.quit) })
	h.mu.Lock()
	h.closing = true
	open := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		open = append(open, c)
	}
	h.mu.Unlock()
	for _, c := range open {
		c.drop()
	}
}

// Clients returns how many admin sockets are open.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// broadcast hands frame to every client; a client whose queue is full is
// dropped (its socket closes), never waited for; when that was the last
// one the ticker stops, as when the last socket leaves. A ticker that was
// stopped (stop is no longer the hub's) sends nothing: a newer one may
// serve the clients that joined since.
func (h *Hub) broadcast(stop chan struct{}, frame []byte, stats bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop != stop {
		return
	}
	if stats {
		h.last = frame
	}
	for c := range h.clients {
		select {
		case c.send <- frame:
		default:
			h.metrics.Dropped.Inc()
			c.drop()
			h.removeLocked(c)
		}
	}
}

// update is one refresh of the ticker: the stats frame (nil when there
// is no snapshot), and the alert frames with the newest sequence sent.
type update struct {
	stats  []byte
	alerts [][]byte
	seq    int64
}

// run is the ticker: every Interval a refresh (a fresh snapshot and the
// alert changes since the last sent), computed off the ticker goroutine;
// while one is still under way (a pool, a node or the Alerts grain slow to
// answer) the last stats frame is sent again, so the cadence holds.
func (h *Hub) run(stop chan struct{}) {
	tick := time.NewTicker(h.cfg.Interval)
	defer tick.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := make(chan update, 1)
	inFlight := false
	var seq int64
	refresh := func(first bool) {
		inFlight = true
		go func(seq int64) {
			if first {
				seq = h.startSeq(ctx)
			}
			updates <- h.refresh(ctx, seq)
		}(seq)
	}
	refresh(true)
	for {
		select {
		case <-stop:
			return
		case u := <-updates:
			inFlight, seq = false, u.seq
			for _, a := range u.alerts {
				h.broadcast(stop, a, false)
			}
			if u.stats != nil {
				h.broadcast(stop, u.stats, true)
			}
		case <-tick.C:
			if !inFlight {
				refresh(false)
				continue
			}
			h.mu.Lock()
			f := h.last
			h.mu.Unlock()
			if f != nil {
				h.broadcast(stop, f, true)
			}
		}
	}
}

// refresh computes one update: the alert changes after seq, and the stats frame.
func (h *Hub) refresh(ctx context.Context, seq int64) update {
	u := update{seq: seq}
	if h.alerts != nil {
		for _, a := range h.alerts(ctx, seq) {
			if a.Seq <= u.seq {
				continue
			}
			u.seq = a.Seq
			a.Type = "alert"
			if b, err := json.Marshal(a); err == nil {
				u.alerts = append(u.alerts, b)
			}
		}
	}
	u.stats = h.statsFrame(ctx)
	return u
}

// statsFrame encodes {"type": "stats", ...snapshot}; nil on failure.
func (h *Hub) statsFrame(ctx context.Context) []byte {
	snap, err := h.src.SnapshotWithin(ctx, h.cfg.Interval/2)
	if err != nil {
		h.log.Warn("admin stream: no snapshot", "err", err)
		return nil
	}
	return StatsFrame(snap)
}

// StatsFrame encodes a snapshot as the stream's stats frame.
func StatsFrame(snap *actors.Snapshot) []byte {
	b, err := json.Marshal(snap)
	if err != nil || len(b) < 2 {
		return nil
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, `{"type":"stats"`...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, b[1:]...)
}

// startSeq is the newest alert change when the ticker starts: those
// before are history (GET /api/admin/alerts), not announced again.
func (h *Hub) startSeq(ctx context.Context) int64 {
	var last int64
	if h.alerts != nil {
		for _, a := range h.alerts(ctx, 0) {
			last = max(last, a.Seq)
		}
	}
	return last
}
