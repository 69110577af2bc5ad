package ws

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// writerServer serves one socket whose reader runs readLoop's control
// handling (no grains: the client sends no commands) and hands the conn
// to the test.
func writerServer(t *testing.T, cfg Config) (*conn, *websocket.Conn) {
	t.Helper()
	h := &Handler{cfg: cfg, metrics: NewMetrics(nil), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h.cfg.defaults()
	conns := make(chan *conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrade(w, r, h)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
		c.readLoop("u1", &connection{})
		c.shutdown()
		<-c.written
		_ = c.ws.Close()
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return <-conns, ws
}

// TestWriterFrames: frames of every header length (2, 4 and 10 bytes)
// arrive whole and in order, each as json.Marshal encodes it, and a ping
// from the client is answered with its payload by the writer.
func TestWriterFrames(t *testing.T) {
	c, ws := writerServer(t, Config{})
	sizes := []int{0, 100, 125 - len(`{"type":"x","match_id":""}`), 126, 5000, 0xffff, 70000, 10}
	var want [][]byte
	c.mu.Lock()
	c.writing = true // holds the writer off: every frame goes out in one write
	c.mu.Unlock()
	for i, n := range sizes {
		f := &wire.Frame{Type: "x", MatchID: strings.Repeat(string(rune('a'+i)), n)}
		b, _ := json.Marshal(f)
		want = append(want, b)
		c.enqueue(f)
	}
	c.mu.Lock()
	c.writing = false
	c.kick()
	c.mu.Unlock()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, w := range want {
		typ, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if typ != websocket.TextMessage || string(got) != string(w) {
			t.Fatalf("frame %d (%d bytes): got type %d, %.60q...; want %.60q...", i, len(w), typ, got, w)
		}
	}
	// Counted once the write returned, which may be after the client read.
	clustertest.Eventually(t, 5*time.Second, "every frame counted out", func() bool {
		var m dto.Metric
		_ = c.h.metrics.FramesOut.Write(&m)
		return m.GetCounter().GetValue() == float64(len(sizes))
	})

	pongs := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, _, err := ws.ReadMessage(); read <- err }() // pongs are handled while reading
	select {
	case p := <-pongs:
		if p != "are you there" {
			t.Fatalf("pong %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	c.enqueue(&wire.Frame{Type: "after_pong"})
	if err := <-read; err != nil {
		t.Fatal(err)
	}
}

// TestWriterEchoesClose: a client's close is answered with its code by
// the writer, and the socket ends.
func TestWriterEchoesClose(t *testing.T) {
	c, ws := writerServer(t, Config{})
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4321, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4321 {
		t.Fatalf("got %v, want the close 4321 echoed", err)
	}
	select {
	case <-c.written:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not finish after the close")
	}
}

// TestWriterReadDeadline: the read deadline moves at most once per
// PongWait/10, and a silent client is closed within PongWait of its last
// frame.
func TestWriterReadDeadline(t *testing.T) {
	c, ws := writerServer(t, Config{PongWait: 400 * time.Millisecond})
	start := time.Now()
	// Frames 10 ms apart for 600 ms: the socket stays open past PongWait
	// from its start only because the deadline moves.
	for time.Since(start) < 600*time.Millisecond {
		if err := ws.WriteMessage(websocket.BinaryMessage, []byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // the client's pace, not a wait for a condition
	}
	last := time.Now()
	select {
	case <-c.written:
		t.Fatal("closed while the client was sending")
	default:
	}
	select {
	case <-c.written:
		if d := time.Since(last); d < 300*time.Millisecond || d > 600*time.Millisecond {
			t.Fatalf("closed %v after the last frame, want about PongWait", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a silent client was not closed")
	}
}
