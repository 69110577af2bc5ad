// Package wire is the JSON form of PROTOCOL.md: it decodes client frames and
// encodes the grains' events into server frames, and maps error codes to
// HTTP statuses and help links. It holds no state; everything is safe for
// concurrent use.
package wire

import (
	"encoding/json"
	"time"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// Eta is the wire form of an estimate.
type Eta struct {
	P50S       float64 `json:"p50_s"`
	P90S       float64 `json:"p90_s"`
	Confidence string  `json:"confidence"`
	Reason     string  `json:"reason"`
}

// Queue is the wire form of a queue position.
type Queue struct {
	Pool     string           `json:"pool"`
	Position int32            `json:"position"`
	Waiting  map[string]int32 `json:"waiting"`
}

// Partner is the other user of a match.
type Partner struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name"`
	Gender      string `json:"gender"`
}

// Match holds the match_found fields.
type Match struct {
	MatchID      string  `json:"match_id"`
	Partner      Partner `json:"partner"`
	DateEndsAt   string  `json:"date_ends_at"`
	VoteDeadline string  `json:"vote_deadline"`
}

// Frame is one server message. Only the fields of its type are set.
type Frame struct {
	Type string          `json:"type"`
	Ref  json.RawMessage `json:"ref,omitempty"`

	State string `json:"state,omitempty"`
	Queue *Queue `json:"queue,omitempty"`
	Eta   *Eta   `json:"eta,omitempty"`
	// Match is the match of a matched state.
	Match *Match `json:"match,omitempty"`

	MatchID      string   `json:"match_id,omitempty"`
	Partner      *Partner `json:"partner,omitempty"`
	DateEndsAt   string   `json:"date_ends_at,omitempty"`
	VoteDeadline string   `json:"vote_deadline,omitempty"`

	Choice string          `json:"choice,omitempty"`
	Result string          `json:"result,omitempty"`
	From   string          `json:"from,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`

	Code        string  `json:"code,omitempty"`
	Message     string  `json:"message,omitempty"`
	HelpURL     string  `json:"help_url,omitempty"`
	RetryAfterS float64 `json:"retry_after_s,omitempty"`
}

// FromEvent converts a grain event into its wire frame.
func FromEvent(ev *msg.Event) *Frame {
	f := &Frame{}
	FillFrame(f, ev)
	return f
}

// FillFrame sets the fields of f, a zero Frame, from a grain event (as
// FromEvent): a socket encodes the frame at once, so it can be a
// variable of the caller's rather than an allocation.
func FillFrame(f *Frame, ev *msg.Event) {
	if ev.Ref != "" {
		f.Ref = json.RawMessage(ev.Ref)
	}
	switch k := ev.Kind.(type) {
	case *msg.Event_State:
		f.Type, f.State = "state", k.State.State
		f.Queue, f.Eta = queue(k.State.Queue), eta(k.State.Eta)
		if k.State.Match != nil {
			f.Match = match(k.State.Match, ev.Viewer)
		}
	case *msg.Event_Queued:
		f.Type, f.Queue, f.Eta = "queued", queue(k.Queued.Queue), eta(k.Queued.Eta)
	case *msg.Event_WaitUpdate:
		f.Type, f.Queue, f.Eta = "wait_update", queue(k.WaitUpdate.Queue), eta(k.WaitUpdate.Eta)
	case *msg.Event_MatchFound:
		m := match(k.MatchFound.Match, ev.Viewer)
		f.Type, f.MatchID, f.Partner = "match_found", m.MatchID, &m.Partner
		f.DateEndsAt, f.VoteDeadline = m.DateEndsAt, m.VoteDeadline
	case *msg.Event_VoteRecorded:
		f.Type, f.MatchID, f.Choice = "vote_recorded", k.VoteRecorded.MatchId, k.VoteRecorded.Choice
	case *msg.Event_MatchResult:
		f.Type, f.MatchID, f.Result = "match_result", k.MatchResult.MatchId, k.MatchResult.Result
	case *msg.Event_Signal:
		f.Type, f.MatchID, f.From, f.Data = "signal", k.Signal.MatchId, k.Signal.From, json.RawMessage(k.Signal.Data)
	case *msg.Event_Cancelled:
		f.Type = "cancelled"
	case *msg.Event_Error:
		f.Type, f.Code, f.Message = "error", k.Error.Code, k.Error.Message
		f.HelpURL, f.RetryAfterS = HelpURL(k.Error.Code), k.Error.RetryAfterS
	default:
		f.Type = "error"
		f.Code, f.Message, f.HelpURL = "internal", "Something went wrong on our side.", HelpURL("internal")
	}
}

func queue(q *msg.QueueInfo) *Queue {
	if q == nil {
		return nil
	}
	w := q.Waiting
	if w == nil {
		w = map[string]int32{}
	}
	return &Queue{Pool: q.Pool, Position: q.Position, Waiting: w}
}

func eta(e *msg.Eta) *Eta {
	if e == nil {
		return nil
	}
	return &Eta{P50S: round1(e.P50S), P90S: round1(e.P90S), Confidence: e.Confidence, Reason: e.Reason}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

func match(m *msg.MatchInfo, viewer string) *Match {
	p := m.B
	if m.B.GetUserId() == viewer {
		p = m.A
	}
	return &Match{
		MatchID:      m.MatchId,
		Partner:      Partner{UserID: p.GetUserId(), DisplayName: p.GetDisplayName(), Gender: p.GetGender()},
		DateEndsAt:   rfc3339(m.DateEndsAtMs),
		VoteDeadline: rfc3339(m.VoteDeadlineMs),
	}
}

func rfc3339(unixMS int64) string {
	return time.UnixMilli(unixMS).UTC().Format(time.RFC3339Nano)
}
