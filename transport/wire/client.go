package wire

import (
	"bytes"
	"encoding/json"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// MaxSignalData is the largest signal payload (PROTOCOL.md).
const MaxSignalData = 16 << 10

// clientFrame is every field a client message may carry.
type clientFrame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id"`
	MatchID *string         `json:"match_id"`
	Choice  *string         `json:"choice"`
	Data    json.RawMessage `json:"data"`
}

// Decode parses one client frame into a command. On failure it returns the
// typed error to send back, with ref set when the frame's id could be read.
func Decode(frame []byte) (*msg.Command, string, *msg.Error) {
	var f clientFrame
	// The top-level fields only (data stays raw): a linear scan, so the
	// depth check can come after it and the error still carries the ref.
	if err := json.Unmarshal(frame, &f); err != nil {
		return nil, "", actors.NewError(actors.CodeInvalidMessage, "Messages must be JSON objects with a \"type\".")
	}
	ref := ""
	if len(f.ID) > 0 && !bytes.Equal(f.ID, []byte("null")) {
		ref = string(f.ID)
	}
	if !DepthOK(frame, MaxDepth) {
		return nil, ref, actors.NewError(actors.CodeInvalidMessage, "Messages may nest objects and arrays at most 32 levels deep.")
	}
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
			return nil, ref, actors.NewError(actors.CodeInvalidMessage, "A vote needs a match_id.")
		}
		if f.Choice == nil || (*f.Choice != "yes" && *f.Choice != "no") {
			return nil, ref, actors.NewError(actors.CodeInvalidMessage, `A vote needs a choice of "yes" or "no".`)
		}
		cmd.Kind = &msg.Command_Vote{Vote: &msg.Vote{MatchId: *f.MatchID, Choice: *f.Choice}}
	case "signal":
		if f.MatchID == nil || *f.MatchID == "" {
			return nil, ref, actors.NewError(actors.CodeInvalidMessage, "A signal needs a match_id.")
		}
		if len(f.Data) == 0 || f.Data[0] != '{' {
			return nil, ref, actors.NewError(actors.CodeInvalidMessage, "A signal needs a data object.")
		}
		if len(f.Data) > MaxSignalData {
			return nil, ref, actors.NewError(actors.CodeMessageTooLarge, "That signal is too large (at most 16 KiB of data).")
		}
		cmd.Kind = &msg.Command_Signal{Signal: &msg.SignalOut{MatchId: *f.MatchID, Data: compact(f.Data)}}
	case "":
		return nil, ref, actors.NewError(actors.CodeInvalidMessage, "Messages need a \"type\".")
	default:
		return nil, ref, actors.NewError(actors.CodeInvalidMessage, "Unknown message type \""+truncate(f.Type, 32)+"\".")
	}
	return cmd, ref, nil
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
