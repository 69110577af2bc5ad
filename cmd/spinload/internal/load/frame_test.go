package load

import (
	"encoding/json"
	"testing"
	"time"
)

// The server's messages as it writes them (transport/wire), for the
// tests and the benchmarks.
var (
	queuedMsg     = []byte(`{"type":"queued","ref":"7","queue":{"pool":"global","position":3,"waiting":{"female":12,"male":14}},"eta":{"p50_s":1.5,"p90_s":4,"confidence":"medium","reason":"Most people here are matched within seconds."}}`)
	matchFoundMsg = []byte(`{"type":"match_found","match_id":"m-01J8ZQ4","partner":{"user_id":"load-r1-42","display_name":"Load 42","gender":"female"},"date_ends_at":"2026-12-02T01:00:00Z","vote_deadline":"2026-12-02T01:00:30Z"}`)
	recordedMsg   = []byte(`{"type":"vote_recorded","match_id":"m-01J8ZQ4","choice":"yes"}`)
	resultMsg     = []byte(`{"type":"match_result","match_id":"m-01J8ZQ4","result":"mutual"}`)
	stateMsg      = []byte(`{"type":"state","state":"matched","match":{"match_id":"m-9","partner":{"user_id":"u","display_name":"A","gender":"male"},"date_ends_at":"x","vote_deadline":"y"}}`)
)

// reference reads a message as encoding/json does.
func reference(t testing.TB, data []byte) (serverFrame, error) {
	t.Helper()
	var sf serverFrame
	err := json.Unmarshal(data, &sf)
	return sf, err
}

func asServerFrame(f *frame) serverFrame {
	var sf serverFrame
	sf.Type, sf.MatchID, sf.Result, sf.Code, sf.State = string(f.typ), string(f.matchID), string(f.result), string(f.code), string(f.state)
	sf.Match.MatchID = string(f.stateMatchID)
	return sf
}

func TestScanFrameReadsTheServersMessages(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  []byte
		want serverFrame
	}{
		{"queued", queuedMsg, serverFrame{Type: "queued"}},
		{"match_found", matchFoundMsg, serverFrame{Type: "match_found", MatchID: "m-01J8ZQ4"}},
		{"vote_recorded", recordedMsg, serverFrame{Type: "vote_recorded", MatchID: "m-01J8ZQ4"}},
		{"match_result", resultMsg, serverFrame{Type: "match_result", MatchID: "m-01J8ZQ4", Result: "mutual"}},
		{"state", stateMsg, func() serverFrame {
			f := serverFrame{Type: "state", State: "matched"}
			f.Match.MatchID = "m-9"
			return f
		}()},
		{"error", []byte(`{"type":"error","code":"unavailable","message":"Try again \"soon\".","help_url":"https://x/y","retry_after_s":1}`), serverFrame{Type: "error", Code: "unavailable"}},
		{"cancelled", []byte(`{"type":"cancelled","ref":12}`), serverFrame{Type: "cancelled"}},
		{"fields in another order", []byte(` { "match_id" : "m-2", "result":"no_match" ,"type": "match_result" } `), serverFrame{Type: "match_result", MatchID: "m-2", Result: "no_match"}},
		{"a nested match_id is not the match's", []byte(`{"partner":{"match_id":"not-this"},"type":"match_found","match_id":"m-3","x":[{"match_id":"nor-this"}]}`), serverFrame{Type: "match_found", MatchID: "m-3"}},
		{"unknown type", []byte(`{"type":"signal","match_id":"m-4","from":"u","data":{"sdp":"v=0\r\n","n":[1,-2.5e3,true,false,null]}}`), serverFrame{Type: "signal", MatchID: "m-4"}},
		{"escapes and unicode elsewhere", []byte(`{"eta":{"reason":"\u00e9t\u00e9 \"quoted\" \\ / \n émigré"},"type":"wait_update"}`), serverFrame{Type: "wait_update"}},
		{"duplicate keys: the last wins", []byte(`{"type":"queued","type":"match_found","match_id":"a","match_id":"b"}`), serverFrame{Type: "match_found", MatchID: "b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f frame
			if !scanFrame(c.msg, &f) {
				t.Fatalf("scanFrame left %s to encoding/json", c.msg)
			}
			if got := asServerFrame(&f); got != c.want {
				t.Fatalf("scanFrame: %+v, want %+v", got, c.want)
			}
			ref, err := reference(t, c.msg)
			if err != nil || ref != c.want {
				t.Fatalf("encoding/json: %+v %v, want %+v (the case is wrong)", ref, err, c.want)
			}
		})
	}
}

