package ws

import (
	"net/http/httptest"
	"testing"
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
