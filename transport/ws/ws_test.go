package ws

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

// TestSlowClientIsDisconnected fills a socket's send queue while the
// client reads nothing: once the socket's buffers are full the writer
// blocks, the queue fills, and the next frame closes the socket and
// counts a slow client; enqueue never blocks.
func TestSlowClientIsDisconnected(t *testing.T) {
	h := &Handler{cfg: Config{SendQueue: 2}, metrics: NewMetrics(nil), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h.cfg.defaults()
	result := make(chan error, 1)
	big := strings.Repeat("x", 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrade(w, r, h)
		if err != nil {
			result <- err
			return
		}
		start := time.Now()
		for i := 0; !c.closed(); i++ {
			if i == 10000 {
				result <- errors.New("socket not closed after 10,000 frames of 64 KiB nobody read")
				return
			}
			c.enqueue(&wire.Frame{Type: "wait_update", MatchID: big})
		}
		if d := time.Since(start); d > 5*time.Second {
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
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the dropped slow client's socket is still open")
		}
		break
	}
}
