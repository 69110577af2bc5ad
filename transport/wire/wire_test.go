package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spinmatch/spinmatch/actors/msg"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name, in string
		kind     string // Go type of the command kind, "" when an error is expected
		code     string
		ref      string
	}{
		{"spin", `{"type":"spin","id":1}`, "*msg.Command_Spin", "", "1"},
		{"string id", `{"type":"status","id":"abc"}`, "*msg.Command_Status", "", `"abc"`},
		{"no id", `{"type":"cancel"}`, "*msg.Command_Cancel", "", ""},
		{"vote", `{"type":"vote","match_id":"m1","choice":"no"}`, "*msg.Command_Vote", "", ""},
		{"signal", `{"type":"signal","match_id":"m1","data":{"sdp":"x"}}`, "*msg.Command_Signal", "", ""},
		{"not json", `nope`, "", "invalid_message", ""},
		{"array", `[]`, "", "invalid_message", ""},
		{"no type", `{"id":3}`, "", "invalid_message", "3"},
		{"unknown", `{"type":"dance","id":4}`, "", "invalid_message", "4"},
		{"vote no match", `{"type":"vote","choice":"yes"}`, "", "invalid_message", ""},
		{"vote bad choice", `{"type":"vote","match_id":"m","choice":"YES"}`, "", "invalid_message", ""},
		{"signal data not object", `{"type":"signal","match_id":"m","data":"x"}`, "", "invalid_message", ""},
		{"auth", `{"type":"auth","id":5,"access_token":"t.o.k"}`, "auth", "", "5"},
		{"auth no token", `{"type":"auth","id":6}`, "", "invalid_message", "6"},
		{"auth empty token", `{"type":"auth","access_token":""}`, "", "invalid_message", ""},
		{"auth token not a string", `{"type":"auth","access_token":7}`, "", "invalid_message", ""},
		{"auth token too long", `{"type":"auth","access_token":"` + strings.Repeat("x", MaxAccessToken+1) + `"}`, "", "invalid_message", ""},
		{"other type ignores access_token", `{"type":"status","access_token":7}`, "*msg.Command_Status", "", ""},
		{"signal too big", `{"type":"signal","match_id":"m","data":{"a":"` + strings.Repeat("x", MaxSignalData) + `"}}`, "", "message_too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, e := Decode([]byte(tc.in))
			if ref := m.Ref; ref != tc.ref {
				t.Errorf("ref %q, want %q", ref, tc.ref)
			}
			if tc.code != "" {
				if e == nil || e.Code != tc.code || e.Message == "" {
					t.Fatalf("error %v, want %s", e, tc.code)
				}
				return
			}
			if e != nil {
				t.Fatalf("unexpected error %v", e)
			}
			if tc.kind == "auth" {
				if m.Auth == nil || m.Auth.AccessToken != "t.o.k" || m.Command != nil {
					t.Fatalf("auth decoded as %+v", m)
				}
				return
			}
			if m.Auth != nil || m.Command == nil || m.Command.Ref != tc.ref {
				t.Fatalf("command decoded as %+v", m)
			}
			if got := typeName(m.Command.Kind); got != tc.kind {
				t.Fatalf("kind %s, want %s", got, tc.kind)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *msg.Command_Spin:
		return "*msg.Command_Spin"
	case *msg.Command_Cancel:
		return "*msg.Command_Cancel"
	case *msg.Command_Status:
		return "*msg.Command_Status"
	case *msg.Command_Vote:
		return "*msg.Command_Vote"
	case *msg.Command_Signal:
		return "*msg.Command_Signal"
	}
	return "?"
}

func TestFromEventMatchFoundPicksThePartner(t *testing.T) {
	m := &msg.MatchInfo{MatchId: "m", A: &msg.Partner{UserId: "a", DisplayName: "A"}, B: &msg.Partner{UserId: "b", DisplayName: "B"}, DateEndsAtMs: 1000, VoteDeadlineMs: 2000}
	for viewer, want := range map[string]string{"a": "b", "b": "a"} {
		f := FromEvent(&msg.Event{Viewer: viewer, Ref: `"r"`, Kind: &msg.Event_MatchFound{MatchFound: &msg.MatchFound{Match: m}}})
		b, _ := json.Marshal(f)
		var got map[string]any
		_ = json.Unmarshal(b, &got)
		if got["type"] != "match_found" || got["ref"] != "r" || got["partner"].(map[string]any)["user_id"] != want ||
			got["date_ends_at"] != "1970-01-01T00:00:01Z" || got["vote_deadline"] != "1970-01-01T00:00:02Z" {
			t.Fatalf("viewer %s: %s", viewer, b)
		}
	}
}

func TestErrorFrame(t *testing.T) {
	b, _ := json.Marshal(ErrorFrame(&msg.Error{Code: "rate_limited", Message: "slow down", RetryAfterS: 1.5}, "7"))
	want := `{"type":"error","ref":7,"code":"rate_limited","message":"slow down","help_url":"/help/errors#rate_limited","retry_after_s":1.5}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

// FuzzDecode: any input gives exactly one of a command, an auth message and
// a typed error, never a panic, and an accepted frame's ref is valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"type":"spin","id":1}`, `{"type":"vote","match_id":"m","choice":"yes"}`, `{"type":"signal","match_id":"m","data":{}}`, `{"type":"auth","access_token":"a.b.c"}`, `{`, `null`, `{"id":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, e := Decode(in)
		ref := m.Ref
		got := 0
		for _, set := range []bool{m.Command != nil, m.Auth != nil, e != nil} {
			if set {
				got++
			}
		}
		if got != 1 {
			t.Fatalf("message %+v err %v", m, e)
		}
		if m.Auth != nil && (m.Auth.AccessToken == "" || len(m.Auth.AccessToken) > MaxAccessToken) {
			t.Fatalf("auth token of %d bytes accepted", len(m.Auth.AccessToken))
		}
		if e != nil && (e.Code == "" || e.Message == "") {
			t.Fatalf("untyped error %v", e)
		}
		if ref != "" && !json.Valid([]byte(ref)) {
			t.Fatalf("ref %q is not JSON", ref)
		}
		if _, err := json.Marshal(ErrorFrame(&msg.Error{Code: "x", Message: "y"}, ref)); err != nil {
			t.Fatalf("error frame with ref %q: %v", ref, err)
		}
	})
}

func TestDepthOK(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want bool
	}{
		{`{}`, 1, true},
		{`{"a":{}}`, 1, false},
		{`{"a":"{{{{[[["}`, 1, true},
		{`{"a":"\"{"}`, 1, true},
		{`[[[]]]`, 3, true},
		{`[[[[]]]]`, 3, false},
		{`"\\"[[`, 1, false},
	} {
		if got := DepthOK([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("DepthOK(%s, %d) = %v", tc.in, tc.max, got)
		}
	}
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	if _, e := Decode([]byte(`{"type":"signal","match_id":"m","data":` + deep + `}`)); e == nil || e.Code != "invalid_message" {
		t.Fatalf("deep frame: %v", e)
	}
}

// FuzzDepthOK: on valid JSON, DepthOK agrees with the decoder's own count
// of nesting.
func FuzzDepthOK(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"]"}]}`), 2)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 || max > 64 || !json.Valid(in) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(in))
		depth, deepest := 0, 0
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			if d, ok := tok.(json.Delim); ok {
				if d == '{' || d == '[' {
					depth++
					deepest = max2(deepest, depth)
				} else {
					depth--
				}
			}
		}
		if got, want := DepthOK(in, max), deepest <= max; got != want {
			t.Fatalf("DepthOK(%q, %d) = %v; the decoder nests %d deep", in, max, got, deepest)
		}
	})
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}
