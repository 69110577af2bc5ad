package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/getsentry/sentry-go"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// POST /api/client-errors (PROTOCOL.md, Pages): a page reports its own
// uncaught error. Public; the body is a JSON object of at most
// clientErrorMax bytes with a non-empty "message" string, and usually
// "stack", "url" and "user_agent"; any other fields are kept too. With
// Sentry on (the request's context has a hub) the report becomes an error
// event tagged source=browser; the answer is 204 either way.
//
// Rate limit: a per-node token bucket per client address (the peer's
// address), clientErrorBurst reports at once and one per
// clientErrorEvery after, in a table of at most clientErrorAddrs
// addresses. When the table is full of addresses still limited, a new
// address is refused too (reports are best-effort; memory is bounded).
// The general per-address limiter of the cluster goes in front of every
// route; this one stays as the route's own, tighter budget.

const (
	// clientErrorMax bounds a report's body.
	clientErrorMax = 8 << 10
	// clientErrorBurst and clientErrorEvery are a client address's budget.
	clientErrorBurst = 5
	clientErrorEvery = 6 * time.Second
	// clientErrorAddrs bounds the limiter's table.
	clientErrorAddrs = 4096
	// clientMessageMax bounds the message of the Sentry event.
	clientMessageMax = 1024
)

// clientErrors is the handler of POST /api/client-errors. Safe for
// concurrent use.
type clientErrors struct {
	limit *addrLimiter     // safe for concurrent use
	now   func() time.Time // static
}

func newClientErrors() *clientErrors {
	return &clientErrors{
		limit: newAddrLimiter(clientErrorBurst, clientErrorEvery, clientErrorAddrs),
		now:   time.Now,
	}
}

// ServeHTTP takes one report.
func (h *clientErrors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ok, wait := h.limit.allow(peerAddr(r), h.now()); !ok {
		e := actors.NewError(actors.CodeRateLimited, "Too many error reports. Please wait a moment.")
		e.RetryAfterS = wait.Seconds()
		writeMsgError(w, e) // Retry-After and the RateLimit headers
		return
	}
	data, err := wire.ReadBody(r.Body, clientErrorMax)
	if err != nil && !errors.Is(err, wire.ErrTooLarge) {
		return // the client went away
	}
	message, body, e := parseClientError(data, err)
	if e != nil {
		writeMsgError(w, e)
		return
	}
	if hub := sentry.GetHubFromContext(r.Context()); hub != nil && hub.Client() != nil {
		hub.CaptureEvent(browserEvent(message, body))
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseClientError parses a report's body (readErr is the body read's
// error, wire.ErrTooLarge or nil): its message and all its fields, or the
// typed error to answer. Pure (FuzzClientErrorBody).
func parseClientError(data []byte, readErr error) (string, map[string]any, *msg.Error) {
	if errors.Is(readErr, wire.ErrTooLarge) {
		return "", nil, actors.NewError(actors.CodeMessageTooLarge, fmt.Sprintf("An error report can be at most %d KiB.", clientErrorMax>>10))
	}
	var body map[string]any
	if err := wire.Unmarshal(data, &body); err != nil {
		return "", nil, bodyError(err, clientErrorUsage)
	}
	message, _ := body["message"].(string)
	if message == "" {
		return "", nil, actors.NewError(actors.CodeInvalidMessage, `An error report needs a "message" string.`)
	}
	return message, body, nil
}

const clientErrorUsage = `Send a JSON object such as {"message": "...", "stack": "...", "url": "...", "user_agent": "..."}.`

// browserEvent is the Sentry event of a page's report: level error, tag
// source=browser, the message (bounded), and every field of the report
// in the "browser" context.
func browserEvent(message string, body map[string]any) *sentry.Event {
	ev := sentry.NewEvent()
	ev.Level = sentry.LevelError
	ev.Message = truncate(message, clientMessageMax)
	ev.Logger = "browser"
	ev.Tags["source"] = "browser"
	ctx := make(sentry.Context, len(body))
	for k, v := range body {
		if k != "message" {
			ctx[k] = v
		}
	}
	ev.Contexts["browser_error"] = ctx
	ev.Fingerprint = []string{"browser", ev.Message}
	return ev
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// peerAddr is the request's peer address without its port.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// addrLimiter is a token bucket per key (a client address) in a bounded
// table: burst tokens, one more every `every`. A key whose bucket is full
// again is the same as an absent one, so such entries are pruned when the
// table fills (at most once a second). Safe for concurrent use; the clock
// is passed in.
type addrLimiter struct {
	burst float64       // static
	every time.Duration // static
	max   int           // static

	mu       sync.Mutex
	buckets  map[string]tokenState // guarded by mu
	prunedAt time.Time             // guarded by mu
}

// tokenState is one key's bucket: tokens left at `at`.
type tokenState struct {
	tokens float64
	at     time.Time
}

func newAddrLimiter(burst int, every time.Duration, max int) *addrLimiter {
	return &addrLimiter{burst: float64(burst), every: every, max: max, buckets: map[string]tokenState{}}
}

// allow takes a token for key at now; when there is none it reports false
// and how long until there is.
func (l *addrLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.prune(now)
			if len(l.buckets) >= l.max {
				return false, l.every
			}
		}
		b = tokenState{tokens: l.burst, at: now}
	}
	b = l.refill(b, now)
	if b.tokens < 1 {
		l.buckets[key] = b
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	l.buckets[key] = b
	return true, 0
}

func (l *addrLimiter) refill(b tokenState, now time.Time) tokenState {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
		b.at = now
	}
	return b
}

// prune drops the buckets that are full again; at most once a second.
func (l *addrLimiter) prune(now time.Time) {
	if now.Sub(l.prunedAt) < time.Second {
		return
	}
	l.prunedAt = now
	for k, b := range l.buckets {
		if l.refill(b, now).tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
