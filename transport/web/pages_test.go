package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestPages: /status and /admin are served like the user page (CSP,
// fingerprinted assets, test ids), and only /admin's configuration says how
// the admin routes answer.
func TestPages(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		path   string
		admin  string // want the page's config "admin"; "" = absent
		testid []string
	}{
		{"status", Config{Admin: AdminOpen}, "/status", "", []string{"status-live", "status-pools"}},
		{"admin open", Config{Development: true, Admin: AdminOpen}, "/admin", AdminOpen, []string{"admin-live", "admin-stale", "kpi-waiting", "admin-pools", "admin-nodes", "alerts-firing", "alerts-recent", "admin-recommendations", "chart-matches", "admin-key-input"}},
		{"admin key", Config{Admin: AdminKey}, "/admin", AdminKey, nil},
		{"admin off (zero value)", Config{}, "/admin", AdminOff, nil},
		{"user page", Config{Admin: AdminOpen}, "/", "", []string{"notify-match", "notify-under", "notify-under-min", "notify-sound"}},
	}
	conf := regexp.MustCompile(`<script id="spinmatch-config" type="application/json">([^<]*)</script>`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(tc.cfg))
			t.Cleanup(srv.Close)
			res, body := get(t, srv, http.MethodGet, tc.path, nil)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") == "" {
				t.Fatalf("status %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
			}
			for _, r := range regexp.MustCompile(`"/static/([^"?]+)(\?v=[0-9a-f]+)?"`).FindAllStringSubmatch(body, -1) {
				if r[2] == "" {
					t.Errorf("asset %s referenced without ?v= fingerprint", r[1])
				}
			}
			m := conf.FindStringSubmatch(body)
			if m == nil {
				t.Fatal("no config block")
			}
			var c map[string]any
			if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
				t.Fatalf("config %q: %v", m[1], err)
			}
			if got, _ := c["admin"].(string); got != tc.admin {
				t.Errorf("config admin = %q, want %q", got, tc.admin)
			}
			for _, id := range tc.testid {
				if !strings.Contains(body, `data-testid="`+id+`"`) {
					t.Errorf("page lacks data-testid=%q", id)
				}
			}
			if _, cfgBody := get(t, srv, http.MethodGet, "/api/config", nil); strings.Contains(cfgBody, `"admin"`) {
				t.Errorf("/api/config tells how the admin routes answer: %s", cfgBody)
			}
		})
	}
}
