package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var inlineConfig = regexp.MustCompile(`<script id="spinmatch-config" type="application/json">([^<]*)</script>`)

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    pageConfig
		connect string // the extra connect-src origin, "" for none
	}{
		{"development", Config{Development: true}, pageConfig{Mode: "development"}, ""},
		{"production without supabase", Config{SignInURL: "https://app.example/login"},
			pageConfig{Mode: "production", SignInURL: "https://app.example/login"}, ""},
		{"production with supabase", Config{SupabaseURL: "https://abcd.supabase.co", SupabaseAnonKey: "anon-key"},
			pageConfig{Mode: "production", SupabaseURL: "https://abcd.supabase.co", SupabaseAnonKey: "anon-key"}, "https://abcd.supabase.co"},
		{"anon key without project", Config{SupabaseAnonKey: "anon-key"}, pageConfig{Mode: "production"}, ""},
		{"key that tries to end the script", Config{SupabaseURL: "http://127.0.0.1:9999", SupabaseAnonKey: "</script><script>x()</script>"},
			pageConfig{Mode: "production", SupabaseURL: "http://127.0.0.1:9999", SupabaseAnonKey: "</script><script>x()</script>"}, "http://127.0.0.1:9999"},
		{"project URL that is not http", Config{SupabaseURL: "javascript:x; script-src *", SupabaseAnonKey: "k"},
			pageConfig{Mode: "production", SupabaseURL: "javascript:x; script-src *", SupabaseAnonKey: "k"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(tc.cfg))
			t.Cleanup(srv.Close)

			res, body := get(t, srv, http.MethodGet, "/api/config", nil)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET /api/config: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			var got pageConfig
			if err := json.Unmarshal([]byte(body), &got); err != nil || got != tc.want {
				t.Fatalf("GET /api/config = %s (%v), want %+v", body, err, tc.want)
			}

			res, page := get(t, srv, http.MethodGet, "/", nil)
			m := inlineConfig.FindStringSubmatch(page)
			if m == nil {
				t.Fatal("page has no inline config block (or it was broken out of)")
			}
			if strings.TrimSpace(m[1]) != strings.TrimSpace(body) {
				t.Errorf("inline config %s, /api/config %s", m[1], body)
			}
			csp := res.Header.Get("Content-Security-Policy")
			connect := regexp.MustCompile(`connect-src ([^;]*);`).FindStringSubmatch(csp)
			want := "'self'"
			if tc.connect != "" {
				want += " " + tc.connect
			}
			if connect == nil || connect[1] != want {
				t.Errorf("CSP connect-src = %v, want %q (CSP %q)", connect, want, csp)
			}
			if strings.Contains(csp, "script-src *") || strings.Count(csp, "script-src") != 1 {
				t.Errorf("CSP was injected into: %q", csp)
			}
		})
	}
}

// The Supabase bundle is embedded and referenced (fingerprinted) from the page.
func TestVendoredSupabase(t *testing.T) {
	srv := newServer(t)
	_, page := get(t, srv, http.MethodGet, "/", nil)
	m := regexp.MustCompile(`"(/static/vendor/supabase\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("page does not reference the fingerprinted supabase.js")
	}
	res, js := get(t, srv, http.MethodGet, m[1], nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(js, "createClient") {
		t.Fatalf("supabase.js: %d, %d bytes", res.StatusCode, len(js))
	}
	for _, f := range []string{"/static/vendor/README.txt", "/static/vendor/supabase-js-LICENSE.txt"} {
		if res, _ := get(t, srv, http.MethodGet, f, nil); res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", f, res.StatusCode)
		}
	}
}
