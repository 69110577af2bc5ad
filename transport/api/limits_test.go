package api

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/spinmatch/spinmatch/actors/limit"
)

func TestInFlightBound(t *testing.T) {
	f := newInFlight()
	for i := 0; i < maxInFlightPer; i++ {
		if f.enter("a") != entered {
			t.Fatalf("request %d refused", i)
		}
	}
	if f.enter("a") != enterFull {
		t.Fatal("a request over the per-key bound entered")
	}
	if f.enter("b") != entered {
		t.Fatal("another key was refused")
	}
	f.leave("a")
	if f.enter("a") != entered {
		t.Fatal("a request after one left was refused")
	}
	for i := 0; i < maxInFlightPer; i++ {
		f.leave("a")
	}
	f.leave("b")
	if len(f.n) != 0 {
		t.Fatalf("table not emptied: %v", f.n)
	}
	for i := 0; i < maxInFlightKeys; i++ {
		f.enter(fmt.Sprint(i))
	}
	if f.enter("new") != enterTableFull || f.enter("7") != entered {
		t.Fatal("full table: a new key entered, or a held one was refused")
	}
}

func TestClass(t *testing.T) {
	cases := []struct {
		method, path string
		want         limit.Action
		limited      bool
	}{
		{"POST", "/api/spin", limit.Spin, true},
		{"DELETE", "/api/spin", limit.RestUser, true},
		{"POST", "/api/vote", limit.Vote, true},
		{"PUT", "/api/me", limit.Profile, true},
		{"GET", "/api/me", limit.RestUser, true},
		{"GET", "/api/matches", limit.RestUser, true},
		{"GET", "/api/queue/status", limit.RestPublic, true},
		{"GET", "/status/ws", limit.RestPublic, true},
		{"GET", "/api/nope", limit.RestPublic, true},
		{"POST", "/api/dev/token", limit.RestToken, true},
		{"POST", "/api/client-errors", limit.RestReport, true},
		{"GET", "/api/admin/queue-stats", limit.RestAdmin, true},
		{"POST", "/api/test/batch-setup", limit.RestAdmin, true},
		{"GET", "/admin/ws", limit.RestAdmin, true},
		{"GET", "/ws", 0, false},
		{"GET", "/healthz", 0, false},
		{"GET", "/readyz", 0, false},
		{"GET", "/metrics", 0, false},
		{"GET", "/", 0, false},
		{"GET", "/static/app.js", 0, false},
	}
	for _, c := range cases {
		a, ok := Class(httptest.NewRequest(c.method, c.path, nil))
		if ok != c.limited || (ok && a != c.want) {
			t.Errorf("%s %s: %v %v, want %v %v", c.method, c.path, a, ok, c.want, c.limited)
		}
	}
}
