// Package statusws serves GET /status/ws (PROTOCOL.md, Pages): a public,
// read-only stream of the /api/queue/status body, sent when it changes and
// at most once per interval.
//
// The cost is flat in the number of watchers: one goroutine per node (the
// Hub's loop, running only while someone watches) computes the body once per
// interval and fans the same bytes out to every watcher. Each watcher has a
// writer goroutine that owns all its writes and a bounded send queue; a
// watcher whose queue is full (it stopped reading) is dropped, never waited
// for. The node caps its watchers, and each address's (addresses exempt from
// the per-address limits aside); the upgrade itself spends the address's
// rest_public budget in the edge's limiter (transport/api Class) before the
// Hub sees it.
//
// Concurrency: a Hub is safe for concurrent use; its mutable fields are
// guarded by mu, each watcher's socket is written only by its writer
// goroutine and read only by its reader goroutine.
package statusws

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/clientip"
	"github.com/spinmatch/spinmatch/transport/ws"
)

// The bounded queues this package refuses or drops at (the label of the
// queue-full counter, actors.System.CountQueueFull).
const (
	// QueueWatchers: the node's, or one address's, status watchers.
	QueueWatchers = "status_watchers"
	// QueueSend: one watcher's frames not yet written (a slow watcher is dropped).
	QueueSend = "status_send"
)

// Config tunes the stream. Zero values mean the documented defaults.
type Config struct {
	// Interval is the least time between two frames, and how often the body
	// is recomputed while anyone watches. Zero: 1s.
	Interval time.Duration
	// MaxWatchers caps the node's watchers; beyond it an upgrade gets 503
	// unavailable. Zero: 1000.
	MaxWatchers int
	// MaxPerAddress caps one client address's watchers; beyond it an
	// upgrade gets 429 rate_limited. Zero: 8.
	MaxPerAddress int
	// SendQueue is how many frames may wait for one watcher. Zero: 4.
	SendQueue int
	// WriteWait bounds one write. Zero: 10s.
	WriteWait time.Duration
	// PongWait is how long a watcher may stay silent (pings every 9/10 of
	// it). Zero: 60s.
	PongWait time.Duration
	// AllowedOrigins is the socket Origin allow-list (ws.OriginAllowed).
	AllowedOrigins []string
	// ClientIP says which addresses are exempt from the per-address cap.
	// Zero value: none.
	ClientIP *clientip.Resolver
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.MaxWatchers <= 0 {
		c.MaxWatchers = 1000
	}
	if c.MaxPerAddress <= 0 {
		c.MaxPerAddress = 8
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 4
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 10 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 60 * time.Second
	}
	if c.ClientIP == nil {
		c.ClientIP = clientip.New(nil, nil)
	}
}

// BodyFunc computes the current /api/queue/status body (JSON).
type BodyFunc func(ctx context.Context) ([]byte, error)

// ErrorWriter writes an HTTP JSON error (PROTOCOL.md, Errors).
type ErrorWriter func(w http.ResponseWriter, code, message string)

// Hub owns the node's status watchers and the loop that feeds them.
type Hub struct {
	cfg      Config       // static after New
	body     BodyFunc     // static after New
	full     func(string) // static after New: counts a refusal or a drop by queue
	writeErr ErrorWriter  // static after New
	log      *slog.Logger

	mu       sync.Mutex
	watchers map[*watcher]struct{} // guarded by mu
	perAddr  map[string]int        // guarded by mu: watchers (and reservations) per address key; exempt ones not counted
	reserved int                   // guarded by mu: places reserved by upgrades in progress
	last     []byte                // guarded by mu: the body last fanned out; nil while the loop is stopped
	running  bool                  // guarded by mu: the loop goroutine is alive
	closing  bool                  // guarded by mu: Close was called
}

// New returns a Hub. full, when set, is told of each refusal at a cap and
// each slow watcher dropped, with the queue's name (QueueWatchers, QueueSend).
func New(cfg Config, body BodyFunc, full func(queue string), writeErr ErrorWriter, log *slog.Logger) *Hub {
	cfg.defaults()
	if full == nil {
		full = func(string) {}
	}
	return &Hub{cfg: cfg, body: body, full: full, writeErr: writeErr, log: log,
		watchers: map[*watcher]struct{}{}, perAddr: map[string]int{}}
}

// Watchers reports how many watchers the node has.
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// Close closes every watcher with 1001 and refuses new ones (shutdown:
// http.Server.Shutdown leaves hijacked connections alone).
func (h *Hub) Close() {
	h.mu.Lock()
	h.closing = true
	ws := make([]*watcher, 0, len(h.watchers))
	for w := range h.watchers {
		ws = append(ws, w)
	}
	h.mu.Unlock()
	for _, w := range ws {
		w.close(websocket.CloseGoingAway, "server shutting down")
	}
}

// ServeHTTP checks the Origin and the caps, upgrades, and hands the socket
// to its goroutines; it returns at once (the socket outlives the request).
func (h *Hub) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if !ws.OriginAllowed(r, h.cfg.AllowedOrigins) {
		h.writeErr(rw, actors.CodeForbidden, "This site isn't allowed to connect.")
		return
	}
	addr := clientip.FromContext(r.Context()) // the edge's limits middleware put it there
	if !addr.IsValid() {
		addr = h.cfg.ClientIP.Addr(r)
	}
	key := ""
	if !h.cfg.ClientIP.Exempt(addr) {
		key = clientip.Key(addr)
	}
	if code, message := h.reserve(key); code != "" {
		h.full(QueueWatchers)
		if code == actors.CodeRateLimited {
			rw.Header().Set("Retry-After", "5")
		}
		h.writeErr(rw, code, message)
		return
	}
	up := websocket.Upgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true }, // checked above
	}
	c, err := up.Upgrade(rw, r, nil)
	if err != nil {
		h.unreserve(key)
		return // the upgrader answered
	}
	w := &watcher{h: h, ws: c, key: key, send: make(chan []byte, h.cfg.SendQueue), done: make(chan struct{})}
	if !h.add(w) {
		_ = c.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = c.Close()
		return
	}
	go w.writeLoop()
	go w.readLoop()
}

