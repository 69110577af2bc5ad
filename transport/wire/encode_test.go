package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// events are one of every event a session sends, with refs, escapes and
// numbers that exercise the encoder.
func events() map[string]*msg.Event {
	q := &msg.QueueInfo{Pool: "eu", Position: 3, Waiting: map[string]int32{"male": 12, "female": 9, "nonbinary": 0}}
	e := &msg.Eta{P50S: 12.34, P90S: 40, Confidence: "medium", Reason: "About 3 ahead of you <& \"quoted\">."}
	m := &msg.MatchInfo{MatchId: "m-01", Pool: "eu",
		A:            &msg.Partner{UserId: "a", DisplayName: "Ann\u2028\n", Gender: "female"},
		B:            &msg.Partner{UserId: "b", DisplayName: "Bé\x01\xff", Gender: "male"},
		DateEndsAtMs: 1764720000123, VoteDeadlineMs: 1764720030000}
	return map[string]*msg.Event{
		"state idle":    {Ref: "1", Kind: &msg.Event_State{State: &msg.State{State: "idle", Viewer: "a"}}},
		"state queued":  {Kind: &msg.Event_State{State: &msg.State{State: "queued", Queue: q, Eta: e}}},
		"state matched": {Viewer: "a", Kind: &msg.Event_State{State: &msg.State{State: "matched", Match: m}}},
		"queued":        {Ref: `"abc"`, Kind: &msg.Event_Queued{Queued: &msg.Queued{Queue: q, Eta: e}}},
		"queued no map": {Ref: `{"n": [1, 2]}`, Kind: &msg.Event_Queued{Queued: &msg.Queued{Queue: &msg.QueueInfo{Pool: "us"}}}},
		"wait_update":   {Kind: &msg.Event_WaitUpdate{WaitUpdate: &msg.WaitUpdate{Queue: q, Eta: &msg.Eta{P50S: 1e-7, P90S: 3e21}}}},
		"match_found":   {Viewer: "b", Ref: "2", Kind: &msg.Event_MatchFound{MatchFound: &msg.MatchFound{Match: m}}},
		"vote_recorded": {Ref: "3.5e2", Kind: &msg.Event_VoteRecorded{VoteRecorded: &msg.VoteRecorded{MatchId: "m-01", Choice: "yes"}}},
		"match_result":  {Kind: &msg.Event_MatchResult{MatchResult: &msg.MatchResult{MatchId: "m-01", Result: "mutual"}}},
		"signal":        {Kind: &msg.Event_Signal{Signal: &msg.Signal{MatchId: "m-01", From: "a", Data: []byte(`{"sdp":"<v=0>","n":[1,{"x":null}]}`)}}},
		"cancelled":     {Ref: "null", Kind: &msg.Event_Cancelled{Cancelled: &msg.Cancelled{}}},
		"error":         {Ref: "-0", Kind: &msg.Event_Error{Error: &msg.Error{Code: "rate_limited", Message: "Slow down.", RetryAfterS: 0.25}}},
		"unknown":       {},
	}
}

// TestAppendFrameIsMarshal: every event's frame encodes to json.Marshal's
// bytes, appended after what the buffer held.
func TestAppendFrameIsMarshal(t *testing.T) {
	for name, ev := range events() {
		t.Run(name, func(t *testing.T) {
			f := FromEvent(ev)
			want, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendFrame([]byte("prefix"), f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[len("prefix"):], want) || string(got[:len("prefix")]) != "prefix" {
				t.Fatalf("got  %s\nwant prefix%s", got, want)
			}
		})
	}
}

