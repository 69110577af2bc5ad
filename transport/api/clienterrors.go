package api

import (
	"errors"
	"fmt"
	"net/http"
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
// Rate limit: the route's class, rest_report, has its own per-address
// budget in the cluster-wide limiter (Limits.Wrap, limits.go): by default
// 5 reports at once and one per 6 s after (SPIN_LIMIT_REST_REPORT_ADDRESS).

const (
	// clientErrorMax bounds a report's body.
	clientErrorMax = 8 << 10
	// clientMessageMax bounds the message of the Sentry event.
	clientMessageMax = 1024
)

// clientErrors is the handler of POST /api/client-errors. Safe for
// concurrent use.
type clientErrors struct{}

func newClientErrors() *clientErrors { return &clientErrors{} }

// ServeHTTP takes one report.
func (h *clientErrors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
