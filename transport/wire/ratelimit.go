package wire

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/spinmatch/spinmatch/actors/limit"
)

// SetRateLimitHeaders sets the headers of a 429 (or of any answer that
// reports a limit): Retry-After, the RateLimit-Policy and RateLimit fields
// of draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026; structured
// field lists of a String policy name with parameters: q quota and w window
// in whole seconds for the policy, r available quota and t effective
// window in seconds for the current limit; vendor parameters carry a
// prefix), and the older RateLimit-Remaining and RateLimit-Reset beside
// them. The policy is named for the action, for example
//
//	RateLimit-Policy: "spin";q=20;w=1;spinmatch-burst=100;spinmatch-scope="address"
//	RateLimit: "spin";r=0;t=1
//	Retry-After: 1
func SetRateLimitHeaders(h http.Header, scope limit.Scope, a limit.Action, r limit.Rate, d limit.Decision) {
	name := strconv.Quote(a.String())
	wait := d.Reset
	if !d.Allowed {
		wait = d.RetryAfter
	}
	secs := int(math.Ceil(wait.Seconds()))
	if !d.Allowed {
		secs = max(secs, 1)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	if q, w := r.Window(); w > 0 {
		h.Set("RateLimit-Policy", fmt.Sprintf("%s;q=%d;w=%d;spinmatch-burst=%d;spinmatch-scope=%q", name, q, w, max(r.Burst, 1), scope.String()))
	}
	h.Set("RateLimit", fmt.Sprintf("%s;r=%d;t=%d", name, max(d.Remaining, 0), secs))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
	h.Set("RateLimit-Reset", strconv.Itoa(secs))
}

// RetryAfter returns a refusal's wait for the wire's retry_after_s.
func RetryAfter(d time.Duration) float64 { return math.Ceil(d.Seconds()*1000) / 1000 }

// SetCapHeaders sets the headers of a refusal by a cap on concurrent
// things (sockets): the same fields, with the draft's "concurrent-requests"
// quota unit and no window, for example
//
//	RateLimit-Policy: "sockets";q=100;qu="concurrent-requests";spinmatch-scope="address"
//	RateLimit: "sockets";r=0
func SetCapHeaders(h http.Header, scope limit.Scope, a limit.Action, cap int, retry time.Duration) {
	name := strconv.Quote(a.String())
	secs := max(int(math.Ceil(retry.Seconds())), 1)
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("RateLimit-Policy", fmt.Sprintf(`%s;q=%d;qu="concurrent-requests";spinmatch-scope=%q`, name, cap, scope.String()))
	h.Set("RateLimit", name+";r=0")
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", strconv.Itoa(secs))
}
