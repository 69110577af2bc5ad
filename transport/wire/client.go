package wire

import (
	"bytes"
	"encoding/json"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// MaxSignalData is the largest signal payload (PROTOCOL.md).
const MaxSignalData = 16 << 10

// MaxAccessToken is the longest token an auth message may carry.
const MaxAccessToken = 8 << 10

// Message is one decoded client frame: a command for the user's session,
// or the socket's own auth message (Auth set, Command nil).
type Message struct {
	// Ref is the frame's id as raw JSON, echoed as ref; "" without one.
	Ref     string
	Command *msg.Command
	Auth    *Auth
}

// Auth is the auth message: a fresh access token for the socket. The
// socket checks it; it never reaches the session.
type Auth struct {
	AccessToken string
}

// clientFrame is every field a client message may carry.
type clientFrame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id"`
	MatchID *string         `json:"match_id"`
	Choice  *string         `json:"choice"`
	Data    json.RawMessage `json:"data"`
	Token   json.RawMessage `json:"access_token"` // read for auth only
}

// Decode parses one client frame. On failure it returns the typed error to
// send back, with Ref set when the frame's id could be read.
func Decode(frame []byte) (Message, *msg.Error) {
	var f clientFrame
	// The top-level fields only (data stays raw): a linear scan, so the
	// depth check can come after it and the error still carries the ref.
	if err := json.Unmarshal(frame, &f); err != nil {
		return Message{}, actors.NewError(actors.CodeInvalidMessage, "Messages must be JSON objects with a \"type\".")
	}
	ref := ""
	if len(f.ID) > 0 && !bytes.Equal(f.ID, []byte("null")) {
		ref = string(f.ID)
	}
	if !DepthOK(frame, MaxDepth) {
		return Message{Ref: ref}, actors.NewError(actors.CodeInvalidMessage, "Messages may nest objects and arrays at most 32 levels deep.")
	}
	if f.Type == "auth" {
		var tok string
		if json.Unmarshal(f.Token, &tok) != nil || tok == "" {
			return Message{Ref: ref}, actors.NewError(actors.CodeInvalidMessage, "An auth message needs an access_token string.")
		}
		if len(tok) > MaxAccessToken {
			return Message{Ref: ref}, actors.NewError(actors.CodeInvalidMessage, "That access_token is too long.")
		}
		return Message{Ref: ref, Auth: &Auth{AccessToken: tok}}, nil
	}
	cmd, e := command(&f, ref)
	if e != nil {
		return Message{Ref: ref}, e
	}
	return Message{Ref: ref, Command: cmd}, nil
}

// command builds the session command of a frame that is not auth.
func command(f *clientFrame, ref string) (*msg.Command, *msg.Error) {
	cmd := &msg.Command{Ref: ref}
	switch f.Type {
	case "spin":
		cmd.Kind = &msg.Command_Spin{Spin: &msg.SpinCmd{}}
	case "cancel":
		cmd.Kind = &msg.Command_Cancel{Cancel: &msg.CancelCmd{}}
	case "status":
		cmd.Kind = &msg.Command_Status{Status: &msg.StatusCmd{}}
	case "vote":
		if f.MatchID == nil || *f.MatchID == "" {
			return nil, actors.NewError(actors.CodeInvalidMessage, "A vote needs a match_id.")
		}
		if f.Choice == nil || (*f.Choice != "yes" && *f.Choice != "no") {
			return nil, actors.NewError(actors.CodeInvalidMessage, `A vote needs a choice of "yes" or "no".`)
		}
		cmd.Kind = &msg.Command_Vote{Vote: &msg.Vote{MatchId: *f.MatchID, Choice: *f.Choice}}
	case "signal":
		if f.MatchID == nil || *f.MatchID == "" {
			return nil, actors.NewError(actors.CodeInvalidMessage, "A signal needs a match_id.")
		}
		if len(f.Data) == 0 || f.Data[0] != '{' {
			return nil, actors.NewError(actors.CodeInvalidMessage, "A signal needs a data object.")
		}
		if len(f.Data) > MaxSignalData {
			return nil, actors.NewError(actors.CodeMessageTooLarge, "That signal is too large (at most 16 KiB of data).")
		}
		cmd.Kind = &msg.Command_Signal{Signal: &msg.SignalOut{MatchId: *f.MatchID, Data: compact(f.Data)}}
	case "":
		return nil, actors.NewError(actors.CodeInvalidMessage, "Messages need a \"type\".")
	default:
		return nil, actors.NewError(actors.CodeInvalidMessage, "Unknown message type \""+truncate(f.Type, 32)+"\".")
	}
	return cmd, nil
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ErrorFrame returns the frame for a typed error.
func ErrorFrame(e *msg.Error, ref string) *Frame {
	return FromEvent(&msg.Event{Ref: ref, Kind: &msg.Event_Error{Error: e}})
}