// Whatever scanFrame does not read plainly goes to encoding/json, and
// parseFrame answers what encoding/json answers.
func TestParseFrameFallsBackToEncodingJSON(t *testing.T) {
	for _, c := range []struct {
		name    string
		msg     string
		scanned bool // scanFrame answers itself
	}{
		{"an escaped match id", `{"type":"match_found","match_id":"m\u002d5"}`, false},
		{"an escaped quote in the type", `{"type":"a\"b"}`, false},
		{"a non-ASCII match id", `{"type":"match_found","match_id":"mé"}`, false},
		{"an escaped key", `{"t\u0079pe":"queued"}`, false},
		{"a key in capitals", `{"Type":"queued","MATCH_ID":"x"}`, false},
		{"a key folded from non-ASCII (Kelvin sign)", `{"type":"error","\u212aey":"x","code":"c"}`, false},
		{"a null field", `{"type":"match_result","result":null}`, false},
		{"a number where a string goes", `{"type":"match_result","match_id":7}`, false},
		{"match not an object", `{"type":"state","match":"x"}`, false},
		{"match null", `{"type":"state","match":null}`, false},
		{"not an object", `["type","queued"]`, false},
		{"null", `null`, false},
		{"truncated", `{"type":"queued","queue":{"pool":"g"`, false},
		{"trailing data", `{"type":"queued"} x`, false},
		{"two objects", `{"type":"queued"}{"type":"cancelled"}`, false},
		{"a bad escape elsewhere", `{"type":"queued","x":"\q"}`, false},
		{"a control character in a string", "{\"type\":\"queued\",\"x\":\"a\tb\"}", false},
		{"a bad number", `{"type":"queued","x":01}`, false},
		{"a bad literal", `{"type":"queued","x":tru}`, false},
		{"a trailing comma", `{"type":"queued",}`, false},
		{"empty", ``, false},
		{"white space around", " \n{\"type\":\"cancelled\"}\r\n", true},
		{"empty object", `{}`, true},
		{"empty match", `{"type":"state","state":"idle","match":{}}`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f frame
			if scanned := scanFrame([]byte(c.msg), &f); scanned != c.scanned {
				t.Fatalf("scanFrame answered %v, want %v", scanned, c.scanned)
			}
			err := parseFrame([]byte(c.msg), &f)
			ref, refErr := reference(t, []byte(c.msg))
			if (err != nil) != (refErr != nil) {
				t.Fatalf("parseFrame error %v, encoding/json %v", err, refErr)
			}
			if err == nil && asServerFrame(&f) != ref {
				t.Fatalf("parseFrame %+v, encoding/json %+v", asServerFrame(&f), ref)
			}
		})
	}
}

// FuzzScanFrame checks that wherever scanFrame answers, encoding/json
// accepts the message and reads the same fields.
func FuzzScanFrame(f *testing.F) {
	for _, m := range [][]byte{queuedMsg, matchFoundMsg, recordedMsg, resultMsg, stateMsg,
		[]byte(`{"type":"error","code":"x","n":-0.5E+2}`), []byte(`{"Match":{"MATCH_ID":"q"},"type":"state"}`)} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr frame
		ok := scanFrame(data, &fr)
		ref, err := reference(t, data)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("scanFrame read %q, which encoding/json refuses: %v", data, err)
		}
		if got := asServerFrame(&fr); got != ref {
			t.Fatalf("%q: scanFrame %+v, encoding/json %+v", data, got, ref)
		}
	})
}

func TestVoteFrameIsWhatEncodingJSONWrites(t *testing.T) {
	for _, id := range []string{"m-01J8ZQ4", "", `a"b`, `a\b`, "é", "<&>", "a\nb"} {
		for _, yes := range []bool{true, false} {
			choice := map[bool]string{true: "yes", false: "no"}[yes]
			want, _ := json.Marshal(struct {
				Type    string `json:"type"`
				MatchID string `json:"match_id"`
				Choice  string `json:"choice"`
			}{"vote", id, choice})
			if got := voteFrame(nil, id, yes); string(got) != string(want) {
				t.Errorf("voteFrame(%q, %v) = %s, want %s", id, yes, got, want)
			}
		}
	}
}

// nopSock is a socket that takes every write.
type nopSock struct{ writes int }

func (s *nopSock) writeText([]byte) error { s.writes++; return nil }
func (s *nopSock) shut(bool)              {}

// BenchmarkFrameHandling is one spin's messages as a user reads and
// handles them (queued, match_found and its vote, vote_recorded,
// match_result), then the next spin: the tool's work per spin apart from
// the system calls.
func BenchmarkFrameHandling(b *testing.B) {
	w := &worker{cfg: Config{Yes: 0.5}, idle: make(chan *user, 1)}
	s := &nopSock{}
	u := &user{w: w, sock: s}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		u.spin()
		u.message(queuedMsg, now)
		u.message(matchFoundMsg, now)
		u.message(recordedMsg, now)
		u.message(resultMsg, now)
		<-w.idle
		u.voted = "" // the same match id again next time
		if i%1000 == 0 {
			w.stats.take()
		}
	}
	if s.writes != 2*b.N {
		b.Fatalf("%d writes for %d spins, want a spin and a vote each", s.writes, b.N)
	}
}

// BenchmarkParseFrame compares scanFrame with encoding/json on the
// server's messages.
func BenchmarkParseFrame(b *testing.B) {
	msgs := [][]byte{queuedMsg, matchFoundMsg, recordedMsg, resultMsg}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		var f frame
		for i := 0; i < b.N; i++ {
			if err := parseFrame(msgs[i%len(msgs)], &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var sf serverFrame
			if err := json.Unmarshal(msgs[i%len(msgs)], &sf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
