package ws

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/transport/wire"
)

// TestFlusherOneWriteForFramesWithinTheDelay: frames sent to a socket
// within its write delay go out in one write, in order, and a frame after
// the writer ended starts a new one.
func TestFlusherOneWriteForFramesWithinTheDelay(t *testing.T) {
	c, ws := writerServer(t, Config{})
	c.h.flush = newFlusher(50 * time.Millisecond) // far longer than three enqueues take
	writes := func() float64 {
		var m dto.Metric
		_ = c.h.metrics.Writes.Write(&m)
		return m.GetCounter().GetValue()
	}
	for _, typ := range []string{"queued", "match_found", "vote_recorded"} {
		c.enqueue(&wire.Frame{Type: typ})
	}
	read := func(want string) {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, b, err := ws.ReadMessage()
		if err != nil || typ != websocket.TextMessage || string(b) != `{"type":"`+want+`"}` {
			t.Fatalf("read %d %q %v; want %s", typ, b, err, want)
		}
	}
	for _, want := range []string{"queued", "match_found", "vote_recorded"} {
		read(want)
	}
	waitWrites(t, writes, 1)
	c.enqueue(&wire.Frame{Type: "match_result"})
	read("match_result")
	waitWrites(t, writes, 2)
}

// waitWrites waits until writes() reads want (a write is counted after it
// returns, which may be after the client read it), and fails if it passes.
func waitWrites(t *testing.T, writes func() float64, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for writes() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := writes(); got != want {
		t.Fatalf("%v writes, want %v", got, want)
	}
}
