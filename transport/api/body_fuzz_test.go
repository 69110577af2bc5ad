package api

import (
	"strings"
	"testing"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// typed fails unless e is one of the typed errors a body may get.
func typed(t *testing.T, e *msg.Error, codes ...string) {
	t.Helper()
	if e.Message == "" {
		t.Fatalf("error without a message: %v", e)
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("error code %q, want one of %v", e.Code, codes)
}

func TestBodies(t *testing.T) {
	deep := strings.Repeat("[", wire.MaxDepth+1) + strings.Repeat("]", wire.MaxDepth+1)
	if id, c, e := parseVote([]byte(`{"match_id":"m1","choice":"yes"}`)); e != nil || id != "m1" || c != "yes" {
		t.Fatalf("vote: %q %q %v", id, c, e)
	}
	for _, in := range []string{``, `[]`, `{"match_id":"m"}`, `{"match_id":"","choice":"no"}`, `{"match_id":"m","choice":"maybe"}`, `{"match_id":` + deep + `}`} {
		if _, _, e := parseVote([]byte(in)); e == nil || e.Code != actors.CodeInvalidMessage {
			t.Errorf("vote %q: %v, want invalid_message", in, e)
		}
	}
	if b, e := parseProfile([]byte(`{"display_name":"Ana","gender":"female","seeking":["male"],"pool":"eu"}`)); e != nil || b.DisplayName != "Ana" || b.Pool != "eu" {
		t.Fatalf("profile: %+v %v", b, e)
	}
	for _, in := range []string{``, `"x"`, `{"seeking":"male"}`, `{"display_name":` + deep + `}`, `{"seeking":["a","b","c","d","e","f","g","h","i"]}`} {
		if _, e := parseProfile([]byte(in)); e == nil || e.Code != actors.CodeBadRequest {
			t.Errorf("profile %q: %v, want bad_request", in, e)
		}
	}
	for _, in := range []string{``, ` `, `{}`, `{"x":1}`} {
		if e := parseEmptyOrObject([]byte(in)); e != nil {
			t.Errorf("spin body %q: %v", in, e)
		}
	}
	for _, in := range []string{`[]`, `1`, `{`, deep} {
		if e := parseEmptyOrObject([]byte(in)); e == nil || e.Code != actors.CodeBadRequest {
			t.Errorf("spin body %q: %v, want bad_request", in, e)
		}
	}
}

// FuzzVoteBody: any body is a valid vote or a typed invalid_message.
func FuzzVoteBody(f *testing.F) {
	f.Add([]byte(`{"match_id":"m","choice":"yes"}`))
	f.Add([]byte(`{"match_id":"m","choice":"no","extra":[1,{"a":null}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		id, choice, e := parseVote(in)
		if e != nil {
			typed(t, e, actors.CodeInvalidMessage)
			return
		}
		if id == "" || len(id) > 128 || (choice != "yes" && choice != "no") {
			t.Fatalf("accepted a bad vote %q %q from %q", id, choice, in)
		}
		if !wire.DepthOK(in, wire.MaxDepth) {
			t.Fatalf("accepted a body nested too deeply: %q", in)
		}
	})
}

// FuzzProfileBody: any body is a profile the session then checks, or a
// typed bad_request; the session's check never panics on what gets through.
func FuzzProfileBody(f *testing.F) {
	f.Add([]byte(`{"display_name":"Ana","gender":"female","seeking":["male"],"pool":"eu"}`))
	f.Add([]byte(`{"display_name":"  ","gender":"nonbinary","seeking":["male","female","nonbinary"]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, e := parseProfile(in)
		if e != nil {
			typed(t, e, actors.CodeBadRequest)
			return
		}
		p := b.data()
		if e := actors.NormalizeProfile(p); e != nil {
			typed(t, e, actors.CodeBadRequest)
			return
		}
		if p.Pool == "" || len(p.Seeking) == 0 || len(p.Seeking) > 3 {
			t.Fatalf("normalized profile %+v from %q", p, in)
		}
	})
}

// FuzzSpinBody: POST /api/spin accepts only nothing or an object.
func FuzzSpinBody(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`[{}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if e := parseEmptyOrObject(in); e != nil {
			typed(t, e, actors.CodeBadRequest)
		}
	})
}
