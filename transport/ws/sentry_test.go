package ws

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/getsentry/sentry-go"
	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// TestSocketLoopPanics injects a fault into each socket loop (a handler
// without grains under the reader, metrics without instruments under the
// writer, a Connection actor without a system): the panic is recovered and
// reported to the socket's hub with its stack, the socket closes, and the
// server goes on serving.
func TestSocketLoopPanics(t *testing.T) {
	tr := &sentry.MockTransport{}
	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: "http://k@127.0.0.1:1/1", Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		loop  string
		fault func(c *conn) // runs in the handler's goroutine; returns when the socket is done
	}{
		{"ws.reader", func(c *conn) {
			c.expires.Store(time.Now().Add(time.Hour).UnixNano()) // a valid token
			c.readLoop("u1", &connection{})                       // the client sends a spin: Deliver on a nil system panics
		}},
		{"ws.writer", func(c *conn) {
			c.h.metrics = &Metrics{}              // no FramesOut counter: the first write panics
			c.enqueue(&wire.Frame{Type: "state"}) // starts the writer
			<-c.written
		}},
		{"ws.connection", func(c *conn) {
			// No actors.System: the process panics as it starts.
			p := newConnection(c, nil, actor.NewActorSystem(), "u1")
			p.start()
			<-c.written // the close was sent
			p.stop()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.loop, func(t *testing.T) {
			before := len(tr.Events())
			h := &Handler{metrics: NewMetrics(nil), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			h.cfg.defaults()
			returned := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/healthz" {
					w.WriteHeader(http.StatusOK)
					return
				}
				hub := sentry.NewHub(client, sentry.NewScope())
				c, err := upgrade(w, r.WithContext(sentry.SetHubOnContext(r.Context(), hub)), h)
				if err != nil {
					return
				}
				c.setUser("u1")
				tc.fault(c)
				close(returned)
			}))
			defer srv.Close()
			ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"spin","id":1}`))
			// The socket closes.
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					break
				}
			}
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				t.Fatal("the socket's handler did not return after the panic")
			}
			evs := tr.Events()[before:]
			// (The Connection actor without a system panics again as it
			// stops: each panic is one event.)
			if len(evs) == 0 || (len(evs) > 1 && tc.loop != "ws.connection") {
				t.Fatalf("%d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Level != sentry.LevelFatal || ev.Tags["panic"] != tc.loop || ev.User.ID != "u1" ||
				len(ev.Exception) == 0 || ev.Exception[len(ev.Exception)-1].Stacktrace == nil {
				t.Fatalf("event level %q tags %v user %q exceptions %d", ev.Level, ev.Tags, ev.User.ID, len(ev.Exception))
			}
			if res, err := http.Get(srv.URL + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("server after the panic: %v %v", res, err)
			}
		})
	}
}

// TestSentryOffCostsNothing: with Sentry off (no hub), the socket's hooks
// allocate nothing.
func TestSentryOffCostsNothing(t *testing.T) {
	c := &conn{}
	cmd := &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}}
	ev := &msg.Event{Kind: &msg.Event_Queued{Queued: &msg.Queued{}}}
	if n := testing.AllocsPerRun(100, func() {
		tx, span := c.startCommand(cmd)
		endCommand(tx, span)
		c.eventCrumb(ev)
	}); n != 0 {
		t.Fatalf("%v allocations per command with Sentry off", n)
	}
	if cmd.Trace != "" {
		t.Fatal("a trace without Sentry")
	}
}
