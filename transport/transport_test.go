package transport

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecovererTurnsPanicIntoInternalError(t *testing.T) {
	var reported any
	h := recoverer(slog.New(slog.NewTextHandler(io.Discard, nil)), func(_ *http.Request, v any) { reported = v },
		secure(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for i := 0; i < 2; i++ { // the server keeps serving after a panic
		res, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != 500 || body.Error.Code != "internal" || body.Error.Message == "" {
			t.Fatalf("got %d %+v", res.StatusCode, body)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatal("security headers missing")
		}
	}
	if reported != "boom" {
		t.Fatalf("panic reported as %v", reported)
	}
}
