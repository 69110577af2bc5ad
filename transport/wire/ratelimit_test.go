package wire

import (
	"net/http"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/limit"
)

func TestRateLimitHeaders(t *testing.T) {
	h := http.Header{}
	SetRateLimitHeaders(h, limit.Address, limit.Spin, limit.Rate{PerSecond: 5, Burst: 20},
		limit.Decision{RetryAfter: 1500 * time.Millisecond, Reset: 4 * time.Second})
	want := map[string]string{
		"Retry-After":         "2",
		"RateLimit-Policy":    `"spin";q=5;w=1;spinmatch-burst=20;spinmatch-scope="address"`,
		"RateLimit":           `"spin";r=0;t=2`,
		"RateLimit-Remaining": "0",
		"RateLimit-Reset":     "2",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	h = http.Header{}
	SetRateLimitHeaders(h, limit.User, limit.Profile, limit.Rate{PerSecond: 0.5, Burst: 5}, limit.Decision{RetryAfter: 10 * time.Millisecond})
	if h.Get("Retry-After") != "1" || h.Get("RateLimit-Policy") != `"profile";q=1;w=2;spinmatch-burst=5;spinmatch-scope="user"` {
		t.Errorf("short wait: %v", h)
	}
}