// TestAppendFrameRefusesWhatMarshalRefuses: a raw value that is not JSON,
// or a number that is not finite, is an error, and the buffer is given
// back as it was.
func TestAppendFrameRefusesWhatMarshalRefuses(t *testing.T) {
	cases := map[string]*Frame{
		"ref not JSON":      {Type: "error", Ref: json.RawMessage(`{"a":`)},
		"ref two values":    {Type: "error", Ref: json.RawMessage(`1 2`)},
		"data not JSON":     {Type: "signal", Data: json.RawMessage("{\"a\": tru}")},
		"NaN estimate":      {Type: "queued", Eta: &Eta{P50S: math.NaN()}},
		"infinite estimate": {Type: "queued", Eta: &Eta{P90S: math.Inf(1)}},
		"infinite retry":    {Type: "error", RetryAfterS: math.Inf(-1)},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := json.Marshal(f); err == nil {
				t.Fatal("json.Marshal took it: the case tests nothing")
			}
			got, err := AppendFrame([]byte("kept"), f)
			if err == nil || string(got) != "kept" {
				t.Fatalf("got %q, %v; want the buffer as it was and an error", got, err)
			}
		})
	}
}

// FuzzAppendFrame holds AppendFrame to json.Marshal's bytes (or its
// refusal) for frames built from arbitrary strings, raw values and
// numbers. which picks the fields that are set.
func FuzzAppendFrame(f *testing.F) {
	f.Add("match_found", []byte(`"r1"`), "m-1", "Ann <3", "2026-12-03T10:00:00.5Z", int32(4), 12.3, 40.0, 0.0, []byte(nil), uint16(0xffff))
	f.Add("queued", []byte("12"), "eu", "\u2028\x00\"\\\t\b\f\xff", "male", int32(-1), 1e-7, 1e21, 1.5, []byte(`{ "a" : [1, 2] }`), uint16(0x5555))
	f.Add("signal", []byte(`{"x":"<&>"}`), "", "é", "\r\n", int32(0), -0.0, 5e-324, -2.5, []byte("{\"s\":\"\u2029\"}"), uint16(0xaaaa))
	f.Fuzz(func(t *testing.T, typ string, ref []byte, s1, s2, s3 string, pos int32, x, y, z float64, data []byte, which uint16) {
		bit := func(i uint) bool { return which&(1<<i) != 0 }
		pick := func(i uint) string {
			switch i % 3 {
			case 0:
				return s1
			case 1:
				return s2
			}
			return s3
		}
		fr := &Frame{Type: typ, Ref: ref, Data: data, RetryAfterS: z}
		if bit(0) {
			q := &Queue{Pool: s1, Position: pos}
			if bit(1) {
				q.Waiting = map[string]int32{s1: pos, s2: -pos, s3: 7}
			}
			fr.Queue = q
		}
		if bit(2) {
			fr.Eta = &Eta{P50S: x, P90S: y, Confidence: s2, Reason: s3}
		}
		if bit(3) {
			fr.Match = &Match{MatchID: s1, Partner: Partner{UserID: s2, DisplayName: s3, Gender: s1}, DateEndsAt: s2, VoteDeadline: s3}
		}
		if bit(4) {
			fr.Partner = &Partner{UserID: s3, DisplayName: s1, Gender: s2}
		}
		for i, p := range []*string{&fr.State, &fr.MatchID, &fr.DateEndsAt, &fr.VoteDeadline, &fr.Choice, &fr.Result, &fr.From, &fr.Code, &fr.Message, &fr.HelpURL} {
			if bit(uint(5 + i%11)) {
				*p = pick(uint(i))
			}
		}
		want, werr := json.Marshal(fr)
		got, gerr := AppendFrame([]byte("pre"), fr)
		switch {
		case (werr == nil) != (gerr == nil):
			t.Fatalf("json.Marshal error %v, AppendFrame error %v", werr, gerr)
		case werr != nil:
			if string(got) != "pre" {
				t.Fatalf("a refused frame left %q", got)
			}
		case !bytes.Equal(got[3:], want) || string(got[:3]) != "pre":
			t.Fatalf("got  %q\nwant %q", got, "pre"+string(want))
		}
	})
}

// BenchmarkEncodeFrame compares json.Marshal with AppendFrame into a
// reused buffer on the frames of a spin.
func BenchmarkEncodeFrame(b *testing.B) {
	evs := events()
	frames := []*Frame{FromEvent(evs["queued"]), FromEvent(evs["match_found"]), FromEvent(evs["match_result"])}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range frames {
				if _, err := json.Marshal(f); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("AppendFrame", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			for _, f := range frames {
				var err error
				if buf, err = AppendFrame(buf[:0], f); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