// reserve takes a place under the node's and the address's caps; it
// returns the refusal's code and message when there is none.
func (h *Hub) reserve(key string) (code, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closing:
		return actors.CodeUnavailable, "This server is restarting. Please reconnect in a moment."
	case len(h.watchers)+h.reserved >= h.cfg.MaxWatchers:
		return actors.CodeUnavailable, "The live status is very busy right now. Please try again in a moment."
	case key != "" && h.perAddr[key] >= h.cfg.MaxPerAddress:
		return actors.CodeRateLimited, "Too many status pages are open from your network. Close one and try again."
	}
	if key != "" {
		h.perAddr[key]++
	}
	h.reserved++
	return "", ""
}

func (h *Hub) unreserve(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.release(key)
	h.reserved--
}

// release gives back an address's place; caller holds mu.
func (h *Hub) release(key string) {
	if key == "" {
		return
	}
	if h.perAddr[key] <= 1 {
		delete(h.perAddr, key)
	} else {
		h.perAddr[key]--
	}
}

// add turns a reservation into a watcher, queues the current body for it
// and starts the loop if it is not running; false when closing.
func (h *Hub) add(w *watcher) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reserved--
	if h.closing {
		h.release(w.key)
		return false
	}
	h.watchers[w] = struct{}{}
	if h.last != nil {
		w.send <- h.last // a new queue has room
	}
	if !h.running {
		h.running = true
		go h.loop()
	}
	return true
}

// remove forgets a watcher (once).
func (h *Hub) remove(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.watchers[w]; !ok {
		return
	}
	delete(h.watchers, w)
	h.release(w.key)
}

// loop computes the body once per interval while anyone watches and fans
// it out when it changed. It stops, forgetting the body, when the last
// watcher has gone.
func (h *Hub) loop() {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		if !h.tick() {
			return
		}
		<-t.C
	}
}

// tick runs one interval's computation and fan-out; false when the loop
// should stop.
func (h *Hub) tick() bool {
	h.mu.Lock()
	if len(h.watchers) == 0 || h.closing {
		h.running, h.last = false, nil
		h.mu.Unlock()
		return false
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*h.cfg.Interval)
	body, err := h.body(ctx)
	cancel()
	if err != nil {
		h.log.Warn("statusws: queue status failed", "err", err)
		return true
	}
	h.mu.Lock()
	if bytes.Equal(body, h.last) {
		h.mu.Unlock()
		return true
	}
	h.last = body
	var slow []*watcher
	for w := range h.watchers {
		select {
		case w.send <- body:
		default:
			slow = append(slow, w)
		}
	}
	h.mu.Unlock()
	for _, w := range slow {
		h.full(QueueSend)
		w.close(websocket.ClosePolicyViolation, "too slow")
	}
	return true
}

// watcher is one /status/ws socket.
type watcher struct {
	h    *Hub
	ws   *websocket.Conn // written only by writeLoop (and close's control frame, which gorilla allows concurrently)
	key  string          // static: the address key counted against the cap ("" when exempt)
	send chan []byte     // bounded; filled by the Hub, drained by writeLoop
	done chan struct{}   // closed once by close

	once sync.Once
}

// close ends the watcher once: it leaves the Hub at once, then sends a
// close frame and closes the socket (which ends both loops) on a goroutine
// of its own. The frame can take its whole second: a watcher dropped as too
// slow has a writer stuck in a write holding the socket's write lock, and
// the fan-out (and shutdown) must not wait a second per such watcher.
func (w *watcher) close(code int, reason string) {
	w.once.Do(func() {
		w.h.remove(w)
		close(w.done)
		go func() {
			_ = w.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			_ = w.ws.Close()
		}()
	})
}

// writeLoop owns the socket's data writes and its pings.
func (w *watcher) writeLoop() {
	cfg := w.h.cfg
	ping := time.NewTicker(cfg.PongWait * 9 / 10)
	defer ping.Stop()
	for {
		select {
		case <-w.done:
			return
		case b := <-w.send:
			_ = w.ws.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
			if err := w.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				w.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if err := w.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil {
				w.close(websocket.CloseAbnormalClosure, "")
				return
			}
		}
	}
}

// readLoop reads (and ignores: the stream is read-only) what the client
// sends, so pongs and close frames are processed; silence past PongWait, a
// frame over 512 bytes (1009) or a read error ends the watcher.
func (w *watcher) readLoop() {
	pong := w.h.cfg.PongWait
	w.ws.SetReadLimit(512)
	_ = w.ws.SetReadDeadline(time.Now().Add(pong))
	w.ws.SetPongHandler(func(string) error { return w.ws.SetReadDeadline(time.Now().Add(pong)) })
	for {
		if _, _, err := w.ws.ReadMessage(); err != nil {
			w.close(websocket.CloseNormalClosure, "")
			return
		}
	}
}
