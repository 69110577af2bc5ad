package api

import (
	"errors"
	"net/http"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// Every REST body is read through readBody: at most wire.MaxBody bytes
// (413 message_too_large beyond), JSON nested at most wire.MaxDepth deep,
// then decoded. The parse functions below are pure, so the fuzzers
// (body_fuzz_test.go) drive exactly what the routes run.

// bodyError is the typed error for a body that could not be decoded;
// usage is what the route expects, in the user's words.
func bodyError(err error, usage string) *msg.Error {
	switch {
	case errors.Is(err, wire.ErrTooLarge):
		return actors.NewError(actors.CodeMessageTooLarge, "That request is too large (at most 64 KiB).")
	case errors.Is(err, wire.ErrTooDeep):
		return actors.NewError(actors.CodeInvalidMessage, "That request nests objects and arrays too deeply (at most 32 levels).")
	default:
		return actors.NewError(actors.CodeInvalidMessage, usage)
	}
}

// readBody reads r's body (bounded); on failure it writes the typed error
// and returns ok false.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := wire.ReadBody(r.Body, wire.MaxBody)
	if err != nil {
		writeMsgError(w, bodyError(err, "We couldn't read that request. Please try again."))
		return nil, false
	}
	return data, true
}

const (
	voteUsage    = `Send {"match_id": "...", "choice": "yes" or "no"}.`
	profileUsage = `Send a profile: {"display_name", "gender", "seeking", "pool"}.`
)

// parseVote parses a POST /api/vote body.
func parseVote(data []byte) (matchID, choice string, e *msg.Error) {
	var body struct {
		MatchID string `json:"match_id"`
		Choice  string `json:"choice"`
	}
	if err := wire.Unmarshal(data, &body); err != nil {
		return "", "", bodyError(err, voteUsage)
	}
	if body.MatchID == "" || len(body.MatchID) > 128 || (body.Choice != "yes" && body.Choice != "no") {
		return "", "", actors.NewError(actors.CodeInvalidMessage, `A vote needs a match_id and a choice of "yes" or "no".`)
	}
	return body.MatchID, body.Choice, nil
}

// parseProfile parses a profile body (PUT /api/me, POST /api/dev/token).
// Its fields are checked by the session (actors.NormalizeProfile).
func parseProfile(data []byte) (profileBody, *msg.Error) {
	var b profileBody
	if err := wire.Unmarshal(data, &b); err != nil {
		e := bodyError(err, profileUsage)
		if e.Code == actors.CodeInvalidMessage {
			e.Code = actors.CodeBadRequest // as before: a profile that isn't one is a bad request
		}
		return b, e
	}
	if len(b.Seeking) > 8 {
		return b, actors.NewError(actors.CodeBadRequest, "Choose at most the three genders you are seeking: male, female or nonbinary.")
	}
	return b, nil
}

// parseEmptyOrObject accepts an empty body or one JSON object (POST /api/spin).
func parseEmptyOrObject(data []byte) *msg.Error {
	var v map[string]any
	if len(trimSpace(data)) == 0 {
		return nil
	}
	if err := wire.Unmarshal(data, &v); err != nil {
		e := bodyError(err, "POST /api/spin takes no body (or {}).")
		if e.Code == actors.CodeInvalidMessage {
			e.Code = actors.CodeBadRequest
		}
		return e
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
