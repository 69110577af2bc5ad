package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// get performs one request against a fresh test server.
func get(t *testing.T, srv *httptest.Server, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+target, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, string(body)
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(Config{Development: true}))
	t.Cleanup(srv.Close)
	return srv
}

func TestIndex(t *testing.T) {
	srv := newServer(t)
	res, body := get(t, srv, http.MethodGet, "/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	checks := []struct{ name, got, want string }{
		{"content type", res.Header.Get("Content-Type"), "text/html; charset=utf-8"},
		{"cache control", res.Header.Get("Cache-Control"), "no-cache"},
		{"nosniff", res.Header.Get("X-Content-Type-Options"), "nosniff"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy on the page")
	}
	// Every referenced asset carries its fingerprint.
	refs := regexp.MustCompile(`"/static/([^"?]+)(\?v=[0-9a-f]+)?"`).FindAllStringSubmatch(body, -1)
	if len(refs) == 0 {
		t.Fatal("page references no assets")
	}
	for _, r := range refs {
		if r[2] == "" {
			t.Errorf("asset %s referenced without ?v= fingerprint", r[1])
		}
	}
	for _, testid := range []string{"onboard-name", "onboard-submit", "spin-button", "cancel-button", "waiting-view",
		"eta-text", "eta-reason", "queue-position", "match-card", "partner-name", "vote-yes", "vote-no", "result-text",
		"view-signin", "signin-email", "signin-password", "signin-submit", "signin-magic", "signin-sent",
		"view-signin-elsewhere", "signin-elsewhere-link", "signin-again-modal", "signin-again-button", "signin-again-link", "sign-out"} {
		if !strings.Contains(body, `data-testid="`+testid+`"`) {
			t.Errorf("page lacks data-testid=%q", testid)
		}
	}
}

func TestAssets(t *testing.T) {
	want := map[string]string{
		".css": "text/css; charset=utf-8",
		".js":  "text/javascript; charset=utf-8",
		".svg": "image/svg+xml",
		".txt": "text/plain; charset=utf-8",
	}
	srv := newServer(t)
	names := staticFiles(t)
	_, page := get(t, srv, http.MethodGet, "/", nil)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ct, ok := want[path.Ext(name)]
			if !ok {
				t.Fatalf("no expected content type for %s; add it to the test", name)
			}
			// Plain URL: served, revalidated.
			res, body := get(t, srv, http.MethodGet, "/"+name, nil)
			if res.StatusCode != http.StatusOK || len(body) == 0 {
				t.Fatalf("status = %d, %d bytes", res.StatusCode, len(body))
			}
			if got := res.Header.Get("Content-Type"); got != ct {
				t.Errorf("content type = %q, want %q", got, ct)
			}
			if got := res.Header.Get("Cache-Control"); got != cacheNoCache {
				t.Errorf("cache control = %q, want %q", got, cacheNoCache)
			}
			// Revalidation with the ETag answers 304.
			etag := res.Header.Get("ETag")
			res, _ = get(t, srv, http.MethodGet, "/"+name, http.Header{"If-None-Match": {etag}})
			if res.StatusCode != http.StatusNotModified {
				t.Errorf("conditional GET status = %d, want 304", res.StatusCode)
			}
			// The fingerprinted URL the page uses (when it uses this asset) is immutable.
			m := regexp.MustCompile(`"/` + regexp.QuoteMeta(name) + `(\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
			if m == nil {
				return
			}
			res, _ = get(t, srv, http.MethodGet, "/"+name+m[1], nil)
			if got := res.Header.Get("Cache-Control"); got != cacheImmutable {
				t.Errorf("fingerprinted cache control = %q, want %q", got, cacheImmutable)
			}
		})
	}
}

func TestNoBlockingDialogs(t *testing.T) {
	srv := newServer(t)
	for _, target := range append([]string{"/"}, prefixAll("/", staticFiles(t))...) {
		_, body := get(t, srv, http.MethodGet, target, nil)
		for _, banned := range []string{"alert(", "confirm(", "prompt("} {
			if strings.Contains(body, banned) {
				t.Errorf("%s contains %q", target, banned)
			}
		}
	}
}

func TestOtherRequests(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, method, target string
		status               int
	}{
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound},
		{"index by name", http.MethodGet, "/index.html", http.StatusNotFound},
		{"unknown asset", http.MethodGet, "/static/nope.js", http.StatusNotFound},
		{"static dir", http.MethodGet, "/static/", http.StatusNotFound},
		{"traversal", http.MethodGet, "/static/../web.go", http.StatusNotFound},
		{"head index", http.MethodHead, "/", http.StatusOK},
		{"post index", http.MethodPost, "/", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, srv, tc.method, tc.target, nil)
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if tc.method == http.MethodHead && body != "" {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
		})
	}
}

// staticFiles lists every embedded asset ("static/app.js", "static/vendor/supabase.js", ...).
func staticFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil || len(names) == 0 {
		t.Fatalf("walk static: %v (%d files)", err, len(names))
	}
	return names
}

func prefixAll(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

func BenchmarkServe(b *testing.B) {
	h := Handler(Config{})
	for _, target := range []string{"/", "/static/app.js"} {
		b.Run(target, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
