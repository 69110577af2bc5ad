package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBadInput checks that every kind of bad input gets a clear, typed
// error, that the socket stays usable where the protocol says so, and that
// the server and other users are unaffected.
func TestBadInput(t *testing.T) {
	n := startNode(t, testConfig(t))
	base := "http://" + n.Addr()
	pool := func() string { return fmt.Sprintf("bad%d", userSeq.Add(1)) }

	t.Run("refused upgrades", func(t *testing.T) {
		exp := time.Now().Add(time.Hour).Unix()
		cases := []struct {
			name   string
			header http.Header
			query  string
			status int
			code   string
		}{
			{"no token", nil, "", 401, "unauthorized"},
			{"expired token", bearer(signed(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "x", "exp": time.Now().Add(-time.Hour).Unix()})), "", 401, "unauthorized"},
			{"no exp", bearer(signed(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "x"})), "", 401, "unauthorized"},
			{"wrong signature", bearer(signed(t, jwt.SigningMethodHS256, []byte("another-secret"), jwt.MapClaims{"sub": "x", "exp": exp})), "", 401, "unauthorized"},
			{"alg none", bearer(signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "x", "exp": exp})), "", 401, "unauthorized"},
			{"wrong audience", bearer(signed(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "x", "exp": exp, "aud": "anon"})), "", 401, "unauthorized"},
			{"garbage token in query", nil, "?access_token=not.a.jwt", 401, "unauthorized"},
			{"foreign origin", http.Header{"Origin": {"https://evil.example"}}, "?access_token=" + signed(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "x", "exp": exp}), 403, "forbidden"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, res, err := websocket.DefaultDialer.Dial(wsURL(base)+tc.query, tc.header)
				if err == nil {
					t.Fatal("upgrade succeeded")
				}
				if res == nil || res.StatusCode != tc.status {
					t.Fatalf("status %v, want %d", res, tc.status)
				}
				var body struct {
					Error struct{ Code, Message, HelpURL string } `json:"error"`
				}
				if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error.Code != tc.code || body.Error.Message == "" {
					t.Fatalf("body %+v (%v)", body, err)
				}
			})
		}
		// A same-origin browser socket with the token in the query is allowed.
		u := newUser(t, base, "Ori", "male", pool(), "female")
		h := http.Header{"Origin": {base}}
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(base)+"?access_token="+u.token, h)
		if err != nil {
			t.Fatalf("same-origin dial: %v", err)
		}
		_ = ws.Close()
	})

	t.Run("bad frames get typed errors and the socket stays usable", func(t *testing.T) {
		p := pool()
		a := newUser(t, base, "Ida", "female", p, "male")
		ca, _ := a.dial(t)
		frames := []struct {
			name, raw, code string
			ref             any
		}{
			{"not json", `hello`, "invalid_message", nil},
			{"json array", `[1,2]`, "invalid_message", nil},
			{"no type", `{"id":7}`, "invalid_message", float64(7)},
			{"unknown type", `{"type":"teleport","id":"t1"}`, "invalid_message", "t1"},
			{"vote without match_id", `{"type":"vote","id":8,"choice":"yes"}`, "invalid_message", float64(8)},
			{"vote with bad choice", `{"type":"vote","id":9,"match_id":"m","choice":"maybe"}`, "invalid_message", float64(9)},
			{"signal without data", `{"type":"signal","id":10,"match_id":"m"}`, "invalid_message", float64(10)},
			{"signal data over 16 KiB", `{"type":"signal","id":11,"match_id":"m","data":{"sdp":"` + strings.Repeat("x", 17<<10) + `"}}`, "message_too_large", float64(11)},
			{"vote on someone else's match", `{"type":"vote","id":12,"match_id":"not-yours","choice":"yes"}`, "match_not_found", float64(12)},
			{"cancel while idle", `{"type":"cancel","id":13}`, "not_queued", float64(13)},
		}
		for _, f := range frames {
			if err := ca.ws.WriteMessage(websocket.TextMessage, []byte(f.raw)); err != nil {
				t.Fatalf("%s: write: %v", f.name, err)
			}
			e := ca.expect("error")
			if e.str("code") != f.code || e.str("message") == "" || !strings.Contains(e.str("help_url"), f.code) || e["ref"] != f.ref {
				t.Errorf("%s: got %v, want code %s ref %v", f.name, e, f.code, f.ref)
			}
		}
		// Still usable: status and a real match work.
		ca.send("status", nil)
		if st := ca.expect("state"); st.str("state") != "idle" {
			t.Fatalf("state %v", st)
		}
		ca.spin()
		b := newUser(t, base, "Ivo", "male", p, "female")
		cb, _ := b.dial(t)
		cb.spin()
		ca.expect("match_found")
		mid := cb.expect("match_found").str("match_id")
		// Spin while matched: busy, and the match is untouched.
		cb.send("spin", nil)
		if e := cb.expect("error"); e.str("code") != "busy" {
			t.Fatalf("spin while matched: %v", e)
		}
		// A stranger's vote on this match is refused.
		c := newUser(t, base, "Ian", "male", p, "female")
		cc, _ := c.dial(t)
		cc.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		if e := cc.expect("error"); e.str("code") != "match_not_found" {
			t.Fatalf("stranger vote: %v", e)
		}
		cb.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		if v := cb.expect("vote_recorded"); v.str("choice") != "yes" {
			t.Fatalf("vote %v", v)
		}
	})

	t.Run("a frame over 64 KiB closes the socket with 1009", func(t *testing.T) {
		u := newUser(t, base, "Jo", "male", pool(), "female")
		c, _ := u.dial(t)
		big := `{"type":"status","pad":"` + strings.Repeat("x", 65<<10) + `"}`
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte(big))
		_, err := c.next(5 * time.Second)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("got %v, want close 1009", err)
		}
		// The user and the server are fine: a new socket works.
		c2, st := u.dial(t)
		if st.str("state") != "idle" {
			t.Fatalf("state %v", st)
		}
		c2.send("status", nil)
		c2.expect("state")
	})

	t.Run("hostile JSON", func(t *testing.T) {
		u := newUser(t, base, "Lou", "female", pool(), "male")
		deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			code                     string
		}{
			{"profile over 64 KiB", "PUT", "/api/me", `{"display_name":"` + strings.Repeat("x", 65<<10) + `"}`, 413, "message_too_large"},
			{"vote over 64 KiB", "POST", "/api/vote", `{"match_id":"` + strings.Repeat("m", 65<<10) + `","choice":"yes"}`, 413, "message_too_large"},
			{"profile nested 40 deep", "PUT", "/api/me", `{"display_name":"L","gender":"female","seeking":["male"],"x":` + deep + `}`, 400, "bad_request"},
			{"vote nested 40 deep", "POST", "/api/vote", `{"match_id":"m","choice":"yes","x":` + deep + `}`, 400, "invalid_message"},
			{"spin with an array", "POST", "/api/spin", `[1,2]`, 400, "bad_request"},
		} {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+u.token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.StatusCode != tc.status || body.Error.Code != tc.code || body.Error.Message == "" {
				t.Errorf("%s: %d %+v, want %d %s", tc.name, res.StatusCode, body, tc.status, tc.code)
			}
		}
		// A deeply nested frame gets a typed error and the socket stays.
		c, _ := u.dial(t)
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"signal","id":7,"match_id":"m","data":`+deep+`}`))
		if e := c.expect("error"); e.str("code") != "invalid_message" || e["ref"] != float64(7) {
			t.Fatalf("deep frame: %v", e)
		}
		c.send("status", nil)
		if st := c.expect("state"); st.str("state") != "idle" {
			t.Fatalf("after a deep frame: %v", st)
		}
	})

	t.Run("REST errors", func(t *testing.T) {
		u := newUser(t, base, "Kim", "female", pool(), "male")
		cases := []struct {
			name         string
			user         *user
			method, path string
			body         any
			status       int
			code         string
		}{
			{"no token", nil, "GET", "/api/match/status", nil, 401, "unauthorized"},
			{"unknown route", u, "GET", "/api/nothing", nil, 404, "not_found"},
			{"vote bad body", u, "POST", "/api/vote", map[string]any{"match_id": 3}, 400, "invalid_message"},
			{"vote unknown match", u, "POST", "/api/vote", map[string]any{"match_id": "nope", "choice": "yes"}, 404, "match_not_found"},
			{"cancel when idle", u, "DELETE", "/api/spin", nil, 409, "not_queued"},
			{"bad profile", u, "PUT", "/api/me", map[string]any{"display_name": "", "gender": "male", "seeking": []string{"female"}}, 400, "bad_request"},
			{"bad pool", u, "PUT", "/api/me", map[string]any{"display_name": "K", "gender": "male", "seeking": []string{"female"}, "pool": "Bad Pool!"}, 400, "bad_request"},
		}
		for _, tc := range cases {
			code, body := rest(t, base, tc.user, tc.method, tc.path, tc.body)
			if code != tc.status || body.obj("error").str("code") != tc.code || body.obj("error").str("help_url") == "" {
				t.Errorf("%s: %d %v, want %d %s", tc.name, code, body, tc.status, tc.code)
			}
		}
		// Too many calls: 429 rate_limited with Retry-After and RateLimit-* headers.
		limited := false
		for i := 0; i < 400 && !limited; i++ {
			req, _ := http.NewRequest("GET", base+"/api/match/status", nil)
			req.Header.Set("Authorization", "Bearer "+u.token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.StatusCode == http.StatusTooManyRequests {
				limited = true
				if body.Error.Code != "rate_limited" || res.Header.Get("Retry-After") == "" ||
					res.Header.Get("RateLimit-Remaining") != "0" || res.Header.Get("RateLimit-Reset") == "" {
					t.Fatalf("429: %+v %v", body, res.Header)
				}
			}
		}
		if !limited {
			t.Fatal("400 quick REST calls were never rate limited")
		}
		// Spinning without a profile: profile_incomplete.
		tok := signed(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "no-profile-user", "exp": time.Now().Add(time.Hour).Unix(), "aud": "authenticated"})
		code, body := rest(t, base, &user{token: tok}, "POST", "/api/spin", nil)
		if code != 409 || body.obj("error").str("code") != "profile_incomplete" {
			t.Errorf("spin without profile: %d %v", code, body)
		}
	})
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
