package actors

import "github.com/spinmatch/spinmatch/actors/msg"

// Error codes of PROTOCOL.md (Errors) that the grains produce.
const (
	CodeUnauthorized      = "unauthorized"
	CodeForbidden         = "forbidden"
	CodeNotFound          = "not_found"
	CodeBadRequest        = "bad_request"
	CodeInvalidMessage    = "invalid_message"
	CodeProfileIncomplete = "profile_incomplete"
	CodeBusy              = "busy"
	CodeAlreadyQueued     = "already_queued"
	CodeNotQueued         = "not_queued"
	CodeMatchNotFound     = "match_not_found"
	CodeVoteClosed        = "vote_closed"
	CodeRateLimited       = "rate_limited"
	CodeMessageTooLarge   = "message_too_large"
	CodeTokenExpired      = "token_expired"
	CodeUnavailable       = "unavailable"
	CodeInternal          = "internal"
)

// NewError returns a client-facing error; message is for the person using the app.
func NewError(code, message string) *msg.Error {
	return &msg.Error{Code: code, Message: message}
}

func errUnavailable() *msg.Error {
	return NewError(CodeUnavailable, "We can't reach our servers right now. Please try again in a moment.")
}
