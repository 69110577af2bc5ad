package ws

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/transport/wire"
)

func TestOriginAllowed(t *testing.T) {
	cases := []struct {
		name    string
		allowed []string
		host    string
		origin  string
		want    bool
	}{
		{"no origin (non-browser)", nil, "spin.example", "", true},
		{"same origin by default", nil, "spin.example:8080", "http://spin.example:8080", true},
		{"other origin by default", nil, "spin.example", "https://evil.example", false},
		{"other port by default", nil, "spin.example:8080", "http://spin.example:9090", false},
		{"listed", []string{"https://app.example"}, "api.example", "https://app.example", true},
		{"listed with slash", []string{"https://app.example/"}, "api.example", "https://app.example", true},
		{"not listed", []string{"https://app.example"}, "api.example", "https://api.example", false},
		{"wildcard", []string{"*"}, "api.example", "https://anything.example", true},
		{"garbage origin", nil, "spin.example", "::::", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{cfg: Config{AllowedOrigins: tc.allowed}}
			r := httptest.NewRequest("GET", "http://"+tc.host+"/ws", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if got := h.originAllowed(r); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSlowClientIsDisconnected fills a socket's send queue while nothing
// drains it: the next frame closes the socket and counts a slow client,
// and enqueue never blocks.
func TestSlowClientIsDisconnected(t *testing.T) {
	h := &Handler{cfg: Config{SendQueue: 2}, metrics: NewMetrics(nil), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h.cfg.defaults()
	result := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrade(w, r, h)
		if err != nil {
			result <- err
			return
		}
		// No writer runs: the queue holds two frames, the third overflows.
		start := time.Now()
		for i := 0; i < 3; i++ {
			c.enqueue(&wire.Frame{Type: "wait_update"})
		}
		select {
		case <-c.done:
		default:
			result <- errors.New("socket not closed after the queue overflowed")
			return
		}
		if d := time.Since(start); d > time.Second {
			result <- fmt.Errorf("enqueue blocked for %v", d)
			return
		}
		result <- nil
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	var m dto.Metric
	_ = h.metrics.SlowClients.Write(&m)
	if m.GetCounter().GetValue() != 1 {
		t.Fatalf("slow clients counted %v, want 1", m.GetCounter().GetValue())
	}
	// The client sees the connection end.
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("read succeeded on a dropped slow client")
	}
}
