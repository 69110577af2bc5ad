package wire

import (
	"net/http"

	"github.com/spinmatch/spinmatch/actors"
)

// HelpPath is where the error help page is served; help_url points into it.
const HelpPath = "/help/errors"

// CodeInfo describes one error code of PROTOCOL.md (Errors).
type CodeInfo struct {
	Code   string
	Status int
	// Help is the longer explanation shown on the help page.
	Help string
}

// Codes lists every error code, in the order of PROTOCOL.md.
var Codes = []CodeInfo{
	{actors.CodeUnauthorized, http.StatusUnauthorized, "Your sign-in is missing, expired or invalid. Sign in again to get a fresh token."},
	{actors.CodeForbidden, http.StatusForbidden, "You're signed in, but this action or origin isn't allowed."},
	{actors.CodeNotFound, http.StatusNotFound, "There is nothing at this address."},
	{actors.CodeBadRequest, http.StatusBadRequest, "Something in the request isn't valid; the message says what."},
	{actors.CodeInvalidMessage, http.StatusBadRequest, "The message isn't valid JSON, has an unknown type, or misses a field."},
	{actors.CodeProfileIncomplete, http.StatusConflict, "Set your display name, gender and who you're seeking before you spin."},
	{actors.CodeBusy, http.StatusConflict, "You're in the queue or on a date; finish that first."},
	{actors.CodeAlreadyQueued, http.StatusConflict, "You're already waiting for a partner."},
	{actors.CodeNotQueued, http.StatusConflict, "You're not in the queue, so there's nothing to cancel."},
	{actors.CodeMatchNotFound, http.StatusNotFound, "That match doesn't exist, isn't yours, or has ended."},
	{actors.CodeVoteClosed, http.StatusConflict, "The vote deadline has passed; a missing vote counted as no."},
	{actors.CodeRateLimited, http.StatusTooManyRequests, "Too many requests in a short time. Wait the number of seconds given, then retry."},
	{actors.CodeMessageTooLarge, http.StatusRequestEntityTooLarge, "The message is too large (signals: 16 KiB of data; frames: 64 KiB)."},
	{actors.CodeTokenExpired, http.StatusUnauthorized, "Your sign-in expired while you were connected. The app sends a fresh token within 30 seconds and carries on; otherwise sign in again, your place in the queue is kept for a few seconds."},
	{actors.CodeUnavailable, http.StatusServiceUnavailable, "We can't reach a part of our service right now. Retrying the same request is safe."},
	{actors.CodeInternal, http.StatusInternalServerError, "Something went wrong on our side. It has been reported."},
}

var codeStatus = func() map[string]int {
	m := make(map[string]int, len(Codes))
	for _, c := range Codes {
		m[c.Code] = c.Status
	}
	return m
}()

// Status returns the HTTP status of an error code (500 for an unknown one).
func Status(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// HelpURL returns the help link of an error code.
func HelpURL(code string) string { return HelpPath + "#" + code }
