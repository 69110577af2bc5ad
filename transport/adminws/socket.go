package adminws

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/keys"
	"github.com/spinmatch/spinmatch/transport/ws"
)

// ErrorWriter writes an HTTP JSON error (PROTOCOL.md, Errors).
type ErrorWriter func(w http.ResponseWriter, code, message string)

// readLimit bounds what an admin may send: nothing is expected but
// control frames, so anything bigger closes the socket (1009).
const readLimit = 4 << 10

// Handler serves GET /admin/ws. Static after NewHandler.
type Handler struct {
	hub      *Hub
	gate     *keys.Gate
	writeErr ErrorWriter
	// writeBuffers lends write buffers to sockets only while they write.
	writeBuffers sync.Pool
}

// NewHandler returns the /admin/ws handler; gate is the admin key gate
// (keys.Admin with allowQuery, for ?admin_key=).
func NewHandler(hub *Hub, gate *keys.Gate, writeErr ErrorWriter) *Handler {
	return &Handler{hub: hub, gate: gate, writeErr: writeErr}
}

// ServeHTTP checks the Origin and the admin key, upgrades, and streams
// until the socket closes or is dropped.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := &h.hub.cfg
	if !ws.OriginAllowed(r, cfg.AllowedOrigins) {
		h.writeErr(w, actors.CodeForbidden, "This site isn't allowed to connect.")
		return
	}
	if _, ok := h.gate.Check(w, r); !ok {
		return
	}
	if h.hub.Clients() >= cfg.MaxClients { // checked again, under the lock, by join
		h.writeErr(w, actors.CodeUnavailable, "Too many dashboards are open on this server. Please close one and try again.")
		return
	}
	up := websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &h.writeBuffers,
		// The Origin was checked above, before the key.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered
	}
	defer conn.Close()
	if tc, ok := conn.NetConn().(*net.TCPConn); ok && cfg.SocketBuffer > 0 {
		_ = tc.SetWriteBuffer(cfg.SocketBuffer)
	}
	c := &client{send: make(chan []byte, cfg.SendQueue), gone: make(chan struct{}), kill: func() { _ = conn.NetConn().Close() }}
	if !h.hub.join(c) {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too many admin sockets"), time.Now().Add(time.Second))
		return
	}
	defer h.hub.leave(c)

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		read(conn, cfg.PongWait)
	}()
	write(conn, c, readerDone, cfg)
	_ = conn.Close() // unblocks the reader
	<-readerDone
}

// read consumes what the admin sends (nothing but pongs is expected)
// until the socket fails or stays silent past pongWait.
func read(conn *websocket.Conn, pongWait time.Duration) {
	conn.SetReadLimit(readLimit)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}

// write is the socket's only writer: the hub's frames, and pings. It
// returns when the reader ends, a write fails, or the hub drops the
// socket (its queue was full).
func write(conn *websocket.Conn, c *client, readerDone <-chan struct{}, cfg *Config) {
	ping := time.NewTicker(cfg.PongWait * 9 / 10)
	defer ping.Stop()
	for {
		select {
		case <-readerDone:
			return
		case <-c.gone:
			// A stalled reader: its writes may be blocked too, so no close
			// frame; the connection is closed by the caller.
			return
		case f := <-c.send:
			_ = conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
			if err := conn.WriteMessage(websocket.TextMessage, f); err != nil {
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil {
				return
			}
		}
	}
}
