package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getsentry/sentry-go"

	"github.com/spinmatch/spinmatch/actors"
)

func TestClientErrors(t *testing.T) {
	tr := &sentry.MockTransport{}
	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: "http://k@127.0.0.1:1/1", Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	h := newClientErrors()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What the node's sentryhttp middleware does: a hub per request.
		hub := sentry.NewHub(client, sentry.NewScope())
		h.ServeHTTP(w, r.WithContext(sentry.SetHubOnContext(r.Context(), hub)))
	}))
	defer srv.Close()
	post := func(body string) (int, string) {
		res, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"report", `{"message":"TypeError: boom","stack":"at x","url":"http://h/","user_agent":"ua","extra":1}`, 204, ""},
		{"not json", `boom`, 400, "invalid_message"},
		{"not an object", `["boom"]`, 400, "invalid_message"},
		{"no message", `{"stack":"at x"}`, 400, "invalid_message"},
		{"message not a string", `{"message":3}`, 400, "invalid_message"},
		{"two objects", `{"message":"a"}{"message":"b"}`, 400, "invalid_message"},
		{"too large", `{"message":"` + strings.Repeat("x", clientErrorMax) + `"}`, 413, "message_too_large"},
	}
	for _, c := range cases {
		status, body := post(c.body)
		if status != c.status || (c.code != "" && !strings.Contains(body, `"code":"`+c.code+`"`)) {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, body, c.status, c.code)
		}
	}
	evs := tr.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Message != "TypeError: boom" || ev.Level != sentry.LevelError || ev.Tags["source"] != "browser" ||
		ev.Contexts["browser_error"]["stack"] != "at x" || ev.Contexts["browser_error"]["user_agent"] != "ua" {
		t.Errorf("event %+v", ev)
	}

}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo", 2); got != "h" {
		t.Fatalf("truncate on a rune boundary: %q", got)
	}
	if got := truncate("abc", 5); got != "abc" {
		t.Fatalf("%q", got)
	}
}

// FuzzClientErrorBody: any body is a report with a message or a typed
// invalid_message.
func FuzzClientErrorBody(f *testing.F) {
	f.Add([]byte(`{"message":"TypeError: x is undefined","stack":"at f (app.js:1:2)","url":"http://h/","user_agent":"ua"}`))
	f.Add([]byte(`{"message":"m","extra":[1,{"a":null}],"n":3}`))
	f.Add([]byte(`{"message":""}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		message, body, e := parseClientError(in, nil)
		if e != nil {
			if e.Code != actors.CodeInvalidMessage || e.Message == "" {
				t.Fatalf("error %v, want invalid_message", e)
			}
			return
		}
		if message == "" || body["message"] != message {
			t.Fatalf("report without its message: %q %v", message, body)
		}
		ev := browserEvent(message, body)
		if len(ev.Message) > clientMessageMax || ev.Tags["source"] != "browser" {
			t.Fatalf("event message %d bytes, tags %v", len(ev.Message), ev.Tags)
		}
	})
}
